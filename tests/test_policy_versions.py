"""Published privacy policy versions (issue 15 part 2).

Publishing makes a dated, immutable version; the public page shows the one in force and links
to the earlier ones; consents refer to the version in force; a version that adds a purpose or
a recipient is material and the dashboard offers to tell subscribers and clients.
"""

from __future__ import annotations

import re

import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy import text

from crm import controllers
from crm.audit import Actor
from crm.cli import alembic_config
from crm.db import make_engine
from crm.db import utcnow
from crm.newsletter.models import ConsentRecord
from crm.people.models import ClientCard
from crm.people.models import Person
from crm.privacy import policy_versions
from crm.privacy.models import PolicyVersion
from crm.testimonials.models import TestimonialConsent
from tests.conftest import post_form
from tests.helpers import signup as _signup
from tests.test_migrations import empty_url  # noqa: F401 - the fixture
from tests.test_migrations import insert_old_controller
from tests.test_migrations import insert_old_person
from tests.test_testimonials import _consent
from tests.test_testimonials import _create
from tests.test_testimonials import _request

WEBSHOP = {
    "name": "Webbutik",
    "purpose": "Att sälja och skicka varor från Kbtverkstanbutik.se.",
    "legal_basis": "contract",
    "basis_detail": "",
    "health_basis": "",
    "subjects": "Kunder i webbutiken",
    "data_categories": "Namn, adress, e-post, vad som köpts",
    "recipients": "Stripe\nPostNord",
    "transfers": "",
    "retention": "7 år enligt bokföringslagen",
    "source": "",
}


def _publish(auth_client, controller_id: int | None = None):
    query = f"?controller={controller_id}" if controller_id else ""
    return post_form(
        auth_client, f"/privacy/activities/publish{query}", {}, page="/privacy/activities/"
    )


def _versions(db) -> list[PolicyVersion]:
    with db() as s:
        return list(s.scalars(select(PolicyVersion).order_by(PolicyVersion.id)))


def test_publishing_makes_dated_versions_and_the_page_links_to_earlier_ones(
    app, auth_client, client, db
):
    draft = client.get("/integritetspolicy").get_data(as_text=True)
    assert "Version 1" not in draft  # nothing published: the policy as the list says it
    assert _publish(auth_client).status_code == 302
    first = client.get("/integritetspolicy").get_data(as_text=True)
    assert "Version 1, publicerad" in first and "Webbutik" not in first
    # publishing again without a change is refused: no empty versions
    page = _publish(auth_client)
    assert len(_versions(db)) == 1
    assert "Inget har ändrats sedan version 1" in auth_client.get(
        page.headers["Location"]
    ).get_data(as_text=True)
    # a new activity: the public page keeps the version in force until it is published
    assert post_form(auth_client, "/privacy/activities/new", WEBSHOP).status_code == 302
    assert "Webbutik" not in client.get("/integritetspolicy").get_data(as_text=True)
    listing = auth_client.get("/privacy/activities/").get_data(as_text=True)
    assert "Publicera integritetspolicyn" in listing and "PostNord" in listing
    assert _publish(auth_client).status_code == 302
    v1, v2 = _versions(db)
    assert (v1.number, v2.number) == (1, 2) and v2.material and not v1.material
    current = client.get("/integritetspolicy").get_data(as_text=True)
    assert "Version 2, publicerad" in current and "Webbutik" in current
    assert f"/integritetspolicy/version/{v1.id}" in current
    old = client.get(f"/integritetspolicy/version/{v1.id}").get_data(as_text=True)
    assert "Version 1, publicerad" in old and "Webbutik" not in old
    assert "gäller inte längre" in old
    assert client.get("/integritetspolicy/version/999").status_code == 404


def test_a_published_version_is_never_changed(app, auth_client, db):
    _publish(auth_client)
    with db() as s:
        row = s.scalar(select(PolicyVersion))
        row.html = "<p>Något annat</p>"
        with pytest.raises(ValueError, match="never changed"):
            s.flush()
        s.rollback()
        row = s.scalar(select(PolicyVersion))
        row.informed_at, row.informed_count = utcnow(), 3  # the announcement may be recorded
        s.commit()


