"""Every consent refers to the privacy policy in force when it was given (issue 15 part 2).

One mechanism (crm/consents.py ``RefersToPolicy``) for the newsletter consent, the testimonial
consent and the explicit consent to health notes; the Art. 15 export and the pages that list
consents show the version: its number, its date and its page.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import UTC
from datetime import datetime

from alembic import command
from jsonschema import Draft202012Validator
from sqlalchemy import select
from sqlalchemy import text

from crm import controllers
from crm.audit import Actor
from crm.cli import alembic_config
from crm.consents import RefersToPolicy
from crm.db import Base
from crm.db import make_engine
from crm.newsletter.models import ConsentRecord
from crm.people import health
from crm.people.models import HealthConsent
from crm.people.models import IdentityCheck
from crm.people.models import Person
from crm.privacy import export
from crm.privacy import policy_versions
from crm.privacy.models import PolicyVersion
from crm.testimonials.models import TestimonialConsent
from tests.conftest import post_form
from tests.helpers import signup
from tests.test_migrations import empty_url  # noqa: F401 - the fixture
from tests.test_migrations import insert_old_controller
from tests.test_migrations import insert_old_person
from tests.test_policy_versions import WEBSHOP

EMAIL = "vera@example.se"
#: the first version's date, long before the second one's (today)
FIRST = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
#: tables named like consents that are not consent records, and why
NOT_RECORDS = {"consent_text": "the wording a consent record refers to, not a consent"}


def test_every_consent_table_refers_to_the_policy_in_force():
    """The class: a new consent model without the reference (or the hook) fails here."""
    mapped = {m.local_table.name: m.class_ for m in Base.registry.mappers}
    consents = sorted(name for name in Base.metadata.tables if "consent" in name)
    assert {"consent_record", "testimonial_consent", "health_consent"} <= set(consents)
    for name in consents:
        if name in NOT_RECORDS:
            continue
        column = Base.metadata.tables[name].columns.get("policy_version_id")
        assert column is not None and column.nullable, name
        assert {fk.target_fullname for fk in column.foreign_keys} == {"policy_version.id"}, name
        assert issubclass(mapped[name], RefersToPolicy), name


def _publish_first(db) -> int:
    with db() as s:
        version = policy_versions.publish(s, controllers.first(s), Actor.cli(), published_at=FIRST)
        s.commit()
        return version.id


def _testimonial(app, auth_client, inbox, pid: int) -> int:
    created = post_form(
        auth_client,
        "/testimonials/new",
        {"person_id": pid, "text": "Varje besök gav mig något.", "display_mode": "first_name"},
        page=f"/testimonials/new?person={pid}",
    )
    tid = int(created.headers["Location"].rsplit("/", 1)[-1])
    post_form(auth_client, f"/testimonials/{tid}/request-consent", {}, page=f"/testimonials/{tid}")
    link = re.search(r"http://localhost(/t/consent/\S+)", inbox.last(EMAIL).get_content())
    given = post_form(
        app.test_client(), link.group(1), {"channels": ["website", "print"], "media": ["text"]}
    )
    assert given.status_code == 200
    return tid


def _given_under_first_version(app, auth_client, client, db, inbox) -> tuple[int, int, int]:
    """A person with all three kinds of consent, each given while version 1 was in force."""
    v1 = _publish_first(db)
    assert signup(client, EMAIL).status_code in (200, 302)
    with db() as s:
        person = s.scalar(select(Person).where(Person.email == EMAIL))
        health.grant(s, person, "signed_form", Actor.cli())
        s.add(IdentityCheck(person_id=person.id, method="id_document"))
        s.commit()
        pid = person.id
    tid = _testimonial(app, auth_client, inbox, pid)
    return v1, pid, tid


def test_the_export_shows_the_policy_version_of_every_consent(app, auth_client, client, db, inbox):
    v1, pid, tid = _given_under_first_version(app, auth_client, client, db, inbox)
    # version 2 comes later; the consents keep referring to version 1
    assert post_form(auth_client, "/privacy/activities/new", WEBSHOP).status_code == 302
    with db() as s:
        v2 = policy_versions.publish(s, controllers.first(s), Actor.cli())
        s.commit()
        assert v2.number == 2
        v2_id = v2.id
    with db() as s:
        # the withdrawal is recorded under version 2
        health.withdraw(s, s.get(Person, pid), "email", Actor.cli())
        s.commit()
    with db() as s:
        archive = zipfile.ZipFile(io.BytesIO(export.build(s, s.get(Person, pid))))
    data = json.loads(archive.read("data.json"))
    Draft202012Validator(json.loads(export.SCHEMA.read_text())).validate(data)
    given = [
        *data["consent_records"],
        *[c for t in data["testimonials"] for c in t["consents"]],
        data["health_consents"][0],
    ]
    assert len(given) == 3
    for consent in given:
        version = consent["policy_version"]
        assert version["number"] == 1 and version["published_at"].startswith("2025-01-15")
        assert version["url"] == f"http://localhost/integritetspolicy/version/{v1}"
    withdrawal = data["health_consents"][1]
    assert withdrawal["action"] == "withdraw" and withdrawal["policy_version"]["number"] == 2
    assert withdrawal["policy_version"]["url"].endswith(f"/version/{v2_id}")
    # the readable summary: one line per consent, each naming its version and date
    summary = archive.read("sammanfattning.html").decode()
    lines = re.findall(r"<li>(.*?)</li>", summary.split('id="samtycken"')[1].split("</ul>")[0])
    first = f'version 1, publicerad 2025-01-15, <a href="http://localhost/integritetspolicy/version/{v1}">'
    for kind in ("Nyhetsbrev", "Omdöme, publicering på vår webbplats, trycksaker", "Hälso"):
        mine = [line for line in lines if line.startswith(kind)]
        assert mine and first in mine[0], (kind, lines)
    assert "samtycke återkallat" in lines[-1] and "version 2, publicerad" in lines[-1]
    csv = archive.read("data.csv").decode()
    assert "consent_records.0.policy_version.number;1" in csv


def test_the_pages_that_list_consents_show_the_version(app, auth_client, client, db, inbox):
    v1, pid, tid = _given_under_first_version(app, auth_client, client, db, inbox)
    shown = (
        f'<a href="/integritetspolicy/version/{v1}">'
        "Integritetspolicyn version 1, publicerad 2025-01-15</a>"
    )
    person = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    assert shown in person.split('id="health-consent-policy"')[1]
    assert shown in auth_client.get(f"/newsletter/people/{pid}").get_data(as_text=True)
    assert shown in auth_client.get(f"/testimonials/{tid}").get_data(as_text=True)


def test_a_consent_from_before_any_version_keeps_no_version(app, auth_client, client, db):
    """Recorded before the first publication: NULL, and a later change never fills it in."""
    signup(client, EMAIL)
    _publish_first(db)
    with db() as s:
        record = s.scalar(select(ConsentRecord))
        record.note = "Papperslapp i pärmen"
        s.commit()
        assert s.scalar(select(ConsentRecord.policy_version_id)) is None
        pid = record.person_id
    page = auth_client.get(f"/newsletter/people/{pid}").get_data(as_text=True)
    assert "Registrerat innan någon integritetspolicy hade publicerats" in page


def test_a_requested_testimonial_consent_refers_to_the_version_when_given(
    app, auth_client, client, db, inbox
):
    """Asked under no version, given under version 1: it refers to version 1."""
    signup(client, EMAIL)
    with db() as s:
        pid = s.scalar(select(Person.id).where(Person.email == EMAIL))
    created = post_form(
        auth_client,
        "/testimonials/new",
        {"person_id": pid, "text": "Tack!", "display_mode": "first_name"},
        page=f"/testimonials/new?person={pid}",
    )
    tid = int(created.headers["Location"].rsplit("/", 1)[-1])
    post_form(auth_client, f"/testimonials/{tid}/request-consent", {}, page=f"/testimonials/{tid}")
    with db() as s:
        assert s.scalar(select(TestimonialConsent.policy_version_id)) is None
    v1 = _publish_first(db)
    link = re.search(r"http://localhost(/t/consent/\S+)", inbox.last(EMAIL).get_content())
    post_form(app.test_client(), link.group(1), {"channels": ["website"], "media": ["text"]})
    with db() as s:
        assert s.scalar(select(TestimonialConsent.policy_version_id)) == v1
        assert s.get(PolicyVersion, v1).number == 1


def test_health_consents_survive_the_upgrade_with_no_version(empty_url):  # noqa: F811
    """Health consents recorded before this revision keep every field and refer to no version."""
    cfg = alembic_config(empty_url)
    command.upgrade(cfg, "dd9e190ab15f")
    engine = make_engine(empty_url)
    stamp = "'2026-11-20 09:30:00+00:00'"
    with engine.begin() as conn:
        insert_old_controller(conn, stamp)
        insert_old_person(conn, stamp, "Hanna", "hanna@example.se")
        for action in ("grant", "withdraw"):
            conn.execute(
                text(
                    "INSERT INTO health_consent (person_id, controller_id, action, method, "
                    "text_version, text, text_sha256, occurred_at) VALUES (1, 1, :a, "
                    f"'signed_form', 1, 'Jag samtycker', 'abc', {stamp})"
                ),
                {"a": action},
            )
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT action, method, text_version, text, text_sha256, policy_version_id "
                "FROM health_consent ORDER BY id"
            )
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("grant", "signed_form", 1, "Jag samtycker", "abc", None),
        ("withdraw", "signed_form", 1, "Jag samtycker", "abc", None),
    ]


def test_a_health_consent_refers_to_the_version_in_force(app, db):
    """Through the service, as the page and ``crm health-consent`` record it."""
    v1 = _publish_first(db)
    with db() as s:
        person = Person(name="Hanna Hälsa", email="hanna@example.se")
        s.add(person)
        s.flush()
        row = health.grant(s, person, "verbal", Actor.cli())
        s.commit()
        assert row.policy_version_id == v1
        assert s.scalar(select(HealthConsent.policy_version_id)) == v1
