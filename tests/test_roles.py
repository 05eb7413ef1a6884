"""Need-to-know roles (issue 14 part 4, seed 002): every route x every role, services, migration.

The walk builds every route's URL with real ids from a filled database and sends GET and POST
as each role: a role the matrix allows never gets 403, any other always does, and each refusal
leaves an audit entry. A route that declares nothing fails here before it reaches a practice.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from flask import Flask
from flask import url_for
from sqlalchemy import create_engine
from sqlalchemy import select
from sqlalchemy import text

from crm.audit import Actor
from crm.audit import AuditEvent
from crm.auth.models import SetupToken
from crm.auth.models import User
from crm.cli import alembic_config
from crm.db import get_session
from crm.db import make_engine
from crm.db import utcnow
from crm.people import care as people_care
from crm.people import disclosure
from crm.people import services as people
from crm.people.models import Person
from crm.privacy import breaches
from crm.privacy.models import DataRequest
from crm.privacy.models import RecipientTask
from crm.representatives.models import Representation
from crm.security import roles
from crm.security.roles import MATRIX
from crm.security.roles import Perm
from crm.security.roles import Role
from crm.testimonials.models import Publication
from crm.testimonials.models import Testimonial
from crm.testimonials.models import TestimonialMedia
from crm.web import REFUSED_ACTION
from tests.conftest import PASSWORD
from tests.helpers import TestUser
from tests.helpers import csrf_token
from tests.helpers import login
from tests.helpers import post_form
from tests.test_controllers import _two_controllers
from tests.test_registry import sample_person
from tests.test_security import PUBLIC_ENDPOINTS

REVISION = "8a74eb5e7de7"


def _declared(app: Flask) -> dict[str, frozenset[Perm] | None]:
    """Each non-public endpoint and what it declared with ``requires`` (None: nothing)."""
    return {
        endpoint: getattr(view, "required_perms", None)
        for endpoint, view in app.view_functions.items()
        if endpoint not in PUBLIC_ENDPOINTS and not getattr(view, "is_public", False)
    }


def undeclared(app: Flask) -> list[str]:
    """The endpoints that would be the owner's alone only because they declared nothing."""
    return sorted(endpoint for endpoint, perms in _declared(app).items() if perms is None)


def test_every_route_declares_what_it_needs(app):
    assert undeclared(app) == [], "put @requires(Perm.X) under @bp.route on these views"


def test_a_route_without_a_declaration_is_the_owners_alone_and_is_reported(app, make_user, db):
    app.add_url_rule("/roles-test-undeclared", "roles_test_undeclared", lambda: "inside")
    assert undeclared(app) == ["roles_test_undeclared"]
    owner = make_user()
    practitioner = make_user("behandlare@example.se", role="practitioner")
    as_owner, as_practitioner = app.test_client(), app.test_client()
    login(as_owner, app, owner)
    login(as_practitioner, app, practitioner)
    assert as_owner.get("/roles-test-undeclared").get_data(as_text=True) == "inside"
    assert as_practitioner.get("/roles-test-undeclared").status_code == 403


def test_the_matrix_says_what_the_issue_says():
    """owner: everything; practitioner: clients and health; assistant: no health, no audit."""
    assert MATRIX[Role.OWNER] == frozenset(Perm)
    practitioner = MATRIX[Role.PRACTITIONER]
    assert {Perm.PEOPLE_READ, Perm.HEALTH_READ, Perm.HEALTH_WRITE} <= practitioner
    assert not {Perm.USERS_ADMIN, Perm.SETTINGS, Perm.AUDIT_READ} & practitioner
    assistant = MATRIX[Role.ASSISTANT]
    assert {Perm.PEOPLE_READ, Perm.NEWSLETTER, Perm.TESTIMONIALS, Perm.REQUESTS} <= assistant
    health = {Perm.HEALTH_READ, Perm.HEALTH_WRITE, Perm.IDENTITY_NUMBER, Perm.AUDIT_READ}
    assert not health & assistant
    assert MATRIX[Role.BOOKKEEPING] == {Perm.ACCOUNT, Perm.PURCHASES}
    assert roles.roles_with([Perm.PURCHASES]) == [Role.OWNER, Role.BOOKKEEPING]


# --- the walk ---------------------------------------------------------------------------------


