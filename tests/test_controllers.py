"""Issue 14, parts 1-3: several controllers, minimised identity numbers, representatives.

Seed 000: two companies under one brand, "personuppgiftsansvarig ligger hos det företag som
träffat kunden". Seed 003: "födelseår och datum (de sista fyra siffrorna registreras ej)".
Seed 004: data about "inbetalare, god man, förvaltare, fullmaktshavare ... företrädare".
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from datetime import date
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import create_engine
from sqlalchemy import select
from sqlalchemy import text

from crm import controllers
from crm.audit import Actor
from crm.audit import AuditEvent
from crm.auth import services as auth
from crm.auth.models import User
from crm.cli import alembic_config
from crm.db import make_engine
from crm.db import utcnow
from crm.people import care as people_care
from crm.people import health
from crm.people import search as people_search
from crm.people import services as people
from crm.people.models import Person
from crm.privacy import data_requests
from crm.privacy import erasure
from crm.privacy import export
from crm.privacy import practice
from crm.privacy import retention
from crm.representatives import services as reps
from crm.representatives.models import Representation
from crm.testimonials import services as testimonials
from tests.helpers import login
from tests.helpers import post_form
from tests.helpers import signup

ACTOR = Actor.cli()


def _two_controllers(db) -> tuple[int, int]:
    """Kbt-verkstan (the first, runs the newsletter) and Kbt i Romme."""
    with db() as s:
        first = controllers.first(s)
        first.name, first.org_number = "Kbt-verkstan", "681229-0000"
        first.contact_email, first.address = "info@kbt-verkstan.se", "Storgatan 1, Umeå"
        romme = practice.add_controller(s, "Kbt i Romme", ACTOR)
        romme.org_number, romme.contact_email = "671027-0000", "romme@kbt-verkstan.se"
        romme.address = "Rommevägen 2, Borlänge"
        romme.id_number_mode, romme.id_number_reason = "full", "Patientjournal"
        s.commit()
        return first.id, romme.id


def _person(db, name: str, email: str | None = None, controller_id: int | None = None) -> int:
    with db() as s:
        person = people.create_person(
            s, people.PersonData(name=name, email=email, controller_id=controller_id), ACTOR
        )
        s.commit()
        return person.id


# --- part 1: several controllers ---------------------------------------------------------------


def test_finding_14_1_one_controller_shows_no_controller_selector_or_column(app, auth_client, db):
    _person(db, "Karin Klient", "karin@example.se")
    form = auth_client.get("/people/new").get_data(as_text=True)
    listing = auth_client.get("/people/").get_data(as_text=True)
    policy = auth_client.get("/integritetspolicy").get_data(as_text=True)
    assert 'name="controller_id"' not in form
    assert "Personuppgiftsansvarig</th>" not in listing and "Controller</th>" not in listing
    assert "Karin Klient" in listing
    assert "?controller=" not in policy  # one controller: the policy itself, no list


def test_finding_14_1_several_controllers_show_a_selector_and_a_column(app, auth_client, db):
    _first, romme = _two_controllers(db)
    form = auth_client.get("/people/new").get_data(as_text=True)
    assert 'name="controller_id"' in form and "Kbt i Romme" in form
    response = post_form(
        auth_client, "/people/new", {"name": "Rolf Romme", "controller_id": str(romme)}
    )
    assert response.status_code == 302
    with db() as s:
        rolf = s.scalar(select(Person).where(Person.name == "Rolf Romme"))
        assert rolf.controller_id == romme
    listing = auth_client.get("/people/").get_data(as_text=True)
    assert re.search(r"<th>[^<]*(Controller|Personuppgiftsansvarig)[^<]*</th>", listing)
    assert "<td>Kbt i Romme</td>" in listing


def test_finding_14_1_rows_belong_to_the_controller_that_met_the_person(app, db):
    _first, romme = _two_controllers(db)
    pid = _person(db, "Rolf Romme", "rolf@example.se", romme)
    with db() as s:
        rolf = s.get(Person, pid)
        health.grant(s, rolf, "signed_form", ACTOR)
        people_care.update_client_card(
            s, rolf, people_care.ClientCardData(None, None, "Sömn", "explicit_consent"), ACTOR
        )
        s.get(controllers.Controller, romme).profile = "A"  # the journal: profile A only
        people_care.add_journal_entry(s, rolf, "Första samtalet.", ACTOR)
        request = data_requests.open_request(s, rolf, "access", "email", utcnow(), ACTOR)
        s.commit()
        assert rolf.client_card.controller_id == romme
        assert rolf.journal[0].controller_id == romme
        assert request.controller_id == romme


def test_finding_14_1_subscribers_belong_to_the_newsletter_controller(app, client, db, inbox):
    first, romme = _two_controllers(db)
    with db() as s:
        controllers.first(s).runs_newsletter = False
        s.get(controllers.Controller, romme).runs_newsletter = True
        s.commit()
    signup_page = client.get("/subscribe").get_data(as_text=True)
    assert f"/integritetspolicy?controller={romme}" in signup_page
    assert "nyhetsbrev från Kbt i Romme" in signup_page  # the Art. 7 consent text
    signup(client, "nyhet@example.se")
    mail = inbox.last("nyhet@example.se").get_content()
    assert "Kbt i Romme" in mail and "Kbt-verkstan" not in mail
    with db() as s:
        person = s.scalar(select(Person).where(Person.email == "nyhet@example.se"))
        consent = s.execute(text("SELECT controller_id FROM consent_record")).scalars().all()
    assert person.controller_id == romme and consent and set(consent) == {romme}


def test_finding_14_1_policy_record_export_and_mails_name_the_right_controller(
    app, auth_client, client, db, inbox
):
    first, romme = _two_controllers(db)
    policy = client.get("/integritetspolicy").get_data(as_text=True)
    assert f"?controller={first}" in policy and f"?controller={romme}" in policy
    romme_policy = client.get(f"/integritetspolicy?controller={romme}").get_data(as_text=True)
    assert "Kbt i Romme" in romme_policy and "671027-0000" in romme_policy
    assert "681229-0000" not in romme_policy
    assert client.get("/integritetspolicy?controller=999").status_code == 404
    record = auth_client.get("/privacy/record").get_data(as_text=True)
    assert "Kbt i Romme" in record and "Kbt-verkstan" in record
    csv_text = auth_client.get("/privacy/record.csv").get_data(as_text=True)
    assert "671027-0000" in csv_text and "681229-0000" in csv_text

    pid = _person(db, "Rolf Romme", "rolf@example.se", romme)
    with db() as s:
        rolf = s.get(Person, pid)
        archive = zipfile.ZipFile(io.BytesIO(export.build(s, rolf)))
        data = json.loads(archive.read("data.json"))
        summary = archive.read("sammanfattning.html").decode()
        rid = data_requests.open_request(s, rolf, "access", "email", utcnow(), ACTOR).id
        s.commit()
    assert data["controller"]["name"] == "Kbt i Romme"
    assert "Dina uppgifter hos Kbt i Romme" in summary
    post_form(
        auth_client, f"/privacy/requests/{rid}/export-link", {}, page=f"/privacy/requests/{rid}"
    )
    mail = inbox.last("rolf@example.se").get_content()
    assert "Kbt i Romme" in mail and "Kbt-verkstan" not in mail


def test_finding_14_1_the_owner_limits_a_staff_account_to_one_controller(
    app, auth_client, db, make_user, owner
):

    staff = make_user("romme@example.se", role="practitioner")
    users = auth_client.get("/auth/users").get_data(as_text=True)
    assert 'name="controller_id"' not in users  # one controller: nothing to limit to
    _first, romme = _two_controllers(db)
    users = auth_client.get("/auth/users").get_data(as_text=True)
    assert f'id="controller-{staff.id}"' in users
    post_form(
        auth_client,
        f"/auth/users/{staff.id}/controller",
        {"controller_id": romme},
        page="/auth/users",
    )
    refused = post_form(
        auth_client,
        f"/auth/users/{owner.id}/controller",
        {"controller_id": romme},
        page="/auth/users",
        follow_redirects=True,
    )
    assert "annan roll först" in refused.get_data(as_text=True)
    with db() as s:
        assert s.get(User, staff.id).controller_id == romme
        assert s.get(User, owner.id).controller_id is None
    post_form(
        auth_client, f"/auth/users/{staff.id}/controller", {"controller_id": ""}, page="/auth/users"
    )
    with db() as s:
        assert s.get(User, staff.id).controller_id is None


def test_finding_14_1_staff_limited_to_one_controller_see_only_its_people(
    app, client, db, make_user
):
    first, romme = _two_controllers(db)
    mine = _person(db, "Rolf Romme", "rolf@example.se", romme)
    other = _person(db, "Vera Verkstan", "vera@example.se", first)
    staff = make_user("romme@example.se", role="practitioner")
    with db() as s:
        auth.set_controller(s, s.get(auth.User, staff.id), romme, ACTOR)
        s.commit()
        # the service itself filters: no view needed to see it
        found, total = people_search.search_people(s, "", controller_id=romme)
        assert [p.id for p in found] == [mine] and total == 1
        assert people_search.get_person(s, other, romme) is None
        assert people_search.get_person(s, mine, romme).id == mine
    login(client, app, staff)
    listing = client.get("/people/").get_data(as_text=True)
    assert "Rolf Romme" in listing and "Vera Verkstan" not in listing
    searched = post_form(client, "/people/", {"q": "vera"}, page="/people/").get_data(as_text=True)
    assert "Vera Verkstan" not in searched
    assert client.get(f"/people/{other}").status_code == 404
    assert client.get(f"/people/{mine}").status_code == 200
    assert client.get(f"/people/{other}/edit").status_code == 404
    # nor on the request page's or the person page's pickers
    assert "Vera Verkstan" not in client.get("/privacy/requests").get_data(as_text=True)
    assert "Vera Verkstan" not in client.get(f"/people/{mine}").get_data(as_text=True)
    refused = post_form(
        client,
        "/privacy/requests",
        {"person_id": other, "kind": "access", "channel": "email", "received_on": "2026-01-01"},
    )
    assert refused.status_code != 302
    with db() as s:
        assert s.execute(text("SELECT count(*) FROM data_request")).scalar() == 0

        hidden = testimonials.create(s, s.get(Person, other), "Tack, Vera", "full_name", ACTOR)
        shown = testimonials.create(s, s.get(Person, mine), "Tack, Rolf", "full_name", ACTOR)
        s.commit()
        hidden_id, shown_id = hidden.id, shown.id
    # the testimonials and the newsletter pages follow the same limit
    listing = client.get("/testimonials/").get_data(as_text=True)
    assert "Tack, Rolf" in listing and "Tack, Vera" not in listing
    assert client.get(f"/testimonials/{hidden_id}").status_code == 404
    assert client.get(f"/testimonials/{shown_id}").status_code == 200
    assert "Vera Verkstan" not in client.get("/testimonials/new").get_data(as_text=True)
    assert client.get(f"/newsletter/people/{other}").status_code == 404
    assert client.get(f"/newsletter/people/{mine}").status_code == 200


def test_finding_14_1_upgrade_keeps_every_row_and_makes_the_controller_from_the_settings(
    tmp_path,
):
    """A practice upgrading keeps everything; its one controller is today's settings row."""
    url = os.environ.get("CRM_TEST_DATABASE_URL")
    if url:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS migration_test CASCADE"))
            conn.execute(text("CREATE SCHEMA migration_test"))
        engine.dispose()
        sep = "&" if "?" in url else "?"
        url = f"{url}{sep}options=-csearch_path%3Dmigration_test"
    else:
        url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, "5f3e2a9c7d41")  # the head before this branch
    engine = make_engine(url)
    stamp = "'2020-01-01 00:00:00+00:00'"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO practice_settings (id, name, org_number, address, contact_name, "
                "contact_email, profile, profession, processors, retention) VALUES (1, "
                "'Terapi Anna AB', '556703-7485', 'Storgatan 1', 'Anna', 'anna@terapi.se', "
                "'A', 'psykoterapeut', '[]', '{\"journal\": 120}')"
            )
        )
        pid = conn.execute(
            text(
                "INSERT INTO person (name, email, public_id, created_at, updated_at) VALUES "
                f"('Karin', 'karin@example.se', 'pub-karin-0000000000', {stamp}, {stamp}) "
                "RETURNING id"
            )
        ).scalar_one()
        conn.execute(
            text(f"INSERT INTO client_card (person_id, updated_at) VALUES (:p, {stamp})"),
            {"p": pid},
        )
        conn.execute(
            text(
                f"INSERT INTO journal_entry (person_id, written_at, text) VALUES (:p, {stamp}, 'x')"
            ),
            {"p": pid},
        )
        conn.execute(
            text(
                "INSERT INTO data_request (person_id, kind, channel, status, received_at, "
                f"due_at) VALUES (:p, 'access', 'email', 'open', {stamp}, {stamp})"
            ),
            {"p": pid},
        )
        conn.execute(
            text(
                "INSERT INTO consent_record (person_id, purpose, action, method, occurred_at) "
                f"VALUES (:p, 'newsletter', 'grant', 'form', {stamp})"
            ),
            {"p": pid},
        )
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        controller = conn.execute(text("SELECT * FROM controller")).mappings().all()
        settings_row = conn.execute(text("SELECT * FROM practice_settings")).mappings().one()
        owned = {
            table: conn.execute(text(f"SELECT controller_id FROM {table}")).scalars().all()
            for table in (
                "person",
                "client_card",
                "journal_entry",
                "data_request",
                "consent_record",
            )
        }
    command.downgrade(cfg, "5f3e2a9c7d41")
    with engine.connect() as conn:
        back = conn.execute(text("SELECT name, profile FROM practice_settings")).one()
        people_left = conn.execute(text("SELECT name FROM person")).scalars().all()
    engine.dispose()
    assert len(controller) == 1
    (row,) = controller
    assert (row["id"], row["name"], row["org_number"], row["profile"]) == (
        1,
        "Terapi Anna AB",
        "556703-7485",
        "A",
    )
    assert (row["contact_email"], row["profession"]) == ("anna@terapi.se", "psykoterapeut")
    assert row["id_number_mode"] == "full"  # what the practice did until now: unchanged
    assert "name" not in settings_row and json.loads(settings_row["retention"]) == {"journal": 120}
    assert owned == {table: [1] for table in owned}
    assert tuple(back) == ("Terapi Anna AB", "A") and people_left == ["Karin"]


