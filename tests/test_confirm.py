"""Irreversible actions ask first (issue 16, defect 4); a restricted person's page (defect 8).

Class test over crm/confirm.py: every view behind ``confirm.irreversible`` is found in the URL
map and must be one of the cases below (a new one fails here until it gets a case). For each:
the GET shows what happens and what is kept, an old one-click POST only shows that page
again, and only the page's own confirmed POST acts. No page posts straight to one of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from werkzeug.routing import RequestRedirect

from crm import confirm
from crm.audit import Actor
from crm.db import utcnow
from crm.people import care as people_care
from crm.people.models import Person
from crm.privacy.models import DataRequest
from tests.helpers import csrf_token
from tests.helpers import post_form

EMAIL = "ebba@example.se"


def _person(app, *, subscribed: bool = True) -> int:
    with app.app_context():
        from crm.db import get_session
        from crm.newsletter import mailing_lists
        from crm.newsletter import subscribing
        from crm.people import services as people

        s = get_session()
        person = people.create_person(
            s, people.PersonData(name="Ebba Exempel", email=EMAIL), Actor.cli()
        )
        if subscribed:
            subscribing.add_manual(
                s,
                email=EMAIL,
                name="Ebba Exempel",
                list_id=mailing_lists.default_list(s).id,
                method="verbal",
                note="",
                actor=Actor.cli(),
            )
        s.commit()
        return person.id


def _erasure_request(app) -> tuple[str, Callable]:
    pid = _person(app)
    with app.app_context():
        from crm.db import get_session
        from crm.privacy import data_requests as requests

        s = get_session()
        rid = requests.open_request(
            s, s.get(Person, pid), "erasure", "email", utcnow(), Actor.cli()
        ).id
        s.commit()
    return f"/privacy/requests/{rid}/erase", lambda s: s.get(Person, pid) is None


def _restrict(app) -> tuple[str, Callable]:
    pid = _person(app)
    return f"/privacy/people/{pid}/restrict", lambda s: s.get(Person, pid).restricted_at


def _marketing_objection(app) -> tuple[str, Callable]:
    pid = _person(app)
    return (
        f"/privacy/people/{pid}/object",
        lambda s: s.get(Person, pid).marketing_objection_at,
    )


def _objection(app) -> tuple[str, Callable]:
    pid = _person(app)

    def stopped(s):
        row = s.scalar(select(DataRequest).where(DataRequest.person_id == pid))
        return row is not None and row.stopped_at is not None

    return f"/privacy/people/{pid}/objection", stopped


def _health_notes(app) -> tuple[str, Callable]:
    pid = _person(app)
    with app.app_context():
        from crm.db import get_session
        from crm.people import health

        s = get_session()
        person = s.get(Person, pid)
        health.grant(s, person, "signed_form", Actor.cli())
        people_care.update_client_card(
            s,
            person,
            people_care.ClientCardData(None, None, "Migrän", "explicit_consent"),
            Actor.cli(),
        )
        health.withdraw(s, person, "email", Actor.cli())
        s.commit()
    return (
        f"/people/{pid}/health-notes/erase",
        lambda s: s.get(Person, pid).client_card.health_notes is None,
    )


def _archive(app) -> tuple[str, Callable]:
    pid = _person(app)
    return f"/people/{pid}/archive", lambda s: s.get(Person, pid).archived_at


@dataclass
class Case:
    """An irreversible action: makes its object, returns its URL and "was it done?"."""

    setup: Callable[..., tuple[str, Callable]]
    #: words the page must say (Swedish UI): what it keeps
    kept: str
    #: what the owner fills in on the page besides confirming
    data: dict[str, str] | None = None


CASES = {
    "privacy.erase": Case(_erasure_request, "aldrig får utskick igen"),
    "privacy.restrict": Case(_restrict, "ligger kvar"),
    "privacy.object_to_marketing": Case(_marketing_objection, "ligger kvar"),
    "privacy.register_objection": Case(
        _objection,
        "Uppgifterna ligger kvar",
        {"processing": "service_development", "channel": "email"},
    ),
    "people.archive": Case(_archive, "Inget raderas nu"),
    "people.erase_health_notes": Case(_health_notes, "beviset på samtycket"),
}


def _irreversible(app) -> set[str]:
    return {ep for ep, view in app.view_functions.items() if confirm.is_irreversible(view)}


def test_every_irreversible_action_is_known_here(app):
    assert _irreversible(app) == set(CASES)


@pytest.mark.parametrize("endpoint", list(CASES))
def test_each_irreversible_action_asks_first_and_says_what_is_kept(app, db, auth_client, endpoint):
    case = CASES[endpoint]
    url, done = case.setup(app)
    page = auth_client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="confirm"' in html
    assert 'name="confirmed" value="yes"' in html
    assert "Det här händer" in html and case.kept in html
    assert 'class="primary danger"' in html
    with db() as s:
        assert not done(s)
    # an old one-click form (CSRF token, no confirmation) gets the page, not the action
    again = auth_client.post(url, data={"csrf_token": csrf_token(html), **(case.data or {})})
    assert again.status_code == 200 and 'id="confirm"' in again.get_data(as_text=True)
    with db() as s:
        assert not done(s)
    # the page's own button, without a CSRF token: refused
    assert auth_client.post(url, data={"confirmed": "yes", **(case.data or {})}).status_code == 400
    response = post_form(auth_client, url, {"confirmed": "yes", **(case.data or {})})
    assert response.status_code == 302
    with db() as s:
        assert done(s)


def _post_targets(app, html: str) -> set[str]:
    """The endpoints the page's POST forms send to."""
    adapter = app.url_map.bind("localhost")
    found = set()
    for form in re.findall(r"<form\b[^>]*>", html):
        if 'method="post"' not in form:
            continue
        action = re.search(r'action="([^"]*)"', form)
        if action is None:
            continue
        try:
            endpoint, _args = adapter.match(action.group(1).split("?")[0], method="POST")
        except RequestRedirect:
            continue
        found.add(endpoint)
    return found


