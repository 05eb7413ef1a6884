"""Login, throttling, MFA, sessions, passwords and roles, through the real pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy import update

from crm import create_app
from crm.audit import Actor
from crm.audit import AuditEvent
from crm.auth import mfa
from crm.auth import services
from crm.auth import throttle
from crm.auth.models import RecoveryCode
from crm.auth.models import Role
from crm.auth.models import User
from crm.auth.models import UserSession
from crm.db import get_session
from crm.db import utcnow
from tests.conftest import PASSWORD
from tests.conftest import app_config
from tests.conftest import wipe
from tests.helpers import TestUser
from tests.helpers import login
from tests.helpers import post_form


def _actions(db) -> list[str]:
    return list(db.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_password_is_hashed_with_argon2id(app, db, owner):
    with db() as s:
        user = s.get(User, owner.id)
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_wrong_password_is_refused_and_audited(app, client, db, owner):
    response = post_form(client, "/auth/login", {"email": owner.email, "password": "wrong" * 4})
    assert response.status_code == 401
    with db() as s:
        assert "auth.login_failed" in _actions(s)
        # the attempted password is nowhere in the audit trail
        assert all("wrong" not in e.details for e in s.scalars(select(AuditEvent)))


def test_unknown_account_gets_the_same_answer(app, client):
    response = post_form(
        client, "/auth/login", {"email": "nobody@example.se", "password": "whatever-password"}
    )
    assert response.status_code == 401


def test_login_requires_the_second_factor(app, client, owner):
    response = post_form(client, "/auth/login", {"email": owner.email, "password": PASSWORD})
    assert response.headers["Location"] == "/auth/mfa"
    # password alone does not open owner pages
    assert client.get("/people/").status_code == 302
    response = post_form(client, "/auth/mfa", {"code": "123456"})
    assert response.status_code == 401
    response = post_form(client, "/auth/mfa", {"code": owner.code(app)})
    assert response.status_code == 302
    assert client.get("/people/").status_code == 200


def test_totp_code_cannot_be_used_twice(app, client, db, owner):
    code = owner.code(app)
    post_form(client, "/auth/login", {"email": owner.email, "password": PASSWORD})
    assert post_form(client, "/auth/mfa", {"code": code}).status_code == 302
    other = app.test_client()
    post_form(other, "/auth/login", {"email": owner.email, "password": PASSWORD})
    assert post_form(other, "/auth/mfa", {"code": code}).status_code == 401


def test_recovery_code_works_once(app, client, db, owner):
    login(client, app, owner)
    page = post_form(
        client,
        "/auth/account/recovery-codes",
        {"rc-password": PASSWORD, "rc-code": owner.code(app)},
        page="/auth/account",
    )

    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", page.get_data(as_text=True))
    assert len(codes) == 10
    for expected in (302, 401):
        fresh = app.test_client()
        post_form(fresh, "/auth/login", {"email": owner.email, "password": PASSWORD})
        # typed in upper case with spaces: still accepted the first time
        typed = codes[0].upper().replace("-", " ")
        assert post_form(fresh, "/auth/mfa", {"code": typed}).status_code == expected


def test_mfa_required_by_default_sends_unenrolled_users_to_setup(app, client, make_user):
    user = make_user("new@example.se", mfa_on=False)
    response = post_form(client, "/auth/login", {"email": user.email, "password": user.password})
    assert response.headers["Location"] == "/auth/mfa/setup"
    assert client.get("/").status_code == 302  # not logged in before enrolment


def test_mfa_can_be_turned_off_for_development(database_url):
    app = create_app(app_config(database_url, REQUIRE_MFA=False))

    with app.app_context():
        services.create_user(
            get_session(),
            email="dev@example.se",
            name="Dev",
            password=PASSWORD,
            role=Role.OWNER,
            actor=Actor.cli(),
        )
        get_session().commit()
    client = app.test_client()
    response = post_form(client, "/auth/login", {"email": "dev@example.se", "password": PASSWORD})
    assert response.headers["Location"] == "/"

    app.extensions["crm.db"]["engine"].dispose()
    wipe(database_url)
    assert TestUser


def test_session_rotates_at_login(app, client, owner):
    client.get("/auth/login")
    with client.session_transaction() as sess:
        sess["planted"] = "attacker"
    login(client, app, owner)
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess["sid"]


def test_logout_revokes_the_session_server_side(app, client, owner):
    login(client, app, owner)
    with client.session_transaction() as sess:
        stolen = dict(sess)
    post_form(client, "/auth/logout", {}, page="/")
    replay = app.test_client()
    with replay.session_transaction() as sess:
        sess.update(stolen)
    assert replay.get("/people/").status_code == 302


@pytest.mark.parametrize(
    ("field", "age"),
    [("last_seen_at", timedelta(minutes=31)), ("created_at", timedelta(hours=12, minutes=1))],
)
def test_idle_and_absolute_timeouts(app, client, db, owner, field, age):
    login(client, app, owner)
    assert client.get("/people/").status_code == 200
    past = utcnow() - age
    values = {field: past}
    if field == "created_at":
        values["last_seen_at"] = utcnow()
    with db() as s:
        s.execute(update(UserSession).values(**values))
        s.commit()
    response = client.get("/people/")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_password_change_ends_other_sessions(app, client, owner):
    login(client, app, owner)
    other = app.test_client()
    login(other, app, owner)
    new_password = "ett helt annat långt lösenord"
    with app.app_context():  # both TOTP steps are spent by the two logins: use a recovery code
        get_session().add(RecoveryCode(user_id=owner.id, code_hash=mfa.hash_recovery_code("ab-cd")))
        get_session().commit()
    response = post_form(
        client,
        "/auth/account",
        {
            "pw-current": PASSWORD,
            "pw-code": "ab-cd",
            "pw-new": new_password,
            "pw-confirm": new_password,
        },
    )
    assert response.status_code == 302
    assert client.get("/people/").status_code == 200  # this browser got a fresh session
    assert other.get("/people/").status_code == 302  # the other one is out


def test_password_policy(app, client, owner):
    login(client, app, owner)
    for weak in ("short", "password1234", "aaaaaaaaaaaaaaaa"):
        response = post_form(
            client, "/auth/account", {"pw-current": PASSWORD, "pw-new": weak, "pw-confirm": weak}
        )
        assert response.status_code == 200
    assert client.get("/people/").status_code == 200


def test_account_throttle_does_not_lock_out_a_known_device(app, client, db, owner):
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    # the owner logged in from this browser before: it holds a device cookie
    login(client, app, owner)
    post_form(client, "/auth/logout", {}, page="/")
    attacker = app.test_client()
    for _ in range(limit):
        response = post_form(
            attacker,
            "/auth/login",
            {"email": owner.email, "password": "guess-guess-guess"},
            environ_base={"REMOTE_ADDR": "203.0.113.9"},
        )
        assert response.status_code == 401
    blocked = post_form(
        attacker,
        "/auth/login",
        {"email": owner.email, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert blocked.status_code == 429
    # the owner's own browser still gets in
    assert client.get_cookie(throttle.DEVICE_COOKIE, path="/auth/") is not None
    login(client, app, owner)
    assert client.get("/people/").status_code == 200


def test_ip_throttle(app, client, make_user):
    app.config["LOGIN_MAX_FAILURES_PER_IP"] = 3
    for i in range(3):
        post_form(client, "/auth/login", {"email": f"u{i}@example.se", "password": "x" * 12})
    response = post_form(client, "/auth/login", {"email": "u9@example.se", "password": "x" * 12})
    assert response.status_code == 429


def test_mfa_throttle(app, client, owner):
    app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"] = 2  # a browser without a device cookie
    post_form(client, "/auth/login", {"email": owner.email, "password": PASSWORD})
    for _ in range(2):
        assert post_form(client, "/auth/mfa", {"code": "000000"}).status_code == 401
    assert post_form(client, "/auth/mfa", {"code": owner.code(app)}).status_code == 429


def test_staff_cannot_manage_users(app, client, make_user):
    staff = make_user("staff@example.se", role="practitioner")
    login(client, app, staff)
    assert client.get("/auth/users").status_code == 403
    response = post_form(
        client,
        "/auth/users/invite",
        {"email": "x@example.se", "role": "owner"},
        page="/auth/account",
    )
    assert response.status_code == 403
    assert client.get("/people/").status_code == 200


def test_owner_invites_staff_who_sets_up_an_account(app, auth_client):
    response = post_form(
        auth_client,
        "/auth/users/invite",
        {"email": "kollega@example.se", "role": "practitioner"},
        page="/auth/users",
    )

    link = re.search(
        r'id="invite-link">http://localhost(/auth/setup/[^<]+)<', response.get_data(as_text=True)
    ).group(1)
    newcomer = app.test_client()
    wrong = post_form(
        newcomer,
        link,
        {"name": "K", "email": "other@example.se", "password": PASSWORD, "confirm": PASSWORD},
    )
    assert wrong.status_code == 200
    ok = post_form(
        newcomer,
        link,
        {
            "name": "Kollega",
            "email": "kollega@example.se",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert ok.status_code == 302


def test_last_owner_cannot_be_demoted_or_deactivated(app, auth_client, db, owner):
    post_form(
        auth_client, f"/auth/users/{owner.id}/role", {"role": "practitioner"}, page="/auth/users"
    )
    post_form(auth_client, f"/auth/users/{owner.id}/active", {}, page="/auth/users")
    with db() as s:
        user = s.get(User, owner.id)
    assert user.role == "owner" and user.active


def test_deactivation_ends_sessions_at_once(app, auth_client, make_user):
    staff = make_user("staff@example.se", role="practitioner")
    staff_client = app.test_client()
    login(staff_client, app, staff)
    post_form(auth_client, f"/auth/users/{staff.id}/active", {}, page="/auth/users")
    assert staff_client.get("/people/").status_code == 302


def test_open_redirect_is_refused(app, client, owner):
    post_form(
        client,
        "/auth/login?next=//evil.example/x",
        {"email": owner.email, "password": PASSWORD},
        page="/auth/login",
    )
    response = post_form(client, "/auth/mfa", {"code": owner.code(app)})
    assert response.headers["Location"] == "/"
