"""Health data with a provable basis (issue 14 part 6, GDPR Art. 9).

Profile B: health notes, visit notes need the client's explicit consent, recorded like a
newsletter consent (text and version, time, how, by whom); a withdrawal stops new notes and
offers to erase the existing ones. The journal exists only for profile A controllers.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date

import pytest
from sqlalchemy import select

from crm import controllers
from crm.audit import Actor
from crm.audit import AuditEvent
from crm.people import care as people_care
from crm.people import health
from crm.people import services as people
from crm.people.models import HealthConsent
from crm.people.models import Person
from crm.people.models import Visit
from tests.helpers import post_form

NOTE = "Ont i ryggen sedan i våras"


def _client(app, profile: str = "B") -> int:
    with app.app_context():
        from crm.db import get_session

        s = get_session()
        controllers.first(s).profile = profile
        person = people.create_person(
            s, people.PersonData(name="Hanna Hälsa", email="hanna@example.se"), Actor.cli()
        )
        s.commit()
        return person.id


def _card(auth_client, pid: int, notes: str = NOTE, basis: str = "explicit_consent"):
    return post_form(
        auth_client,
        f"/people/{pid}/client",
        {"card-health_notes": notes, "card-art9_basis": basis, "card-client_since": "2026-01-10"},
        page=f"/people/{pid}",
    )


def _consent(auth_client, pid: int, action: str = "grant", method: str = "signed_form"):
    return post_form(
        auth_client,
        f"/people/{pid}/health-consent",
        {"hc-method": method, "action": action},
        page=f"/people/{pid}",
    )


def _notes(db, pid: int) -> tuple[str | None, list[str | None]]:
    with db() as s:
        person = s.get(Person, pid)
        card = person.client_card
        return (card.health_notes if card else None), [v.note for v in person.visits]


def test_profile_b_health_notes_need_a_recorded_explicit_consent(app, db, auth_client, owner):
    pid = _client(app)
    page = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    assert 'id="no-health-basis"' in page and 'name="card-health_notes"' not in page
    assert 'name="visit-note"' not in page and 'id="health-consent-text"' in page
    _card(auth_client, pid)
    post_form(
        auth_client,
        f"/people/{pid}/visits",
        {"visit-visited_on": "2026-01-10", "visit-note": NOTE},
        page=f"/people/{pid}",
    )
    assert _notes(db, pid) == (None, [])
    _consent(auth_client, pid, method="verbal")
    with db() as s:
        (row,) = s.scalars(select(HealthConsent)).all()
        person = s.get(Person, pid)
        expected = health.consent_text(s, person)
        assert (row.action, row.method, row.text_version) == ("grant", "verbal", health.CURRENT)
        assert row.text == expected and "hälsa" in row.text
        assert row.text_sha256 == hashlib.sha256(expected.encode()).hexdigest()
        assert row.recorded_by_id == owner.id and row.occurred_at is not None
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "person.health_consent"))
        assert event.details_dict == {"action": "grant", "method": "verbal", "version": 1}
    page = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    assert 'name="card-health_notes"' in page and "muntligt" in page
    _card(auth_client, pid)
    post_form(
        auth_client,
        f"/people/{pid}/visits",
        {"visit-visited_on": "2026-01-10", "visit-note": "Första besöket"},
        page=f"/people/{pid}",
    )
    assert _notes(db, pid) == (NOTE, ["Första besöket"])
    # the proof goes out with the export, words included
    with db() as s:
        from crm.privacy import export

        people.record_identity_check(s, s.get(Person, pid), "id_document", Actor.cli())
        data = json.loads(
            zipfile.ZipFile(io.BytesIO(export.build(s, s.get(Person, pid)))).read("data.json")
        )
        s.commit()
    (proof,) = data["health_consents"]
    assert proof["action"] == "grant" and proof["text"] == expected


def test_withdrawal_stops_new_notes_and_offers_to_erase_the_old(app, db, auth_client):
    pid = _client(app)
    _consent(auth_client, pid)
    _card(auth_client, pid)
    post_form(
        auth_client,
        f"/people/{pid}/visits",
        {"visit-visited_on": "2026-01-10", "visit-note": "Första besöket"},
        page=f"/people/{pid}",
    )
    response = _consent(auth_client, pid, action="withdraw", method="email")
    assert response.headers["Location"].endswith(f"/people/{pid}/health-notes/erase")
    offer = auth_client.get(f"/people/{pid}/health-notes/erase").get_data(as_text=True)
    assert 'id="confirm"' in offer and "tagit tillbaka samtycket" in offer
    # no new notes; the notes written before stay until erased, and the dates can still change
    post_form(
        auth_client,
        f"/people/{pid}/visits",
        {"visit-visited_on": "2026-01-17", "visit-note": "Andra besöket"},
        page=f"/people/{pid}",
    )
    _card(auth_client, pid, notes="Ny anteckning")
    assert _notes(db, pid) == (NOTE, ["Första besöket"])
    with db() as s:
        with pytest.raises(people.PersonError):
            people_care.add_visit(s, s.get(Person, pid), date(2026, 1, 17), "Tredje", Actor.cli())
        s.rollback()
    page = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    assert 'id="erase-health-notes"' in page and "Återkallat" in page
    post_form(auth_client, f"/people/{pid}/health-notes/erase", {"confirmed": "yes"})
    assert _notes(db, pid) == (None, [None])
    with db() as s:
        assert s.scalar(select(Visit.visited_on)) == date(2026, 1, 10)  # the visit stays
        actions = [r.action for r in s.scalars(select(HealthConsent).order_by(HealthConsent.id))]
        assert actions == ["grant", "withdraw"]  # the proof stays, append-only
    assert 'id="erase-health-notes"' not in auth_client.get(f"/people/{pid}").get_data(as_text=True)


def test_the_journal_exists_only_for_profile_a(app, db, auth_client):
    pid = _client(app, "B")
    page = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    assert 'id="journal"' not in page
    post_form(auth_client, f"/people/{pid}/journal", {"text": "Samtal"}, page=f"/people/{pid}")
    with db() as s:
        assert s.get(Person, pid).journal == []
        with pytest.raises(people.PersonError):
            people_care.add_journal_entry(s, s.get(Person, pid), "Samtal", Actor.cli())
        s.rollback()
        controllers.first(s).profile = "A"
        s.commit()
    page = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    assert 'id="journal-text"' in page and 'id="health-consent"' not in page
    post_form(auth_client, f"/people/{pid}/journal", {"text": "Samtal"}, page=f"/people/{pid}")
    # health care (Art. 9(2)(h)) is profile A's basis: visit notes need no consent there
    post_form(
        auth_client,
        f"/people/{pid}/visits",
        {"visit-visited_on": "2026-01-10", "visit-note": "Besök"},
        page=f"/people/{pid}",
    )
    with db() as s:
        person = s.get(Person, pid)
        assert [j.text for j in person.journal] == ["Samtal"]
        assert [v.note for v in person.visits] == ["Besök"]
    # back to profile B: the entries stay (under their hold), no new ones are written
    with db() as s:
        controllers.first(s).profile = "B"
        s.commit()
    page = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    assert 'id="journal"' in page and 'id="journal-text"' not in page


def test_crm_health_consent_grants_withdraws_and_erases_the_notes(app, db):
    pid = _client(app)
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["health-consent", "hanna@example.se", "grant", "--method", "verbal"]
    )
    assert result.exit_code == 0, result.output
    with db() as s:
        people_care.update_client_card(
            s,
            s.get(Person, pid),
            people_care.ClientCardData(None, None, NOTE, "explicit_consent"),
            Actor.cli(),
        )
        s.commit()
    result = runner.invoke(
        args=[
            "health-consent",
            "hanna@example.se",
            "withdraw",
            "--method",
            "email",
            "--erase-notes",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Erased 1" in result.output
    assert _notes(db, pid) == (None, [])
    again = runner.invoke(
        args=["health-consent", "hanna@example.se", "withdraw", "--method", "email"]
    )
    assert again.exit_code != 0 and "no consent to withdraw" in again.output