# --- part 2: minimised identity numbers --------------------------------------------------------


def _birth_date_only(db, profile: str = "B") -> None:
    with db() as s:
        first = controllers.first(s)
        first.profile, first.id_number_mode, first.id_number_reason = profile, "birth_date", ""
        s.commit()


@pytest.mark.parametrize("typed", ["19811228", "811228", "1981-12-28"])
def test_finding_14_2_a_birth_date_is_accepted_and_the_last_four_never_stored(
    app, auth_client, db, typed
):
    _birth_date_only(db)
    form = auth_client.get("/people/new").get_data(as_text=True)
    assert "ÅÅÅÅMMDD" in form  # the Swedish format, not YYYYMMDD
    response = post_form(auth_client, "/people/new", {"name": "Kund Kort", "personnummer": typed})
    assert response.status_code == 302
    with db() as s:
        raw = s.execute(
            text("SELECT personnummer, personnummer_index, birth_date FROM person")
        ).one()
    assert raw.personnummer is None and raw.personnummer_index is None
    assert str(raw.birth_date)[:10] == "1981-12-28"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("811228-9874", "sista fyra"),
        ("198112289874", "sista fyra"),
        ("19810230", "finns inte"),
        ("811328", "finns inte"),
        ("1981122", "ÅÅÅÅMMDD"),
    ],
)
def test_finding_14_2_a_full_number_or_a_bad_date_is_refused_under_birth_date_only(
    app, auth_client, db, typed, message
):
    _birth_date_only(db)
    response = post_form(auth_client, "/people/new", {"name": "Kund Kort", "personnummer": typed})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with db() as s:
        assert s.execute(text("SELECT count(*) FROM person")).scalar() == 0


