"""Newsletter unsubscribe (RFC 8058 one-click, the button page) and its signed links."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sqlalchemy import select

from crm.audit import AuditEvent
from crm.newsletter.models import ConsentRecord
from crm.newsletter.models import Suppression
from crm.security import tokens
from tests.helpers import EMAIL
from tests.helpers import count_rows
from tests.helpers import mail_link
from tests.helpers import subscribe_confirmed
from tests.helpers import subscription_of


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_rfc8058_one_click_unsubscribe(app, client, db, inbox, encoding):
    path = subscribe_confirmed(client, inbox)
    mail_client = app.test_client()  # no cookies at all, like a mail provider's server
    kwargs = {"data": {"List-Unsubscribe": "One-Click"}}
    if encoding == "multipart":
        kwargs["content_type"] = "multipart/form-data"
    assert mail_client.get(path).status_code == 200
    assert subscription_of(db).status == "active"  # GET changed nothing
    response = mail_client.post(path, **kwargs)
    assert response.status_code == 200 and "Location" not in response.headers
    assert "Set-Cookie" not in response.headers
    assert subscription_of(db).status == "unsubscribed"
    with db() as s:
        withdraw = s.scalar(select(ConsentRecord).where(ConsentRecord.action == "withdraw"))
        assert withdraw.method == "one_click"
        assert s.scalar(select(Suppression.reason)) == "unsubscribed"
        assert "newsletter.unsubscribe" in s.scalars(select(AuditEvent.action)).all()
    counts = (
        count_rows(db, ConsentRecord),
        count_rows(db, Suppression),
        count_rows(db, AuditEvent),
    )
    assert mail_client.post(path, **kwargs).status_code == 200  # idempotent
    assert (
        count_rows(db, ConsentRecord),
        count_rows(db, Suppression),
        count_rows(db, AuditEvent),
    ) == counts


def test_unsubscribe_button_page(app, client, db, inbox):
    path = subscribe_confirmed(client, inbox)
    page = client.get(path).get_data(as_text=True)
    assert f'action="{path}"' in page
    done = client.post(path)
    assert done.status_code == 200 and "Du är avregistrerad" in done.get_data(as_text=True)
    with db() as s:
        assert (
            s.scalar(select(ConsentRecord.method).where(ConsentRecord.action == "withdraw"))
            == "unsubscribe_link"
        )
    # the page is rendered once per language: a reader who chose English gets English
    client.set_cookie("crm_lang", "en")
    again = client.post(path).get_data(as_text=True)
    assert "You are unsubscribed" in again and "Du är avregistrerad" not in again
    client.delete_cookie("crm_lang")
    assert "Du är avregistrerad" in client.post(path).get_data(as_text=True)


def test_tampered_and_unknown_tokens(app, client):
    assert client.get("/u/not-a-token").status_code == 400
    assert client.post("/u/not-a-token").status_code == 400
    assert "Länken är inte giltig" in client.get("/u/xyz").get_data(as_text=True)
    with app.app_context():
        unknown = tokens.sign(tokens.Purpose.UNSUBSCRIBE, "no-such-person")
        other_purpose = tokens.sign(tokens.Purpose.CONFIRM, "no-such-person")
    done = client.post(f"/u/{unknown}")
    assert done.status_code == 200 and "Du är avregistrerad" in done.get_data(as_text=True)
    assert client.post(f"/u/{other_purpose}").status_code == 400


@settings(
    max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(position=st.integers(min_value=0, max_value=80), char=st.sampled_from("aZ09-_."))
def test_no_altered_unsubscribe_token_is_accepted(app, client, position, char):
    with app.app_context():
        token = tokens.sign(tokens.Purpose.UNSUBSCRIBE, "pid")
    i = position % len(token)
    altered = token[:i] + char + token[i + 1 :]
    if altered != token:
        assert client.post(f"/u/{altered}").status_code in (400, 429)


def test_bad_tokens_are_rate_limited_per_ip(app, client):
    app.config["BAD_TOKEN_MAX_PER_IP"] = 3
    codes = [client.post("/u/bad").status_code for _ in range(5)]
    assert codes[:3] == [400] * 3 and codes[-1] == 429


def test_tampered_confirm_and_expired_preferences_links(app, client, inbox, monkeypatch):
    assert client.get("/confirm/garbage").status_code == 400
    assert client.get("/preferences/garbage").status_code == 400
    path = subscribe_confirmed(client, inbox)
    client.post(f"{path}/preferences-link")
    prefs = mail_link(inbox.last(EMAIL), "/preferences")

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 31 * 86400)
    assert client.get(prefs).status_code == 410
    assert client.post(path).status_code == 200  # unsubscribe links never expire


def test_unsubscribe_url_command(app, client, inbox, db):
    subscribe_confirmed(client, inbox)
    result = app.test_cli_runner().invoke(args=["unsubscribe-url", EMAIL.upper()])
    url = result.output.strip()
    assert url.startswith("http://localhost/u/")
    assert app.test_client().post(url.removeprefix("http://localhost")).status_code == 200
    assert subscription_of(db).status == "unsubscribed"
    missing = app.test_cli_runner().invoke(args=["unsubscribe-url", "nobody@example.se"])
    assert missing.exit_code != 0
