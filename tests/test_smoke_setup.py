"""First run: the one-time owner link, account creation and MFA enrolment via the test client."""

from __future__ import annotations

import re

import pyotp

from crm.auth import services
from crm.db import get_session
from tests.conftest import PASSWORD
from tests.helpers import post_form


def _first_owner_link(app):
    with app.app_context():
        db = get_session()
        token = services.first_owner_token(db)
        db.commit()
    return f"/auth/setup/{token}"


def test_first_owner_can_set_up_account_and_mfa(app, client):
    link = _first_owner_link(app)
    response = post_form(
        client,
        link,
        {
            "name": "Anna Terapeut",
            "email": "Anna@Example.se",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert response.status_code == 302
    # the link is single-use
    assert client.get(link).status_code == 404

    response = post_form(client, "/auth/login", {"email": "anna@example.se", "password": PASSWORD})
    assert response.headers["Location"] == "/auth/mfa/setup"
    page = client.get("/auth/mfa/setup").get_data(as_text=True)
    assert "<svg" in page  # QR rendered on the server
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)

    response = post_form(client, "/auth/mfa/setup", {"code": "000000"})
    assert "recovery-codes" not in response.get_data(as_text=True)
    response = post_form(client, "/auth/mfa/setup", {"code": pyotp.TOTP(secret).now()})
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", response.get_data(as_text=True))
    assert len(codes) == 10
    assert client.get("/").status_code == 200


def test_first_owner_link_dies_once_an_account_exists(app, client, make_user):
    link = _first_owner_link(app)
    make_user("someone@example.se")
    assert client.get(link).status_code == 404


def test_only_the_newest_first_owner_link_works(app, client):
    old = _first_owner_link(app)
    new = _first_owner_link(app)
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200


def test_setup_refuses_weak_password_and_keeps_input(app, client):
    link = _first_owner_link(app)
    response = post_form(
        client,
        link,
        {
            "name": "Anna",
            "email": "anna@example.se",
            "password": "password1234",
            "confirm": "password1234",
        },
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="anna@example.se"' in body
    assert client.get(link).status_code == 200  # still usable