def test_finding_14_2_profile_b_defaults_to_birth_date_and_full_needs_a_reason(
    app, db, auth_client
):
    with db() as s:
        s.execute(text("DELETE FROM controller"))
        s.commit()
        assert controllers.first(s).id_number_mode == "birth_date"  # a new controller
    data = {"name": "Coach AB", "profile": "B", "id_number_mode": "full", "id_number_reason": ""}
    response = post_form(auth_client, "/privacy/settings", data)
    assert response.status_code == 422 and "dataskyddslagen 3 kap. 10" in response.get_data(
        as_text=True
    )
    data["id_number_reason"] = "Fakturering via Försäkringskassan kräver personnummer"
    assert post_form(auth_client, "/privacy/settings", data).status_code == 302
    with db() as s:
        assert controllers.first(s).id_number_mode == "full"


def test_finding_14_2_search_by_birth_date_finds_the_person(app, auth_client, db):
    _birth_date_only(db)
    post_form(auth_client, "/people/new", {"name": "Kund Kort", "personnummer": "19811228"})
    post_form(auth_client, "/people/new", {"name": "Annan Kund", "personnummer": "19900101"})
    for query in ("19811228", "811228", "811228-9874"):
        page = post_form(auth_client, "/people/", {"q": query}, page="/people/").get_data(
            as_text=True
        )
        assert "Kund Kort" in page and "Annan Kund" not in page, query


