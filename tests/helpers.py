"""Helpers the tests share: forms with CSRF, logging in, and the newsletter's public steps.

Plain functions and classes, not fixtures: tests import them (``from tests.helpers import
post_form``); tests/conftest.py holds the fixtures.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func
from sqlalchemy import select

from crm.auth import mfa
from crm.auth.models import User
from crm.db import get_session
from crm.newsletter.models import Subscription
from crm.people.models import Person

_CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def csrf_token(html: str) -> str:
    """Pull the CSRF token out of a rendered page."""
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def post_form(
    client: FlaskClient, url: str, data: dict[str, Any], *, page: str | None = None, **kwargs: Any
) -> Any:
    """GET ``page`` (default ``url``) for a CSRF token, then POST ``data`` to ``url``."""
    html = client.get(page or url).get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_token(html), **data}, **kwargs)


@dataclass
class TestUser:
    """A user created for a test, with what it takes to log in as them."""

    id: int
    email: str
    password: str
    totp_secret: str | None

    __test__ = False

    def code(self, app: Flask) -> str:
        """Return a TOTP code this user has not used yet (tests log in more than once)."""
        assert self.totp_secret
        with app.app_context():
            last = get_session().get(User, self.id).totp_last_counter
        current = int(time.time() // mfa.STEP_SECONDS)
        # Never the previous step: at a step boundary the server may already be one step on.
        counter = next(c for c in (current, current + 1) if last is None or c > last)
        return pyotp.TOTP(self.totp_secret).generate_otp(counter)


def login(client: FlaskClient, app: Flask, user: TestUser) -> Any:
    """Log in through the real pages: password, then the TOTP code."""
    response = post_form(client, "/auth/login", {"email": user.email, "password": user.password})
    assert response.status_code == 302, response.get_data(as_text=True)
    if user.totp_secret:
        assert response.headers["Location"].startswith("/auth/mfa")
        response = post_form(client, "/auth/mfa", {"code": user.code(app)})
        assert response.status_code == 302, response.get_data(as_text=True)
    return response


# --- the newsletter's public steps -----------------------------------------------------------

EMAIL = "lisa@example.se"


def signup(client, email=EMAIL, **extra):
    """Sign up through the public form, as a browser would."""
    page = client.get("/subscribe").get_data(as_text=True)
    text_id = re.search(r'name="consent_text_id" value="(\d+)"', page).group(1)
    data = {"email": email, "name": "Lisa", "consent": "1", "consent_text_id": text_id, **extra}
    return client.post("/subscribe", data=data, headers={"User-Agent": "TestBrowser/1.0"})


def mail_link(mail, path: str) -> str:
    """Return the path of the link to ``path`` in a mail."""
    body = mail.get_content()
    return re.search(rf"http://localhost({path}/\S+)", body).group(1)


def count_rows(db, model, **where) -> int:
    """Count the rows of ``model`` matching ``where``."""
    with db() as s:
        return s.scalar(select(func.count()).select_from(model).filter_by(**where))


def subscription_of(db, email=EMAIL) -> Subscription:
    """Return the subscription of the person with this address."""
    with db() as s:
        return s.scalar(select(Subscription).join(Person).where(Person.email == email))


def subscribe_confirmed(client, inbox, email=EMAIL) -> str:
    """Sign up and confirm; return the unsubscribe path from the welcome mail."""
    assert signup(client, email).status_code == 200
    confirm = mail_link(inbox.last(email), "/confirm")
    post_form(client, confirm, {})
    welcome = inbox.last(email)
    return re.search(r"<http://localhost(/u/[^>]+)>", welcome["List-Unsubscribe"]).group(1)
