"""People: create, validate, search, reveal, client card, visits, archive, restriction."""

from __future__ import annotations

import re
from datetime import date
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy import text

from crm.audit import AuditEvent
from crm.db import get_session
from crm.db import utcnow
from crm.people.models import Person
from crm.privacy import practice
from tests.helpers import post_form


def _add(client, **data):
    fields = {"name": "Kalle Klient", "email": "", "phone": "", "address": "", "personnummer": ""}
    fields.update(data)
    return post_form(client, "/people/new", fields)


def _person(db, **where) -> Person:
    with db() as s:
        return s.scalar(select(Person).filter_by(**where))


def test_create_normalises_email_and_encrypts_personnummer(app, auth_client, db):
    response = _add(auth_client, email="  Kalle@Example.SE ", personnummer="811228-9874")
    assert response.status_code == 302
    person = _person(db, email="kalle@example.se")
    assert person.personnummer == "198112289874"
    with db() as s:
        raw = s.execute(text("SELECT personnummer, personnummer_index FROM person")).one()
    assert "9874" not in raw[0] and raw[0].startswith("v1:")
    assert len(raw[1]) == 64


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("811228-9875", "check digit"),
        ("811332-9874", "YYMMDD"),
        ("abc", "YYMMDD"),
        ("301228-9870", "future"),
    ],
)
def test_invalid_personnummer_is_refused_and_input_kept(app, auth_client, db, number, message):
    response = _add(auth_client, name="Berit", personnummer=number, phone="070-123 45 67")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="070-123 45 67"' in body  # nothing typed is lost
    with db() as s:
        assert s.scalar(select(Person)) is None


def test_samordningsnummer_and_plus_rule(app, auth_client, db):
    assert _add(auth_client, name="Sam", personnummer="701063-2391").status_code == 302
    assert _add(auth_client, name="Old", personnummer="811228+9874").status_code == 302
    assert _person(db, name="Sam").personnummer == "197010632391"
    assert _person(db, name="Old").personnummer == "188112289874"


def test_duplicate_email_and_personnummer_refused(app, auth_client):
    assert _add(auth_client, email="a@example.se", personnummer="811228-9874").status_code == 302
    assert _add(auth_client, name="B", email="A@example.se").status_code == 422
    assert _add(auth_client, name="C", personnummer="198112289874").status_code == 422


def test_search_by_name_email_phone_and_exact_personnummer(app, auth_client):
    _add(
        auth_client,
        name="Kalle Klient",
        email="kalle@example.se",
        phone="070-111 22 33",
        personnummer="811228-9874",
    )
    _add(auth_client, name="Berit Besök", email="berit@example.se", phone="08-555 66 77")
    for query, expected, absent in [
        ("kalle", "Kalle Klient", "Berit"),
        ("berit@", "Berit Besök", "Kalle"),
        ("0705556677", None, None),
        ("5556677", "Berit Besök", "Kalle"),
        ("19811228-9874", "Kalle Klient", "Berit"),
        ("8112289874", "Kalle Klient", "Berit"),
    ]:
        body = auth_client.get("/people/", query_string={"q": query}).get_data(as_text=True)
        if expected:
            assert expected in body, query
            assert absent not in body, query
    # a near-miss personnummer finds nobody (exact match only)
    body = auth_client.get("/people/", query_string={"q": "811228-9882"}).get_data(as_text=True)
    assert "Kalle Klient" not in body


def test_search_escapes_like_wildcards(app, auth_client):
    _add(auth_client, name="Anna")
    body = auth_client.get("/people/", query_string={"q": "%"}).get_data(as_text=True)
    assert "Anna" not in body


def test_pagination(app, auth_client):
    app.config["PEOPLE_PER_PAGE"] = 2
    for name in ("A", "B", "C"):
        _add(auth_client, name=name)
    page2 = auth_client.get("/people/?page=2").get_data(as_text=True)
    assert ">C</a>" in page2 and ">A</a>" not in page2
    assert auth_client.get("/people/?page=x").status_code == 200