def test_finding_14_2_stricter_setting_offers_to_reduce_stored_numbers(app, auth_client, db):
    post_form(auth_client, "/people/new", {"name": "Full Nummer", "personnummer": "811228-9874"})
    post_form(auth_client, "/people/new", {"name": "Annan Full", "personnummer": "701063-2391"})
    response = post_form(
        auth_client,
        "/privacy/settings",
        {"name": "Kraftkällan", "profile": "B", "id_number_mode": "birth_date"},
    )
    assert (
        response.status_code == 302 and "/privacy/settings/reduce" in response.headers["Location"]
    )
    confirm = auth_client.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r'id="count-personnummer">[^<]*2<', confirm)
    with db() as s:  # nothing reduced before the owner confirms
        assert s.execute(text("SELECT count(personnummer) FROM person")).scalar() == 2
    done = post_form(auth_client, response.headers["Location"], {})
    assert done.status_code == 302
    with db() as s:
        raw = s.execute(
            text("SELECT name, personnummer, personnummer_index, birth_date FROM person")
        ).all()
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "person.id_numbers_reduced"))
    assert all(r.personnummer is None and r.personnummer_index is None for r in raw)
    assert sorted(str(r.birth_date)[:10] for r in raw) == ["1970-10-03", "1981-12-28"]
    assert event is not None and "9874" not in event.details
    assert event.details_dict["personnummer"] == 2
    # and to nothing at all
    post_form(
        auth_client,
        "/privacy/settings",
        {"name": "Kraftkällan", "profile": "B", "id_number_mode": "none"},
    )
    post_form(auth_client, "/privacy/settings/reduce", {}, page="/privacy/settings/reduce")
    with db() as s:
        assert s.execute(text("SELECT count(birth_date) FROM person")).scalar() == 0
    form = auth_client.get("/people/new").get_data(as_text=True)
    assert 'name="personnummer"' not in form