def test_consents_refer_to_the_policy_in_force(app, auth_client, client, db, inbox, make_person):
    _signup(client, "tidig@example.se")  # before any version: nothing to refer to
    _publish(auth_client)
    _signup(client, "forst@example.se")
    post_form(auth_client, "/privacy/activities/new", WEBSHOP)
    _publish(auth_client)
    _signup(client, "sedan@example.se")
    v1, v2 = _versions(db)
    with db() as s:
        refs = dict(
            s.execute(
                select(Person.email, ConsentRecord.policy_version_id).join(
                    Person, Person.id == ConsentRecord.person_id
                )
            ).all()
        )
    assert refs == {"tidig@example.se": None, "forst@example.se": v1.id, "sedan@example.se": v2.id}
    # a testimonial consent refers to the version in force when it is given
    tid = _create(auth_client, make_person)
    link = _request(auth_client, inbox, tid)
    assert _consent(app.test_client(), link).status_code == 200
    with db() as s:
        given = s.scalar(select(TestimonialConsent).where(TestimonialConsent.testimonial_id == tid))
        assert given.consented_at is not None and given.policy_version_id == v2.id


def test_the_sign_up_text_is_the_one_in_force(app, auth_client, client, db):
    _publish(auth_client)
    with db() as s:
        nid = s.execute(
            text("SELECT id FROM processing_activity WHERE key = 'newsletter'")
        ).scalar()
    changed = {
        **WEBSHOP,
        "name": "Nyhetsbrev",
        "purpose": "Nyhetsbrev och kurserbjudanden.",
        "legal_basis": "consent",
        "recipients": "",
        "retention": "Tills du avslutar",
    }
    post_form(auth_client, f"/privacy/activities/{nid}/edit", changed)
    assert "Nyhetsbrev och kurserbjudanden." not in client.get("/subscribe").get_data(as_text=True)
    _publish(auth_client)
    assert "Nyhetsbrev och kurserbjudanden." in client.get("/subscribe").get_data(as_text=True)


def test_a_material_version_is_offered_on_the_dashboard_and_told_by_mail(
    app, auth_client, client, db, inbox
):
    _signup(client, "prenumerant@example.se")
    confirm = re.search(
        r"http://localhost(/confirm/\S+)", inbox.last("prenumerant@example.se").get_content()
    )
    post_form(client, confirm.group(1), {})
    with db() as s:
        for email, restricted in (("klient@example.se", False), ("spärrad@example.se", True)):
            person = Person(name=email, email=email, restricted_at=utcnow() if restricted else None)
            s.add(person)
            s.flush()
            s.add(ClientCard(person_id=person.id))
        s.commit()
    _publish(auth_client)
    assert "policy-notices" not in auth_client.get("/").get_data(as_text=True)
    post_form(auth_client, "/privacy/activities/new", WEBSHOP)
    dashboard = auth_client.get("/").get_data(as_text=True)
    assert "policy-notices" in dashboard and "Granska och publicera" in dashboard
    _publish(auth_client)
    v2 = _versions(db)[-1]
    dashboard = auth_client.get("/").get_data(as_text=True)
    assert f"/policy/{v2.id}/inform" in dashboard
    page = auth_client.get(f"/policy/{v2.id}/inform").get_data(as_text=True)
    assert "Att sälja och skicka varor" in page and "PostNord" in page
    assert "Skicka till 2 personer" in page  # the subscriber and the client, not the restricted
    before = len(inbox.messages)
    response = post_form(
        auth_client,
        f"/policy/{v2.id}/inform",
        {"subject": "Ny integritetspolicy", "body": "Vi har en webbutik nu. Läs mer på sajten."},
    )
    assert response.status_code == 302
    sent = inbox.messages[before:]
    assert sorted(m["To"] for m in sent) == ["klient@example.se", "prenumerant@example.se"]
    assert all(m["Subject"] == "Ny integritetspolicy" for m in sent)
    with db() as s:
        assert s.get(PolicyVersion, v2.id).informed_count == 2
    assert "policy-notices" not in auth_client.get("/").get_data(as_text=True)
    again = post_form(auth_client, f"/policy/{v2.id}/inform", {"subject": "x", "body": "y" * 30})
    assert again.status_code == 422 and len(inbox.messages) == before + 2


def test_a_change_that_adds_neither_purpose_nor_recipient_is_not_material(app, auth_client, db):
    _publish(auth_client)
    with db() as s:
        nid = s.execute(
            text("SELECT id FROM processing_activity WHERE key = 'bookkeeping'")
        ).scalar()
        page = auth_client.get(f"/privacy/activities/{nid}/edit").get_data(as_text=True)
    purpose = re.search(r'<textarea id="purpose" name="purpose" required>([^<]*)<', page).group(1)
    data = {
        **WEBSHOP,
        "name": "Bokföring",
        "purpose": purpose,
        "recipients": "",
        "legal_basis": "legal_obligation",
        "retention": "Till och med det sjunde året",
    }
    assert post_form(auth_client, f"/privacy/activities/{nid}/edit", data).status_code == 302
    _publish(auth_client)
    assert [v.material for v in _versions(db)] == [False, False]
    with db() as s:
        assert policy_versions.dashboard_notices(s) == []