def _fill(app: Flask, users: dict[Role, TestUser]) -> dict[str, Any]:
    """A person with a row in every person-linked table, a breach; the ids routes take."""
    with app.app_context():
        s = get_session()
        pid = sample_person(s)
        breach = breaches.record(
            s,
            breaches.Facts(
                utcnow() - timedelta(hours=1),
                "Borttappad lapp",
                "En klient",
                "Liten",
                "Ny rutin",
                "risk",
            ),
            Actor.cli(),
        )
        s.commit()

        def first(model: Any) -> Any:
            return s.scalar(select(model).order_by(model.id))

        media = first(TestimonialMedia)
        return {
            "person_id": pid,
            "request_id": first(DataRequest).id,
            "task_id": first(RecipientTask).id,
            "testimonial_id": first(Testimonial).id,
            "media_id": media.id,
            "name": media.stored_name,
            "publication_id": first(Publication).id,
            "breach_id": breach.id,
            "link_id": first(Representation).id,
            "user_id": users[Role.PRACTITIONER].id,
        }


def _url(app: Flask, rule: Any, ids: dict[str, Any]) -> str:
    values = {arg: ids.get(arg, 1) for arg in rule.arguments}
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


@pytest.fixture
def staff(make_user: Callable[..., TestUser]) -> dict[Role, TestUser]:
    """One account per role."""
    return {role: make_user(f"{role.value}@example.se", role=role.value) for role in Role}


def test_every_route_times_every_role_follows_the_matrix(app, db, staff):
    ids = _fill(app, staff)
    rules = [
        r
        for r in app.url_map.iter_rules()
        if r.endpoint not in PUBLIC_ENDPOINTS
        and not getattr(app.view_functions[r.endpoint], "is_public", False)
    ]
    assert len(rules) >= 60
    expected_refusals: set[tuple[int, str, str]] = set()
    checked = {role: 0 for role in Role}
    for role, user in staff.items():
        client = app.test_client()
        login(client, app, user)
        for rule in rules:
            needed = roles.required_perms(app.view_functions[rule.endpoint])
            allowed = needed <= MATRIX[role]
            url = _url(app, rule, ids)
            for method in sorted({"GET", "POST"} & rule.methods):
                response = client.open(url, method=method)
                where = (role.value, method, rule.rule, response.status_code)
                if allowed:
                    assert response.status_code != 403, where
                    assert response.status_code < 500, where
                else:
                    assert response.status_code == 403, where
                    expected_refusals.add((user.id, rule.endpoint, method))
                checked[role] += 1
        # logging out is the account's own: every role could, and still is logged in here
        assert client.get("/auth/account").status_code == 200
    assert min(checked.values()) >= 80
    with db() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.action == REFUSED_ACTION)).all()
        logged = {
            (e.actor_user_id, e.details_dict["endpoint"], e.details_dict["method"]) for e in rows
        }
        assert logged == expected_refusals
        # who, what and when; no personal data: the endpoint, never the URL with its ids
        assert all(set(e.details_dict) == {"endpoint", "method", "needs"} for e in rows)
        assert not any(str(ids["person_id"]) in e.details for e in rows if e.object_type != "user")
    # the owner was never refused; bookkeeping was refused nearly everywhere
    assert not any(uid == staff[Role.OWNER].id for uid, _e, _m in expected_refusals)
    assert {e for uid, e, _m in expected_refusals if uid == staff[Role.BOOKKEEPING].id} >= {
        "people.index",
        "people.detail",
        "main.audit_log",
        "newsletter.index",
    }


# --- what each role sees, and the services behind the pages -----------------------------------


def test_the_assistant_sees_contact_details_but_no_health_data(app, db, staff):
    ids = _fill(app, staff)
    client = app.test_client()
    login(client, app, staff[Role.ASSISTANT])
    page = client.get(f"/people/{ids['person_id']}").get_data(as_text=True)
    assert "sara.sample@example.se" in page  # contact details: yes
    for hidden in ('id="journal"', f"people/{ids['person_id']}/reveal", "Klientkort"):
        assert hidden not in page, hidden
    assert 'href="/audit' not in page and "Händelselogg" not in page
    # the button is gone, and the request itself is refused and audited
    html = client.get("/people/").get_data(as_text=True)
    refused = client.post(
        f"/people/{ids['person_id']}/reveal",
        data={"csrf_token": csrf_token(html), "field": "health_notes"},
    )
    assert refused.status_code == 403
    assert "Sömnproblem" not in refused.get_data(as_text=True)
    with db() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == REFUSED_ACTION)).one()
        assert event.actor_user_id == staff[Role.ASSISTANT].id
        assert event.details_dict == {
            "endpoint": "people.reveal",
            "method": "POST",
            "needs": ["health_read"],
        }
        # nothing was read: no "revealed" entry for the assistant
        assert not s.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "person.reveal_health_notes",
                AuditEvent.actor_user_id == staff[Role.ASSISTANT].id,
            )
        )