def test_finding_14_2_the_policy_and_the_export_follow_the_setting(app, client, db):
    _birth_date_only(db)
    with db() as s:
        first = controllers.first(s)
        first.name, first.address, first.contact_email = "Mottagningen", "Gatan 1", "a@b.se"
        s.commit()
    pid = _person(db, "Kund Kort")
    with db() as s:
        person = s.get(Person, pid)
        people.update_person(
            s, person, people.PersonData(name="Kund Kort", personnummer="811228"), ACTOR
        )
        s.commit()
        data, _files = export.collect(s, person)
    policy = client.get("/integritetspolicy").get_data(as_text=True)
    assert "födelsedatum" in policy.lower() and "sista fyra" in policy
    assert data["person"]["personnummer"] is None and data["person"]["birth_date"] == "1981-12-28"


# --- part 3: representatives -------------------------------------------------------------------


def _client_and_guardian(db, kind="guardian", start=None, end=None) -> tuple[int, int, int]:
    client_id = _person(db, "Klara Klient", "klara@example.se")
    rep_id = _person(db, "Gun Guardian", "gun@example.se")
    with db() as s:
        link = reps.add(
            s,
            s.get(Person, client_id),
            s.get(Person, rep_id),
            reps.MandateData(
                kind,
                start or date.today() - timedelta(days=30),
                end,
                "Art. 6.1 c, föräldrabalken 6 kap. 11 §",
                "Personbevis i pärmen",
            ),
            ACTOR,
        )
        s.commit()
        return client_id, rep_id, link.id