def test_search_is_posted_so_no_personnummer_reaches_a_url(app, auth_client):
    """ASVS 14.2.1 / IMY: a personnummer (or a name) searched for is never part of a URL."""
    app.config["PEOPLE_PER_PAGE"] = 1
    _add(auth_client, name="Kalle Klient", personnummer="811228-9874")
    _add(auth_client, name="Kalle Annan")
    listing = auth_client.get("/people/").get_data(as_text=True)
    assert re.search(r'<form method="post" action="/people/" class="search"', listing)
    found = post_form(auth_client, "/people/", {"q": "19811228-9874"}, page="/people/")
    body = found.get_data(as_text=True)
    assert found.status_code == 200 and "Kalle Klient" in body and "Kalle Annan" not in body
    assert "9874" not in " ".join(re.findall(r'(?:href|action)="([^"]*)"', body))
    # the pages of a search are POSTs that carry the query in the body
    first = post_form(auth_client, "/people/", {"q": "kalle"}, page="/people/").get_data(
        as_text=True
    )
    assert 'name="page" value="2"' in first and "?q=" not in first
    second = post_form(auth_client, "/people/", {"q": "kalle", "page": "2"}, page="/people/")
    assert second.status_code == 200 and 'aria-current="page">2<' in second.get_data(as_text=True)
    # without a CSRF token the search is refused
    assert auth_client.post("/people/", data={"q": "kalle"}).status_code == 400


def test_personnummer_masked_until_revealed_and_reveal_is_audited(app, auth_client, db):
    _add(auth_client, personnummer="811228-9874")
    person = _person(db, name="Kalle Klient")
    page = auth_client.get(f"/people/{person.id}").get_data(as_text=True)
    assert "811228-****" in page and "9874" not in page
    listing = auth_client.get("/people/").get_data(as_text=True)
    assert "9874" not in listing
    revealed = post_form(
        auth_client,
        f"/people/{person.id}/reveal",
        {"field": "personnummer"},
        page=f"/people/{person.id}",
    )
    assert "811228-9874" in revealed.get_data(as_text=True)
    with db() as s:
        events = s.scalars(select(AuditEvent.action)).all()
        assert "person.reveal_personnummer" in events
        details = " ".join(s.scalars(select(AuditEvent.details)))
    assert "9874" not in details


def test_edit_form_never_echoes_the_personnummer(app, auth_client, db):
    _add(auth_client, personnummer="811228-9874")
    person = _person(db, name="Kalle Klient")
    page = auth_client.get(f"/people/{person.id}/edit").get_data(as_text=True)
    assert "9874" not in page
    # saving without touching the field keeps the number
    post_form(auth_client, f"/people/{person.id}/edit", {"name": "Kalle K", "personnummer": ""})
    assert _person(db, id=person.id).personnummer == "198112289874"
    post_form(
        auth_client, f"/people/{person.id}/edit", {"name": "Kalle K", "remove_personnummer": "y"}
    )
    assert _person(db, id=person.id).personnummer is None


def test_health_care_basis_only_for_licensed_care(app, auth_client, db):
    """Art. 9(2)(h) covers licensed care under patientdatalagen (profile A), not coaching."""
    _add(auth_client)
    pid = _person(db, name="Kalle Klient").id
    card = {"card-health_notes": "Migrän", "card-art9_basis": "health_care"}
    refused = post_form(auth_client, f"/people/{pid}/client", card, page=f"/people/{pid}")
    assert refused.status_code == 422 and "profil A" in refused.get_data(as_text=True)
    with db() as s:
        assert s.scalar(text("SELECT count(*) FROM client_card")) == 0, refused
    with app.app_context():
        session = get_session()
        practice.load(session, "Psykolog AB").profile = "A"
        session.commit()
    post_form(auth_client, f"/people/{pid}/client", card, page=f"/people/{pid}")
    with db() as s:
        assert s.scalar(text("SELECT art9_basis FROM client_card")) == "health_care"