def test_no_page_posts_straight_to_an_irreversible_action(app, db, auth_client):
    """The buttons are links to the confirmation page: the page shown is the one step."""
    pid = _person(app)
    with app.app_context():
        from crm.db import get_session
        from crm.privacy import data_requests as requests

        s = get_session()
        rid = requests.open_request(
            s, s.get(Person, pid), "erasure", "email", utcnow(), Actor.cli()
        ).id
        s.commit()
    irreversible = _irreversible(app)
    for url in (f"/people/{pid}", f"/privacy/requests/{rid}"):
        html = auth_client.get(url).get_data(as_text=True)
        assert _post_targets(app, html) & irreversible == set(), url
    html = auth_client.get(f"/privacy/requests/{rid}").get_data(as_text=True)
    assert f'href="/privacy/requests/{rid}/erase"' in html


def test_erasure_of_an_unchecked_client_shows_why_and_has_no_button(app, db, auth_client):
    """Defect 4: "Radera nu" erased a person whose identity was "inte kontrollerad än"."""
    from datetime import date

    pid = _person(app)
    with app.app_context():
        from crm.db import get_session
        from crm.privacy import data_requests as requests

        s = get_session()
        person = s.get(Person, pid)
        people_care.add_visit(s, person, date(2026, 1, 5), None, Actor.cli())
        rid = requests.open_request(s, person, "erasure", "email", utcnow(), Actor.cli()).id
        s.commit()
    html = auth_client.get(f"/privacy/requests/{rid}/erase").get_data(as_text=True)
    assert 'id="confirm-blocked"' in html and "inte kontrollerad än" in html
    assert 'name="confirmed"' not in html and f"/privacy/requests/{rid}#identity" in html
    post_form(
        auth_client,
        f"/privacy/requests/{rid}/erase",
        {"confirmed": "yes"},
        page=f"/privacy/requests/{rid}",
    )
    with db() as s:
        assert s.get(Person, pid) is not None
        assert s.get(DataRequest, rid).status == "open"


# --- defect 8: a restricted person's page shows the restriction and hides what it blocks -----


def test_a_restricted_person_shows_the_restriction_and_no_blocked_forms(app, db, auth_client):
    pid = _person(app)
    before = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    blocked = (
        f'href="/people/{pid}/edit"',
        'id="client-card-form"',
        'id="visit-form"',
        f'href="/testimonials/new?person={pid}"',
    )
    for marker in blocked:
        assert marker in before, marker
    post_form(auth_client, f"/privacy/people/{pid}/restrict", {"confirmed": "yes"})
    page = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    assert 'id="restricted"' in page and "Behandlingen är begränsad sedan" in page
    for marker in blocked:
        assert marker not in page, marker
    # what the restriction leaves open stays: lifting it, the identity check, legal holds
    assert f'action="/privacy/people/{pid}/lift-restriction"' in page
    assert f'action="/people/{pid}/identity"' in page
    assert f'action="/privacy/people/{pid}/holds"' in page
    # the services still refuse a form submitted anyway (an old tab)
    post_form(
        auth_client,
        f"/people/{pid}/client",
        {"card-client_since": "2026-01-05"},
        page=f"/people/{pid}",
    )
    post_form(
        auth_client,
        f"/people/{pid}/visits",
        {"visit-visited_on": "2026-01-05"},
        page=f"/people/{pid}",
    )
    with db() as s:
        person = s.get(Person, pid)
        assert person.client_card is None and person.visits == []
    # lifted: the forms are back
    post_form(
        auth_client,
        f"/privacy/people/{pid}/lift-restriction",
        {"note": "Utrett"},
        page=f"/people/{pid}",
    )
    page = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    for marker in blocked:
        assert marker in page, marker
    with db() as s:
        assert s.scalar(select(Person.restricted_at).where(Person.id == pid)) is None