def _file(db, client_id, link_id, kind="access", received=None):
    with db() as s:
        return data_requests.open_request(
            s,
            s.get(Person, client_id),
            kind,
            "letter",
            received or utcnow(),
            ACTOR,
            representation=s.get(Representation, link_id),
        )


def test_finding_14_3_a_representative_files_within_a_valid_mandate(app, db):
    client_id, rep_id, link_id = _client_and_guardian(db)
    with db() as s:
        row = data_requests.open_request(
            s,
            s.get(Person, client_id),
            "access",
            "letter",
            utcnow(),
            ACTOR,
            representation=s.get(Representation, link_id),
        )
        s.commit()
        assert (row.person_id, row.requester_id, row.representation_id) == (
            client_id,
            rep_id,
            link_id,
        )


@pytest.mark.parametrize(
    ("kind", "start_days", "end_days", "message"),
    [
        ("guardian", -30, -1, "expired"),
        ("guardian", 5, None, "not valid yet"),
        ("payer", -30, None, "does not cover"),
        ("company_contact", -30, None, "does not cover"),
    ],
)
def test_finding_14_3_a_mandate_expired_not_yet_valid_or_not_covering_is_refused(
    app, db, kind, start_days, end_days, message
):
    today = date.today()
    client_id, _rep, link_id = _client_and_guardian(
        db,
        kind,
        today + timedelta(days=start_days),
        today + timedelta(days=end_days) if end_days is not None else None,
    )
    with pytest.raises(data_requests.RequestError, match=message):
        _file(db, client_id, link_id)
    with db() as s:
        assert s.execute(text("SELECT count(*) FROM data_request")).scalar() == 0


def test_finding_14_3_a_mandate_for_someone_else_is_refused(app, db):
    _client, _rep, link_id = _client_and_guardian(db)
    stranger = _person(db, "Sara Annan", "sara@example.se")
    with pytest.raises(data_requests.RequestError, match="not for the person"):
        _file(db, stranger, link_id)


