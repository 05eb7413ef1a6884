"""The embeddable sign-up form carries the same Art. 13 text as the hosted one (issue 15 part 1).

Both render templates/newsletter/_art13.html from the newsletter activity of the activity list
(crm/privacy/activities.py), so a change to the activity changes both, word for word.
"""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from crm.privacy.models import ProcessingActivity
from tests.conftest import post_form
from tests.test_activities import FREE


def _art13(page: str) -> str:
    """The Art. 13 block's words, tags and the link's address left out."""
    block = re.search(r'<div class="muted" id="art13">(.*?)</div>', page, re.S)
    assert block, "no Art. 13 text"
    words = re.sub(r"<[^>]+>", " ", block.group(1))
    return " ".join(html.unescape(words).split())


def _snippet(auth_client) -> str:
    page = auth_client.get("/newsletter/settings").get_data(as_text=True)
    found = re.search(r'<pre class="snippet" id="embed-snippet">(.*?)</pre>', page, re.S)
    assert found
    return html.unescape(found.group(1))


def _both(client, auth_client) -> tuple[str, str, str]:
    snippet = _snippet(auth_client)
    return _art13(client.get("/subscribe").get_data(as_text=True)), _art13(snippet), snippet


def test_the_snippet_and_the_hosted_form_say_the_same_and_change_together(
    app, auth_client, client, db
):
    hosted, embedded, snippet = _both(client, auth_client)
    assert hosted == embedded
    # who, purpose, basis, retention, rights, and the full policy a click away
    assert "är personuppgiftsansvarig för dina uppgifter" in hosted
    for words in ("Ändamål:", "Rättslig grund:", "Hur länge:", "invända mot all direkt"):
        assert words in hosted, words
    assert "Integritetsskyddsmyndigheten (IMY)" in hosted
    # the link works from the practice's own website: an absolute address
    assert 'href="http://localhost/integritetspolicy"' in snippet
    assert auth_client.get("/privacy/activities/").status_code == 200  # the list, stored
    with db() as s:
        nid = s.scalar(select(ProcessingActivity.id).where(ProcessingActivity.key == "newsletter"))
    changed = {
        **FREE,
        "name": "Nyhetsbrev och kurserbjudanden",
        "purpose": "Att skicka nyhetsbrev och erbjudanden om kurser.",
        "legal_basis": "consent",
        "basis_detail": "",
        "recipients": "Paloma",
        "retention": "Tills du avslutar prenumerationen, sedan 24 månader",
    }
    assert post_form(auth_client, f"/privacy/activities/{nid}/edit", changed).status_code == 302
    hosted_after, embedded_after, _snippet_after = _both(client, auth_client)
    assert hosted_after == embedded_after != hosted
    for words in (
        "Att skicka nyhetsbrev och erbjudanden om kurser.",
        "Paloma",
        "Tills du avslutar prenumerationen, sedan 24 månader",
    ):
        assert words in embedded_after, words


def test_the_snippet_is_in_the_public_language_whatever_the_owner_reads(app, auth_client):
    """The owner may read the settings in English; the website's visitors read Swedish."""
    swedish = _snippet(auth_client)
    assert "E-post" in swedish and "Prenumerera" in swedish
    post_form(auth_client, "/lang", {"lang": "en", "next": "/newsletter/settings"}, page="/")
    page = auth_client.get("/newsletter/settings").get_data(as_text=True)
    assert "Sign-up form for your website" in page  # the owner's page is in English
    assert _snippet(auth_client) == swedish
