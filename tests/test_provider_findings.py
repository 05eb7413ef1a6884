"""Issue 13: the adapters held against the providers' own documentation.

Each test is named after the review finding it guards. The fakes in tests/fakes.py reproduce
the documented behaviour (required fields, asynchronous imports, webhook envelopes), so these
tests fail on code that only agreed with our own earlier reading of the APIs.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from sqlalchemy import select

from crm import create_app
from crm.newsletter.models import Subscription
from crm.people.models import Person
from tests.conftest import test_config
from tests.test_sync import SECRETS
from tests.test_sync import _import
from tests.test_sync import fakes  # noqa: F401 - the fixture

# --- finding 7: webhook input ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "kwargs"),
    [
        ("mailerlite", {"headers": {"Signature": "ä" * 64}}),
        ("brevo", {"headers": {"Authorization": "Bearer tökén"}}),
        ("mailchimp", {"query_string": {"secret": "hemlig-å"}}),
    ],
)
def test_finding_7_non_ascii_signature_or_token_is_403_not_500(app, client, provider, kwargs):
    """A forged header or query value outside ASCII is a bad credential, not a crash."""
    app.config[f"{provider.upper()}_API_KEY"] = "key-us1"
    app.config[f"{provider.upper()}_{'GROUP_ID' if provider == 'mailerlite' else 'LIST_ID'}"] = "7"
    app.config[f"{provider.upper()}_WEBHOOK_SECRET"] = SECRETS[provider]
    response = client.post(f"/webhooks/{provider}", data=b'{"email": "a@example.se"}', **kwargs)
    assert response.status_code == 403


def test_finding_7_numeric_webhook_secret_from_the_environment_is_a_string(
    app, client, database_url, monkeypatch
):
    """``CRM_BREVO_WEBHOOK_SECRET=12345`` is parsed as JSON into an int; it is still the token."""
    monkeypatch.setenv("CRM_BREVO_WEBHOOK_SECRET", "12345")
    monkeypatch.setenv("CRM_MAILERLITE_WEBHOOK_SECRET", "1e5")
    numeric = create_app(test_config(database_url))
    try:
        assert numeric.config["BREVO_WEBHOOK_SECRET"] == 12345  # what config parsing makes of it
        assert numeric.config["MAILERLITE_WEBHOOK_SECRET"] == 100000.0
        numeric.config.update(
            BREVO_API_KEY="k", BREVO_LIST_ID="7", MAILERLITE_API_KEY="k", MAILERLITE_GROUP_ID="7"
        )
        web = numeric.test_client()
        hook = {"event": "spam", "email": "nobody@example.se", "ts_event": 1764000000}
        ok = web.post("/webhooks/brevo", json=hook, headers={"Authorization": "Bearer 12345"})
        assert ok.status_code == 200, ok.get_data(as_text=True)
        body = json.dumps({"event": "subscriber.unsubscribed", "email": "n@example.se"}).encode()
        # the secret is the text as written in the environment, not Python's str(100000.0)
        signature = hmac.new(b"1e5", body, hashlib.sha256).hexdigest()
        signed = web.post(
            "/webhooks/mailerlite",
            data=body,
            headers={"Signature": signature},
            content_type="application/json",
        )
        assert signed.status_code == 200, signed.get_data(as_text=True)
    finally:
        numeric.extensions["crm.db"]["engine"].dispose()


def _subscription(db, email: str) -> str | None:
    with db() as s:
        return s.scalar(select(Subscription.status).join(Person).where(Person.email == email))


def _received(db) -> list[tuple[str, str, object]]:
    from crm.sync.models import ProviderEvent

    with db() as s:
        rows = s.scalars(select(ProviderEvent).order_by(ProviderEvent.id)).all()
        return [(r.email, r.type, r.occurred_at) for r in rows]


# --- finding 3: Brevo marketing webhooks -----------------------------------------------------


@pytest.mark.usefixtures("fakes")
def test_finding_3_brevo_webhook_id_is_the_webhooks_not_the_events(app, db, tmp_path, client):
    """Brevo's ``id`` names the webhook, the same on every event; the event names are Brevo's.

    https://developers.brevo.com/docs/marketing-webhooks: ``id`` is the "Internal id of
    webhook"; events ``unsubscribe``, ``hard_bounce``, ``spam``; ``ts_event`` in UTC seconds.
    """
    _import(app, tmp_path, ["u@example.se", "h@example.se", "s@example.se"])
    batch = [
        {
            "id": 812,
            "event": "unsubscribe",
            "email": "u@example.se",
            "camp_id": 3,
            "list_id": [7],
            "date_event": "2026-11-30 10:00:00",
            "ts_event": 1796032800,
        },
        {
            "id": 812,
            "event": "hard_bounce",
            "email": "h@example.se",
            "camp_id": 3,
            "date_event": "2026-11-30 10:00:05",
            "ts_event": 1796032805,
        },
    ]
    auth = {"Authorization": "Bearer br-token"}
    first = client.post("/webhooks/brevo", json=batch, headers=auth)
    assert first.status_code == 200 and first.json == {"stored": 2, "applied": 2}
    spam = {"id": 812, "event": "spam", "email": "s@example.se", "ts_event": 1796032900}
    second = client.post("/webhooks/brevo", json=spam, headers=auth)
    assert second.json == {"stored": 1, "applied": 1}
    # the same deliveries again (Brevo retries): nothing new
    assert client.post("/webhooks/brevo", json=batch, headers=auth).json["stored"] == 0
    assert client.post("/webhooks/brevo", json=spam, headers=auth).json["stored"] == 0
    # a later event for the same address is its own event
    later = {"id": 812, "event": "spam", "email": "u@example.se", "ts_event": 1796033000}
    assert client.post("/webhooks/brevo", json=later, headers=auth).json["stored"] == 1
    assert _subscription(db, "u@example.se") == "unsubscribed"
    assert _subscription(db, "h@example.se") == "bounced"
    assert _subscription(db, "s@example.se") == "complained"
    times = {email: when for email, _type, when in _received(db)}
    assert times["h@example.se"].isoformat() == "2026-11-30T10:00:05+00:00"  # ts_event is UTC


# --- finding 4: MailerLite webhooks ----------------------------------------------------------


def _mailerlite_hook(client, payload):
    body = json.dumps(payload).encode()
    signature = hmac.new(b"ml-secret", body, hashlib.sha256).hexdigest()
    return client.post(
        "/webhooks/mailerlite",
        data=body,
        headers={"Signature": signature},
        content_type="application/json",
    )


def _ml_subscriber(sid: str, email: str, **times: str) -> dict:
    return {"id": sid, "email": email, "status": "active", "fields": {}, **times}


@pytest.mark.usefixtures("fakes")
def test_finding_4_mailerlite_batched_envelope_is_read(app, db, tmp_path, client):
    """Batched deliveries wrap events as ``{"events": [{"type", "subscriber"}], "total"}``.

    https://developers.mailerlite.com/docs/webhooks ("batchable"; ``subscriber.deleted`` is
    only sent batched). ISO-8601 times are read, not dropped.
    """
    _import(app, tmp_path, ["b1@example.se", "b2@example.se", "b3@example.se"])
    envelope = {
        "events": [
            {
                "type": "subscriber.unsubscribed",
                "subscriber": _ml_subscriber(
                    "101",
                    "b1@example.se",
                    unsubscribed_at="2026-11-30T10:00:00.000000Z",
                    updated_at="2026-11-30T10:00:00.000000Z",
                ),
            },
            {
                "type": "subscriber.spam_reported",
                "subscriber": _ml_subscriber(
                    "102", "b2@example.se", updated_at="2026-11-30T10:01:00.000000Z"
                ),
            },
            {
                "type": "subscriber.deleted",
                "subscriber": _ml_subscriber(
                    "103", "b3@example.se", updated_at="2026-11-30T10:02:00.000000Z"
                ),
            },
        ],
        "total": 3,
    }
    response = _mailerlite_hook(client, envelope)
    assert response.status_code == 200 and response.json == {"stored": 3, "applied": 2}
    assert _subscription(db, "b1@example.se") == "unsubscribed"
    assert _subscription(db, "b2@example.se") == "complained"
    assert _subscription(db, "b3@example.se") == "active"  # deleted there; not deleted here
    received = {email: (kind, when) for email, kind, when in _received(db)}
    assert received["b1@example.se"][1].isoformat() == "2026-11-30T10:00:00+00:00"
    assert received["b3@example.se"][0] == "deleted"
    assert _mailerlite_hook(client, envelope).json["stored"] == 0  # a retried delivery


@pytest.mark.usefixtures("fakes")
def test_finding_4_mailerlite_later_event_for_the_same_subscriber_is_kept(
    app, db, tmp_path, client
):
    """A single delivery is the flat subscriber plus ``event``; its id is the subscriber's."""
    _import(app, tmp_path, ["f@example.se"])
    first = {
        "event": "subscriber.updated",
        **_ml_subscriber("201", "f@example.se", updated_at="2026-11-30T09:00:00.000000Z"),
    }
    assert _mailerlite_hook(client, first).json == {"stored": 1, "applied": 0}
    second = {
        "event": "subscriber.unsubscribed",
        **_ml_subscriber(
            "201",
            "f@example.se",
            unsubscribed_at="2026-11-30T10:00:00.000000Z",
            updated_at="2026-11-30T10:00:00.000000Z",
        ),
    }
    assert _mailerlite_hook(client, second).json == {"stored": 1, "applied": 1}
    assert _subscription(db, "f@example.se") == "unsubscribed"
    assert _mailerlite_hook(client, second).json["stored"] == 0