def test_finding_14_3_the_request_page_shows_whose_mandate_and_mails_the_representative(
    app, auth_client, db, inbox
):
    client_id, rep_id, link_id = _client_and_guardian(db)
    page = auth_client.get("/privacy/requests").get_data(as_text=True)
    assert 'name="representation_id"' in page and "Gun Guardian" in page
    response = post_form(
        auth_client,
        "/privacy/requests",
        {
            "person_id": client_id,
            "representation_id": link_id,
            "kind": "access",
            "channel": "letter",
            "received_on": date.today().isoformat(),
        },
    )
    assert response.status_code == 302
    rid = int(response.headers["Location"].rsplit("/", 1)[-1])
    detail = auth_client.get(f"/privacy/requests/{rid}").get_data(as_text=True)
    assert 'id="mandate"' in detail and "Gun Guardian" in detail
    post_form(
        auth_client, f"/privacy/requests/{rid}/export-link", {}, page=f"/privacy/requests/{rid}"
    )
    assert "/export/" in inbox.last("gun@example.se").get_content()
    assert not [m for m in inbox.messages if "klara@example.se" in m["To"]]
    # the mandate ends: nothing more goes to the representative
    with db() as s:
        s.get(Representation, link_id).valid_until = date.today() - timedelta(days=1)
        s.commit()
    inbox.messages.clear()
    refused = post_form(
        auth_client,
        f"/privacy/requests/{rid}/export-link",
        {},
        page=f"/privacy/requests/{rid}",
        follow_redirects=True,
    )
    assert (
        inbox.messages == []
        and "mandate" in refused.get_data(as_text=True).lower()
        or (
            "fullmakt" in refused.get_data(as_text=True).lower()
            or "uppdrag" in refused.get_data(as_text=True).lower()
        )
    )


def test_finding_14_3_the_export_includes_the_links_both_ways(app, db):
    client_id, rep_id, _link = _client_and_guardian(db)
    with db() as s:
        mine, _ = export.collect(s, s.get(Person, client_id))
        theirs, _ = export.collect(s, s.get(Person, rep_id))
        archive = zipfile.ZipFile(io.BytesIO(export.build(s, s.get(Person, client_id))))
    summary = archive.read("sammanfattning.html").decode()
    assert "Företräds av Gun Guardian (vårdnadshavare" in summary
    (link,) = mine["representatives"]
    assert (link["role"], link["other"], link["kind"]) == (
        "represented_by",
        "Gun Guardian",
        "guardian",
    )
    assert theirs["representatives"][0]["role"] == "represents"
    assert theirs["representatives"][0]["other"] == "Klara Klient"


def test_finding_14_3_erasing_the_client_removes_a_representative_with_nothing_else(app, db):
    client_id, rep_id, _link = _client_and_guardian(db)
    with db() as s:
        erasure.execute(s, s.get(Person, client_id), ACTOR)
        s.commit()
        assert s.get(Person, rep_id) is None
        assert s.execute(text("SELECT count(*) FROM representation")).scalar() == 0


def test_finding_14_3_a_representative_of_another_client_or_with_own_data_stays(app, db):
    client_id, rep_id, _link = _client_and_guardian(db)
    other_client = _person(db, "Otto Annan", "otto@example.se")
    own_rep = _person(db, "Petra Betalare", "petra@example.se")
    with db() as s:
        reps.add(
            s,
            s.get(Person, other_client),
            s.get(Person, rep_id),
            reps.MandateData("god_man", date(2024, 1, 1), None, "FB 11 kap. 4 §"),
            ACTOR,
        )
        reps.add(
            s,
            s.get(Person, client_id),
            s.get(Person, own_rep),
            reps.MandateData("payer", date(2024, 1, 1), None, "Art. 6.1 b avtal"),
            ACTOR,
        )
        people_care.add_visit(s, s.get(Person, own_rep), date.today(), None, ACTOR)  # own data
        s.commit()
        erasure.execute(s, s.get(Person, client_id), ACTOR)
        s.commit()
        assert s.get(Person, rep_id) is not None  # still Otto's god man
        assert s.get(Person, own_rep) is not None  # a client in their own right
        left = s.execute(text("SELECT client_id FROM representation")).scalars().all()
    assert left == [other_client]


