"""Processing activities as data, per controller (issue 15 part 1).

One list per controller feeds the policy, the Art. 30 record (page and CSV), the export summary
and the sign-up's Art. 13 text: these tests change the list and look at all of them.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy import text

from crm import controllers
from crm.audit import Actor
from crm.audit import AuditEvent
from crm.cli import alembic_config
from crm.db import make_engine
from crm.people import services as people
from crm.people.models import Person
from crm.privacy import activities
from crm.privacy import export
from crm.privacy import practice
from crm.privacy.models import ProcessingActivity
from tests.conftest import post_form
from tests.test_migrations import empty_url  # noqa: F401 - the fixture
from tests.test_migrations import insert_old_controller

ACTOR = Actor.system()


@pytest.fixture(autouse=True)
def _published(monkeypatch):
    """These tests read the policy's activities, not whether it is published yet.

    An unfilled controller's policy says "not published" (issue 16, first-run checklist,
    tests/test_checklist.py); here every controller counts as filled in.
    """
    monkeypatch.setattr(controllers.Controller, "details_complete", property(lambda self: True))


def _keys(db, controller_id: int | None = None) -> list[str]:
    with db() as s:
        practice.load(s, "Praktiken")
        controller = controllers.get(s, controller_id)
        keys = [a.key for a in activities.effective(s, controller)]
        s.commit()
        return keys


def _everything(app, auth_client, client, db) -> dict[str, str]:
    """The four readers of the list, as text: policy, record page, record CSV, export, sign-up."""
    with db() as s:
        person = s.scalar(select(Person).where(Person.email == "karin@example.se"))
        if person is None:
            person = people.create_person(
                s, people.PersonData(name="Karin Klient", email="karin@example.se"), ACTOR
            )
            s.commit()
        archive = zipfile.ZipFile(io.BytesIO(export.build(s, person)))
        summary = archive.read("sammanfattning.html").decode()
    return {
        "policy": client.get("/integritetspolicy").get_data(as_text=True),
        "record": auth_client.get("/privacy/record").get_data(as_text=True),
        "csv": auth_client.get("/privacy/record.csv").get_data(as_text=True),
        "export": summary,
        "signup": client.get("/subscribe").get_data(as_text=True),
    }


def test_the_list_is_prefilled_from_what_the_practice_uses(app, db):
    assert _keys(db) == [
        "clients",
        "representatives",
        "newsletter",
        "testimonials",
        "bookkeeping",
        "requests",
    ]


def test_a_feature_switched_off_does_not_appear(app, auth_client, client, db):
    data = {
        "name": "Kraftkällan",
        "profile": "B",
        "profession": "",
        "features_shown": "1",
        "feature-journal": "",
        "feature-newsletter": "",
        "feature-testimonials": "",
    }
    assert post_form(auth_client, "/privacy/settings", data).status_code == 302
    assert _keys(db) == ["clients", "representatives", "bookkeeping", "requests"]
    policy = client.get("/integritetspolicy").get_data(as_text=True)
    assert "Nyhetsbrev" not in policy and "Omdömen" not in policy
    assert "journalanteckningar" not in policy.lower()
    # switched on again: the pre-filled activities come back, the journal under profile A
    data.update(
        {
            "profile": "A",
            "profession": "psykoterapeut",
            "feature-journal": "1",
            "feature-newsletter": "1",
        }
    )
    assert post_form(auth_client, "/privacy/settings", data).status_code == 302
    assert "newsletter" in _keys(db) and "testimonials" not in _keys(db)
    policy = client.get("/integritetspolicy").get_data(as_text=True)
    assert "Nyhetsbrev" in policy and "efter den senaste journalanteckningen" in policy


FREE = {
    "name": "Kundtjänst via sociala medier",
    "purpose": "Att svara på frågor som ställs via Instagram och Facebook.",
    "legal_basis": "legitimate_interest",
    "basis_detail": "att kunna svara den som frågar",
    "health_basis": "",
    "subjects": "Den som skriver till oss",
    "data_categories": "Namn, användarnamn, meddelandet",
    "recipients": "Meta Platforms\nLoopia",
    "transfers": "",
    "retention": "12 månader efter senaste kontakten",
    "source": "",
}


def test_a_free_entry_appears_in_the_policy_the_record_and_the_export(app, auth_client, client, db):
    response = post_form(auth_client, "/privacy/activities/new", FREE)
    assert response.status_code == 302
    seen = _everything(app, auth_client, client, db)
    for reader in ("policy", "record", "csv", "export"):
        assert "Kundtjänst via sociala medier" in seen[reader], reader
        assert "Art. 6.1 f berättigat intresse (att kunna svara den som frågar)" in seen[reader]
        assert "12 månader efter senaste kontakten" in seen[reader], reader
        assert "Meta Platforms" in seen[reader], reader
    with db() as s:
        row = s.scalar(select(ProcessingActivity).where(ProcessingActivity.key == ""))
        actions = s.scalars(select(AuditEvent.action)).all()
    assert row.recipients == "Meta Platforms\nLoopia" and "privacy.activity_add" in actions
    # removed: gone from every reader
    response = post_form(
        auth_client, f"/privacy/activities/{row.id}/remove", {}, page="/privacy/activities/"
    )
    assert response.status_code == 302
    seen = _everything(app, auth_client, client, db)
    assert not any("Kundtjänst via sociala medier" in page for page in seen.values())


def test_change_an_activity_and_all_four_change(app, auth_client, client, db):
    """Policy, record (page and CSV), export summary and sign-up's Art. 13 text are one list.

    A change to the newsletter activity shows in each of them.
    """
    before = _everything(app, auth_client, client, db)
    for reader, page in before.items():
        assert "Nyhetsbrev" in page or "nyhetsbrev" in page, reader
    with db() as s:
        newsletter = s.scalar(
            select(ProcessingActivity).where(ProcessingActivity.key == "newsletter")
        )
        nid = newsletter.id
    edit_page = auth_client.get(f"/privacy/activities/{nid}/edit").get_data(as_text=True)
    assert (
        "Utskick av nyhetsbrevet till den som bett om det" in edit_page or "nyhetsbrev" in edit_page
    )
    changed = {
        **FREE,
        "name": "Nyhetsbrev och kurserbjudanden",
        "purpose": "Att skicka nyhetsbrev och erbjudanden om kurser.",
        "legal_basis": "consent",
        "basis_detail": "",
        "recipients": "Paloma",
        "retention": "Tills du avslutar prenumerationen, sedan 24 månader",
    }
    response = post_form(auth_client, f"/privacy/activities/{nid}/edit", changed)
    assert response.status_code == 302
    after = _everything(app, auth_client, client, db)
    for reader, page in after.items():
        assert "Att skicka nyhetsbrev och erbjudanden om kurser." in page, reader
        assert "Tills du avslutar prenumerationen, sedan 24 månader" in page, reader
        assert "Paloma" in page, reader
        assert "Art. 6.1 a samtycke" in page, reader
    with db() as s:
        assert s.get(ProcessingActivity, nid).follows_settings is False


def test_a_refused_entry_keeps_what_was_typed(app, auth_client, db):
    bad = {**FREE, "basis_detail": ""}  # legitimate interest must say which (Art. 13(1)(d))
    response = post_form(auth_client, "/privacy/activities/new", bad)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "berättigat intresse" in body and "Att svara på frågor som ställs via Instagram" in body
    bad = {**FREE, "health_basis": "health_care"}  # profile B: not licensed care
    response = post_form(auth_client, "/privacy/activities/new", bad)
    assert response.status_code == 422 and "patientdatalagen" in response.get_data(as_text=True)
    assert (
        post_form(auth_client, "/privacy/activities/new", {**FREE, "name": ""}).status_code == 422
    )
    assert auth_client.get("/privacy/activities/999/edit").status_code == 404
    with db() as s:
        assert s.scalar(select(ProcessingActivity).where(ProcessingActivity.key == "")) is None


def test_staff_cannot_edit_the_activities(app, client, make_user):
    from tests.conftest import login

    login(client, app, make_user("behandlare@example.se", role="practitioner"))
    assert client.get("/privacy/activities/").status_code == 403
    assert client.get("/privacy/activities/new").status_code == 403


def test_each_controller_has_its_own_list(app, auth_client, client, db):
    with db() as s:
        practice.load(s, "Kbt-verkstan")
        romme = practice.add_controller(s, "Kbt i Romme", ACTOR).id
        s.commit()
    response = post_form(
        auth_client,
        f"/privacy/activities/new?controller={romme}",
        FREE,
        page="/privacy/activities/",
    )
    assert response.status_code == 302
    assert "newsletter" not in _keys(db, romme)  # the first controller runs the newsletter
    assert "" in _keys(db, romme) and "" not in _keys(db)
    romme_policy = client.get(f"/integritetspolicy?controller={romme}").get_data(as_text=True)
    first_policy = client.get("/integritetspolicy?controller=1").get_data(as_text=True)
    assert "Kundtjänst via sociala medier" in romme_policy
    assert "Kundtjänst via sociala medier" not in first_policy


def test_replace_for_controller_is_idempotent_and_validates_first(app, db):
    """The practice-file API: the list becomes exactly what the file says."""
    wanted = [
        activities.ActivityData(
            name="Webbutik",
            purpose="Att sälja och leverera varor från Kbtverkstanbutik.se.",
            legal_basis="contract",
            recipients=("Stripe",),
            retention="7 år enligt bokföringslagen",
        ),
        activities.ActivityData(
            name="Inspelade samtal",
            purpose="Överenskomna samtal spelas in för coachningen.",
            legal_basis="consent",
            health_basis="explicit_consent",
            retention="Tills coachningen avslutats",
        ),
    ]
    with db() as s:
        first = controllers.first(s)
        practice.load(s, "Praktiken")
        rows = activities.replace_for_controller(s, first, wanted, ACTOR)
        s.commit()
        ids = [r.id for r in rows]
        assert [a.name for a in activities.effective(s, first)] == ["Webbutik", "Inspelade samtal"]
        events = s.scalar(text("SELECT count(*) FROM audit_event"))
        again = activities.replace_for_controller(s, first, wanted, ACTOR)
        s.commit()
        assert [r.id for r in again] == ids
        assert s.scalar(text("SELECT count(*) FROM audit_event")) == events
        stripe = activities.effective(s, first)[0]
        assert "Data Privacy Framework" in stripe.transfers  # from the processor register
        bad = [*wanted, activities.ActivityData(name="Bedrägeri", purpose="x", legal_basis="f")]
        with pytest.raises(activities.ActivityError) as err:
            activities.replace_for_controller(s, first, bad, ACTOR)
        assert err.value.params["number"] == 3 and err.value.params["name"] == "Bedrägeri"
        s.rollback()
        assert [a.name for a in activities.effective(s, first)] == ["Webbutik", "Inspelade samtal"]


def test_migration_fills_each_existing_controller_from_the_settings(empty_url):  # noqa: F811
    """An installation upgraded from before issue 15 gets the activities it published."""
    cfg = alembic_config(empty_url)
    command.upgrade(cfg, "8a74eb5e7de7")
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO practice_settings (id, processors, retention) VALUES (1, '[]', '{}')")
        )
        for cid, name, runs in ((1, "Kbt-verkstan", False), (2, "Kbt i Romme", True)):
            insert_old_controller(conn, "CURRENT_TIMESTAMP", cid, name, runs)
    command.upgrade(cfg, "aa93dd8a7f55")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT controller_id, key, follows_settings, legal_basis FROM "
                "processing_activity ORDER BY controller_id, position"
            )
        ).all()
        features = conn.execute(text("SELECT features FROM practice_settings")).scalar()
    command.upgrade(cfg, "head")
    engine.dispose()
    standard = ["clients", "representatives", "testimonials", "bookkeeping", "requests"]
    assert [r.key for r in rows if r.controller_id == 1] == standard
    assert [r.key for r in rows if r.controller_id == 2] == [
        "clients",
        "representatives",
        "newsletter",
        "testimonials",
        "bookkeeping",
        "requests",
    ]
    assert all(r.follows_settings for r in rows) and features == "{}"
    assert {r.legal_basis for r in rows if r.key == "bookkeeping"} == {"legal_obligation"}


def test_set_features_is_the_practice_file_switch(app, db):
    with db() as s:
        practice.load(s, "Praktiken")
        activities.set_features(s, {"newsletter": False}, ACTOR)
        s.commit()
        assert "newsletter" not in [a.key for a in activities.effective(s, controllers.first(s))]
        with pytest.raises(activities.ActivityError) as err:
            activities.set_features(s, {"webshop": True}, ACTOR)
        assert err.value.params == {"name": "webshop"}
        activities.set_features(s, {"newsletter": True}, ACTOR)
        s.commit()
        assert "newsletter" in [a.key for a in activities.effective(s, controllers.first(s))]