def test_the_practitioner_reads_health_notes_and_the_journal(app, staff):
    ids = _fill(app, staff)
    client = app.test_client()
    login(client, app, staff[Role.PRACTITIONER])
    page = client.get(f"/people/{ids['person_id']}").get_data(as_text=True)
    assert 'id="journal"' in page
    shown = post_form(
        client,
        f"/people/{ids['person_id']}/reveal",
        {"field": "health_notes"},
        page=f"/people/{ids['person_id']}",
    ).get_data(as_text=True)
    assert "Sömnproblem" in shown and "Första samtalet." in shown
    assert client.get("/audit").status_code == 403  # the trail is the owner's


def test_services_refuse_health_data_to_a_role_without_it(app, db, staff):

    ids = _fill(app, staff)
    assistant = Actor("user", staff[Role.ASSISTANT].id, "127.0.0.1", role="assistant")
    practitioner = Actor("user", staff[Role.PRACTITIONER].id, "127.0.0.1", role="practitioner")
    bookkeeper = Actor("user", staff[Role.BOOKKEEPING].id, role="bookkeeping")
    with db() as s:
        person = s.get(Person, ids["person_id"])
        for actor in (assistant, bookkeeper, Actor("public"), Actor("user", 1)):
            with pytest.raises(roles.PermissionDenied):
                disclosure.reveal_health_notes(s, person, actor)
            with pytest.raises(roles.PermissionDenied):
                people_care.add_journal_entry(s, person, "Andra samtalet.", actor)
            with pytest.raises(roles.PermissionDenied):
                disclosure.reveal_personnummer(s, person, actor)
            with pytest.raises(roles.PermissionDenied):
                people_care.update_client_card(
                    s,
                    person,
                    people_care.ClientCardData(None, None, "x", "explicit_consent"),
                    actor,
                )
        with pytest.raises(roles.PermissionDenied):
            people.update_person(s, person, people.PersonData(name="Ny"), bookkeeper)
        assert disclosure.reveal_health_notes(s, person, practitioner) == "Sömnproblem"
        assert disclosure.reveal_personnummer(s, person, practitioner)
        assert disclosure.reveal_health_notes(s, person, Actor.cli()) == "Sömnproblem"
        people.update_person(s, person, people.PersonData(name="Sara Ny"), assistant)
        s.rollback()
        # the access export holds the health notes and the journal: not for the assistant
        from crm.privacy import export

        with pytest.raises(roles.PermissionDenied):
            export.build(s, person, reader=assistant)
        assert export.build(s, person, reader=practitioner)[:2] == b"PK"
        assert export.build(s, person)[:2] == b"PK"  # the person's own signed link, the CLI


def test_an_unknown_role_may_do_nothing():
    assert roles.perms_of("staff") == frozenset()
    assert roles.perms_of(None) == frozenset()
    assert not roles.can(type("U", (), {"role": "root", "is_authenticated": True})(), Perm.ACCOUNT)


def test_bookkeeping_sees_only_its_own_account_and_an_empty_overview(app, staff):
    _fill(app, staff)
    client = app.test_client()
    login(client, app, staff[Role.BOOKKEEPING])
    overview = client.get("/").get_data(as_text=True)
    assert "Sara Samplesson" not in overview
    for link in ('href="/people/"', 'href="/newsletter/"', 'href="/audit"', 'href="/auth/users"'):
        assert link not in overview, link
    assert 'id="role-note"' in overview
    account = client.get("/auth/account").get_data(as_text=True)
    assert "Ekonomi" in account and "Bara köp- och fakturareferenser." in account


def test_refused_accesses_are_counted_for_the_owner_and_filterable(app, db, staff):
    owner_client, assistant_client = app.test_client(), app.test_client()
    login(owner_client, app, staff[Role.OWNER])
    login(assistant_client, app, staff[Role.ASSISTANT])
    assert assistant_client.get("/audit").status_code == 403
    assert assistant_client.get("/auth/users").status_code == 403
    overview = owner_client.get("/").get_data(as_text=True)
    count = re.search(r'id="refused-accesses"[^>]*><span class="num">(\d+)</span>', overview)
    assert count and count.group(1) == "2"
    trail = owner_client.get("/audit?action=access.denied").get_data(as_text=True)
    assert trail.count("access.denied") >= 2 and "main.audit_log" in trail
    # the practitioner's overview has no such count: the trail is the owner's
    practitioner_client = app.test_client()
    login(practitioner_client, app, staff[Role.PRACTITIONER])
    assert 'id="refused-accesses"' not in practitioner_client.get("/").get_data(as_text=True)