def test_finding_14_3_retention_removes_a_representative_after_the_last_mandate(app, db):
    client_id, rep_id, link_id = _client_and_guardian(
        db, start=date(2024, 1, 1), end=date(2025, 6, 30)
    )
    with db() as s:
        controllers.first(s).representative_months = 12
        s.commit()
        early = utcnow().replace(year=2026, month=6, day=1)
        report = retention.run(s, now=early)
        assert report.deleted["representatives"] == 0
        late = utcnow().replace(year=2026, month=7, day=2)
        dry = retention.run(s, now=late, dry_run=True)
        assert dry.deleted["representatives"] == 1
        assert s.get(Person, rep_id) is not None and s.get(Representation, link_id) is not None
        report = retention.run(s, now=late)
        s.commit()
        assert report.deleted["representatives"] == 1
        assert s.get(Representation, link_id) is None and s.get(Person, rep_id) is None
        assert s.get(Person, client_id) is not None
        events = s.scalars(select(AuditEvent.details).where(AuditEvent.action.like("%retention%")))
        assert not any("Gun" in e for e in events)


def test_finding_14_3_retention_keeps_an_open_ended_mandate_and_the_period_is_per_controller(
    app, db
):
    _client, rep_id, _link = _client_and_guardian(db, start=date(2020, 1, 1), end=None)
    with db() as s:
        report = retention.run(s, now=utcnow().replace(year=2040))
        s.commit()
        assert report.deleted["representatives"] == 0 and s.get(Person, rep_id) is not None
    client2, rep2, _ = _client_and_guardian_named(db)
    with db() as s:
        controllers.first(s).representative_months = 60
        s.commit()
        report = retention.run(s, now=utcnow().replace(year=2026, month=12, day=31))
        assert report.deleted["representatives"] == 0  # 2025-06-30 + 60 months is far off


def _client_and_guardian_named(db):
    client_id = _person(db, "Berta Barn", "berta@example.se")
    rep_id = _person(db, "Folke Förvaltare", "folke@example.se")
    with db() as s:
        link = reps.add(
            s,
            s.get(Person, client_id),
            s.get(Person, rep_id),
            reps.MandateData("forvaltare", date(2024, 1, 1), date(2025, 6, 30), "FB 11 kap. 7 §"),
            ACTOR,
        )
        s.commit()
        return client_id, rep_id, link.id


def test_finding_14_3_linking_is_checked_and_audited_without_names(app, auth_client, db):
    client_id = _person(db, "Klara Klient")
    rep_id = _person(db, "Gun Guardian")
    page = f"/people/{client_id}"
    bad = post_form(
        auth_client,
        f"/people/{client_id}/representatives",
        {
            "representative_id": rep_id,
            "kind": "guardian",
            "valid_from": "2026-01-10",
            "valid_until": "2025-01-01",
            "legal_basis": "FB",
        },
        page=page,
    )
    # refused in place, with what was typed kept (issue 16: pickers search; errors in place)
    assert bad.status_code == 422 and 'value="2025-01-01"' in bad.get_data(as_text=True)
    with db() as s:
        assert s.execute(text("SELECT count(*) FROM representation")).scalar() == 0
    post_form(
        auth_client,
        f"/people/{client_id}/representatives",
        {
            "representative_id": rep_id,
            "kind": "guardian",
            "valid_from": "2026-01-10",
            "legal_basis": "FB 6 kap. 11 §",
            "document": "Personbevis",
        },
        page=page,
    )
    detail = auth_client.get(page).get_data(as_text=True)
    assert "Gun Guardian" in detail and "Personbevis" in detail
    with db() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "representation.add"))
        assert "Gun" not in event.details and event.details_dict["kind"] == "guardian"
        assert s.execute(text("SELECT document FROM representation")).scalar() != "Personbevis"