def test_versions_are_per_controller(app, auth_client, client, db):
    from crm.privacy import practice

    with db() as s:
        practice.load(s, "Kbt-verkstan")
        romme = practice.add_controller(s, "Kbt i Romme", Actor.system()).id
        s.commit()
    _publish(auth_client, romme)
    assert [v.controller_id for v in _versions(db)] == [romme]
    assert "Version 1" in client.get(f"/integritetspolicy?controller={romme}").get_data(
        as_text=True
    )
    assert "Version 1" not in client.get("/integritetspolicy?controller=1").get_data(as_text=True)
    with db() as s:
        assert controllers.policy_version_in_force(s.connection(), 1) is None


def test_consent_rows_survive_the_upgrade_to_policy_versions(empty_url):  # noqa: F811
    """Consents recorded before versions existed keep every field and refer to no version."""
    cfg = alembic_config(empty_url)
    command.upgrade(cfg, "91c7242703b8")
    engine = make_engine(empty_url)
    stamp = "'2024-03-01 10:00:00+00:00'"
    with engine.begin() as conn:
        insert_old_controller(conn, stamp)
        insert_old_person(conn, stamp, "Lisa", "lisa@example.se")
        conn.execute(
            text(
                "INSERT INTO consent_record (person_id, purpose, controller_id, action, method, "
                f"text_hash, occurred_at) VALUES (1, 'newsletter', 1, 'grant', 'web_form', "
                f"'abc', {stamp})"
            )
        )
        conn.execute(
            text(
                "INSERT INTO testimonial (id, public_id, person_id, text, display_mode, status, "
                f"created_at, updated_at) VALUES (1, 't1', 1, 'Bra', 'first_name', 'approved', "
                f"{stamp}, {stamp})"
            )
        )
        conn.execute(
            text(
                "INSERT INTO testimonial_consent (testimonial_id, requested_at, content_hash, "
                f"consented_at, channels, media_kinds) VALUES (1, {stamp}, 'h', {stamp}, "
                "'[\"website\"]', '[\"text\"]')"
            )
        )
    command.upgrade(cfg, "head")
    with engine.begin() as conn:
        consent = conn.execute(
            text("SELECT action, method, text_hash, policy_version_id FROM consent_record")
        ).one()
        given = conn.execute(
            text("SELECT channels, policy_version_id FROM testimonial_consent")
        ).one()
        assert tuple(consent) == ("grant", "web_form", "abc", None)
        assert tuple(given) == ('["website"]', None)
        # at head a version is published and referred to; both stay
        conn.execute(
            text(
                "INSERT INTO policy_version (controller_id, number, published_at, html, facts, "
                f"html_hash, material, changes) VALUES (1, 1, {stamp}, '<p>x</p>', '{{}}', 'h', "
                ":f, '{}')"
            ),
            {"f": False},
        )
        vid = conn.execute(text("SELECT id FROM policy_version")).scalar()
        conn.execute(text("UPDATE consent_record SET policy_version_id = :v"), {"v": vid})
    with engine.connect() as conn:
        assert conn.execute(text("SELECT policy_version_id FROM consent_record")).scalar() == vid
    engine.dispose()


def test_a_practice_file_brings_earlier_versions_with_their_dates(app, client, db):
    """Seed 000 (2018-05-22) and 001 are two published versions of one practice's policy."""
    from datetime import UTC
    from datetime import datetime

    from crm.privacy import activities
    from crm.privacy import practice

    actor = Actor.system()
    with db() as s:
        practice.load(s, "Kbt-verkstan")
        first = controllers.first(s)
        v1 = policy_versions.publish(
            s, first, actor, published_at=datetime(2018, 5, 22, 10, tzinfo=UTC)
        )
        activities.add(
            s,
            first,
            activities.ActivityData(
                name="Webbutik",
                purpose="Att sälja varor från Kbtverkstanbutik.se.",
                legal_basis="contract",
                retention="7 år",
            ),
            actor,
        )
        with pytest.raises(policy_versions.PolicyError):
            policy_versions.publish(s, first, actor, published_at=datetime(2017, 1, 1, tzinfo=UTC))
        v2 = policy_versions.publish(s, first, actor)
        s.commit()
        assert (v1.number, v2.number, v2.material) == (1, 2, True)
        assert v1.published_at.date().isoformat() == "2018-05-22"
        assert policy_versions.added(v2).purposes == ["Att sälja varor från Kbtverkstanbutik.se."]
    page = client.get("/integritetspolicy").get_data(as_text=True)
    assert "Version 1, publicerad 2018-05-22" in page  # the seed's own date, as it wrote it