# --- choosing the role ------------------------------------------------------------------------


def test_the_owner_invites_an_assistant_limited_to_one_controller(app, db, owner):

    _first, romme_id = _two_controllers(db)
    client = app.test_client()
    login(client, app, owner)
    users = client.get("/auth/users").get_data(as_text=True)
    for label in ("Ägare", "Behandlare", "Assistent", "Ekonomi"):
        assert label in users
    response = post_form(
        client,
        "/auth/users/invite",
        {"email": "assistent@example.se", "role": "assistant", "controller_id": romme_id},
        page="/auth/users",
    )
    link = re.search(
        r'id="invite-link">http://localhost(/auth/setup/[^<]+)<', response.get_data(as_text=True)
    )
    with db() as s:
        token = s.scalars(
            select(SetupToken).where(SetupToken.email == "assistent@example.se")
        ).one()
        assert (token.role, token.controller_id) == ("assistant", romme_id)
    newcomer = app.test_client()
    post_form(
        newcomer,
        link.group(1),
        {
            "name": "Assi",
            "email": "assistent@example.se",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    with db() as s:
        user = s.scalars(select(User).where(User.email == "assistent@example.se")).one()
        assert (user.role, user.controller_id) == ("assistant", romme_id)
    # and the owner narrows it further later
    post_form(client, f"/auth/users/{user.id}/role", {"role": "bookkeeping"}, page="/auth/users")
    with db() as s:
        assert s.get(User, user.id).role == "bookkeeping"
    refused = post_form(
        client, "/auth/users/invite", {"email": "x@example.se", "role": "staff"}, page="/auth/users"
    )
    # shown again with the error at the role field (issue 16 defect 2), not a bare 400
    assert refused.status_code == 422 and 'id="role-err"' in refused.get_data(as_text=True)


# --- the migration ----------------------------------------------------------------------------


@pytest.fixture
def empty_url(tmp_path) -> str:
    url = os.environ.get("CRM_TEST_DATABASE_URL")
    if url:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS roles_migration_test CASCADE"))
            conn.execute(text("CREATE SCHEMA roles_migration_test"))
        engine.dispose()
        sep = "&" if "?" in url else "?"
        return f"{url}{sep}options=-csearch_path%3Droles_migration_test"
    return f"sqlite:///{tmp_path / 'roles.sqlite3'}"


def _add_user(conn: Any, email: str, role: str) -> None:
    conn.execute(
        text(
            "INSERT INTO user_account (email, name, role, password_hash, password_changed_at, "
            "locale, active, created_at) VALUES (:e, :e, :r, 'x', CURRENT_TIMESTAMP, 'sv', "
            ":t, CURRENT_TIMESTAMP)"
        ),
        {"e": email, "r": role, "t": True},
    )


def test_migration_makes_staff_practitioners_and_going_back_widens_nothing(empty_url):
    cfg = alembic_config(empty_url)
    before = ScriptDirectory.from_config(cfg).get_revision(REVISION).down_revision
    command.upgrade(cfg, before)
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        _add_user(conn, "agare@example.se", "owner")
        _add_user(conn, "personal@example.se", "staff")
        conn.execute(
            text(
                "INSERT INTO setup_token (token_hash, role, email, created_at, expires_at) "
                "VALUES ('h1', 'staff', 'ny@example.se', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    command.upgrade(cfg, REVISION)
    with engine.begin() as conn:
        rows = dict(conn.execute(text("SELECT email, role FROM user_account")).all())
        assert rows == {"agare@example.se": "owner", "personal@example.se": "practitioner"}
        assert conn.execute(text("SELECT role FROM setup_token")).scalar() == "practitioner"
        _add_user(conn, "assistent@example.se", "assistant")
    with pytest.raises(Exception, match="(?i)check|constraint"):
        with engine.begin() as conn:
            _add_user(conn, "okand@example.se", "staff")
    command.downgrade(cfg, before)
    with engine.connect() as conn:
        rows = {
            r.email: (r.role, bool(r.active))
            for r in conn.execute(text("SELECT * FROM user_account"))
        }
    engine.dispose()
    assert rows == {
        "agare@example.se": ("owner", True),
        "personal@example.se": ("staff", True),
        "assistent@example.se": ("staff", False),  # deactivated: never wider than it was
    }
