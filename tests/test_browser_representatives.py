"""Issue 14 part 3 in a real browser: a representative files an access request for a client.

The owner links the representative to the client on the client's page (role, dates, legal
basis, document), then registers the request from the request page choosing the client and
the representative's mandate; the request page shows whose mandate is used. Reuses the
Chromium fixtures of tests/test_browser.py.
"""

from __future__ import annotations

from datetime import date
from datetime import timedelta

from crm.audit import Actor
from crm.db import get_session
from crm.people import services as people
from crm.privacy.models import DataRequest
from tests.test_browser import ARTIFACTS
from tests.test_browser import live_server  # noqa: F401 - a fixture
from tests.test_browser import log_in
from tests.test_browser import page  # noqa: F401 - a fixture
from tests.test_browser import pytestmark  # noqa: F401 - skipped without Chromium


def test_finding_14_3_representative_files_an_access_request_for_a_client(
    app,
    live_server,  # noqa: F811
    page,  # noqa: F811
    owner,
):

    with app.app_context():
        s = get_session()
        klara = people.create_person(
            s, people.PersonData(name="Klara Klient", email="klara@example.se"), Actor.cli()
        )
        gun = people.create_person(
            s, people.PersonData(name="Gun Guardian", email="gun@example.se"), Actor.cli()
        )
        s.commit()
        klara_id, gun_id = klara.id, gun.id

    log_in(page, live_server, app, owner)
    page.goto(f"{live_server}/people/{klara_id}")
    # the person is found by searching (issue 16): the search keeps the page's form
    page.fill("#rep-person-q", "Gun")
    page.click("#related button[name=find]")
    page.select_option("#rep-person", str(gun_id))
    page.select_option("#rep-kind", "guardian")
    page.fill("#rep-from", (date.today() - timedelta(days=30)).isoformat())
    page.fill("#rep-basis", "Föräldrabalken 6 kap. 11 §")
    page.fill("#rep-doc", "Personbevis i pärmen")
    page.click("#related button[type=submit]:has-text('Koppla')")
    page.wait_for_url(f"**/people/{klara_id}*")
    assert page.locator("#related table").get_by_text("Gun Guardian").count() == 1

    page.goto(f"{live_server}/privacy/requests")
    page.fill("#person_id-q", "Klara")
    page.click("main form button[name=find]")
    page.select_option("#person_id", str(klara_id))
    mandate = page.locator("#representation_id option", has_text="Gun Guardian")
    page.select_option("#representation_id", mandate.get_attribute("value"))
    page.select_option("#kind", "access")
    page.select_option("#channel", "letter")
    page.fill("#received_on", date.today().isoformat())
    page.screenshot(path=ARTIFACTS / "14-representative-request.png", full_page=True)
    page.click("main form button[type=submit]:has-text('Registrera')")
    page.wait_for_url("**/privacy/requests/*")
    shown = page.locator("#mandate").text_content()
    assert "Gun Guardian" in shown and "gäller i dag" in shown
    with app.app_context():
        row = get_session().query(DataRequest).one()
        assert (row.person_id, row.requester_id, row.kind) == (klara_id, gun_id, "access")