def _consent(auth_client, pid: int) -> None:
    """The client's explicit consent to health notes (profile B, GDPR Art. 9(2)(a))."""
    post_form(
        auth_client,
        f"/people/{pid}/health-consent",
        {"hc-method": "signed_form", "action": "grant"},
        page=f"/people/{pid}",
    )


def test_health_notes_need_art9_basis_are_encrypted_and_reveal_is_audited(app, auth_client, db):
    _add(auth_client)
    pid = _person(db, name="Kalle Klient").id
    _consent(auth_client, pid)
    url = f"/people/{pid}/client"
    post_form(
        auth_client,
        url,
        {"card-health_notes": "Migrän", "card-art9_basis": ""},
        page=f"/people/{pid}",
    )
    with db() as s:
        assert (
            s.scalar(text("SELECT count(*) FROM client_card WHERE health_notes IS NOT NULL")) == 0
        )
    post_form(
        auth_client,
        url,
        {
            "card-health_notes": "Migrän",
            "card-art9_basis": "explicit_consent",
            "card-client_since": "2026-01-10",
        },
        page=f"/people/{pid}",
    )
    with db() as s:
        raw = s.scalar(text("SELECT health_notes FROM client_card"))
    assert raw.startswith("v1:") and "Migr" not in raw
    page = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    assert "Migrän" not in page
    shown = post_form(
        auth_client, f"/people/{pid}/reveal", {"field": "health_notes"}, page=f"/people/{pid}"
    ).get_data(as_text=True)
    assert "Migrän" in shown
    with db() as s:
        assert "person.reveal_health_notes" in s.scalars(select(AuditEvent.action)).all()


def test_visits_move_last_contact_and_hide_notes(app, auth_client, db):
    _add(auth_client)
    pid = _person(db, name="Kalle Klient").id
    _consent(auth_client, pid)
    day = date.today() - timedelta(days=3)
    post_form(
        auth_client,
        f"/people/{pid}/visits",
        {"visit-visited_on": day.isoformat(), "visit-note": "Samtal om sömn"},
        page=f"/people/{pid}",
    )
    future = (date.today() + timedelta(days=2)).isoformat()
    post_form(
        auth_client, f"/people/{pid}/visits", {"visit-visited_on": future}, page=f"/people/{pid}"
    )
    person = _person(db, id=pid)
    assert person.last_contact_at.date() == day
    with db() as s:
        assert s.scalar(text("SELECT count(*) FROM visit")) == 1
    assert "Samtal om sömn" not in auth_client.get(f"/people/{pid}").get_data(as_text=True)


def test_archive_hides_from_list_but_keeps_data(app, auth_client, db):
    _add(auth_client, name="Arkiv Person")
    pid = _person(db, name="Arkiv Person").id
    post_form(auth_client, f"/people/{pid}/archive", {"confirmed": "yes"})
    assert "Arkiv Person" not in auth_client.get("/people/").get_data(as_text=True)
    assert "Arkiv Person" in auth_client.get("/people/?archived=1").get_data(as_text=True)
    assert auth_client.get(f"/people/{pid}").status_code == 200


def test_restricted_person_cannot_be_edited(app, auth_client, db):
    _add(auth_client, name="Begränsad")
    with db() as s:
        person = s.scalar(select(Person))

        person.restricted_at = utcnow()
        s.commit()
        pid = person.id
    page = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    assert "GDPR art. 18" in page
    post_form(auth_client, f"/people/{pid}/edit", {"name": "Ändrad"})
    assert _person(db, id=pid).name == "Begränsad"


def test_unknown_person_is_404(app, auth_client):
    assert auth_client.get("/people/999999").status_code == 404


def test_person_page_shows_audit_about_them(app, auth_client, db):
    _add(auth_client, name="Spårad")
    pid = _person(db, name="Spårad").id
    page = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    assert "Person tillagd" in page  # the action in words (crm/main/events.py)
    # who acted is shown by name, as on the dashboard and the audit page, not as "#<id>"
    row = page[page.rindex("<tr", 0, page.index("Person tillagd")) : page.index("Person tillagd")]
    assert "Test User" in row and "#1" not in row
