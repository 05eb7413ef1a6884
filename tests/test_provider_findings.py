"""Issue 13: the adapters held against the providers' own documentation.

Each test is named after the review finding it guards. The fakes in tests/fakes.py reproduce
the documented behaviour (required fields, asynchronous imports, webhook envelopes), so these
tests fail on code that only agreed with our own earlier reading of the APIs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import requests
from openapi_schema_validator import OAS30Validator
from sqlalchemy import select

from crm import create_app
from crm.audit import Actor
from crm.db import get_session
from crm.newsletter import common as newsletter_common
from crm.newsletter import unsubscribing
from crm.newsletter.models import Method
from crm.newsletter.models import Subscription
from crm.outbox import OutboxOp
from crm.people.models import Person
from crm.privacy import forget as privacy_forget
from crm.privacy import rights
from crm.sync.models import ProviderEvent
from crm.sync.models import ProviderState
from integrations import get_adapter
from integrations.mailchimp import UNSUB_TAG
from integrations.types import Contact
from tests.conftest import app_config
from tests.fakes import finish_imports
from tests.fakes import serve
from tests.test_integrations import SPECS
from tests.test_integrations import _resolve
from tests.test_integrations import _spec
from tests.test_sync import SECRETS
from tests.test_sync import _import
from tests.test_sync import _sync
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
    numeric = create_app(app_config(database_url))
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


# --- finding 1: Mailchimp upsert -------------------------------------------------------------


def _adapter(name: str, fake, list_id: str = "7"):
    setting = "GROUP_ID" if name == "mailerlite" else "LIST_ID"
    adapter = get_adapter(
        name,
        {
            f"{name.upper()}_API_KEY": "key-us1",
            f"{name.upper()}_{setting}": list_id,
            f"{name.upper()}_BASE_URL": fake.url,
        },
        sleep=lambda _s: None,
    )
    adapter.MIN_INTERVAL = 0
    return adapter


def test_finding_1_mailchimp_batch_members_need_status_and_never_resubscribe():
    """``Add_List_Members`` has ``status`` (required) and no ``status_if_new``.

    ``update_existing: true`` overwrites an existing member's status, so the upsert adds new
    members as subscribed with ``update_existing: false`` and updates the merge fields of the
    existing ones with ``PUT .../members/{hash}`` and ``status_if_new``, which never changes an
    existing member's status (shared/specs/mailchimp, Add_List_Members and
    putListsIdMembersId; https://mailchimp.com/developer/marketing/api/list-members/).
    """
    with serve("mailchimp") as fake:
        adapter = _adapter("mailchimp", fake)
        result = adapter.upsert(
            [Contact("new@example.se", "Ny", "https://crm/u/1"), Contact("left@example.se")]
        )
        assert sorted(result.succeeded) == ["left@example.se", "new@example.se"], result.failed
        assert fake.status("new@example.se") == "subscribed"
        # the member leaves at Mailchimp; later the CRM pushes a new name and link
        fake.contacts["left@example.se"]["status"] = "unsubscribed"
        result = adapter.upsert([Contact("left@example.se", "Lämnat", "https://crm/u/2")])
        assert result.succeeded == ["left@example.se"], result.failed
        member = fake.contacts["left@example.se"]
        assert member["status"] == "unsubscribed"  # never resubscribed
        assert member["merge_fields"] == {"FNAME": "Lämnat", UNSUB_TAG: "https://crm/u/2"}
        for body in [r["json"] for r in fake.log if r["path"] == "/3.0/lists/7"]:
            for m in body["members"]:
                assert "status_if_new" not in m and m["status"] in ("subscribed", "unsubscribed")
            if any(m["status"] == "subscribed" for m in body["members"]):
                assert body["update_existing"] is False


def test_finding_1_mailchimp_fake_follows_the_documented_batch_semantics():
    """The fake itself: no status is an error item, update_existing overwrites the status."""
    with serve("mailchimp") as fake:
        url, auth = f"{fake.url}/lists/7", ("crm", "key-us1")
        only_if_new = {"email_address": "a@example.se", "status_if_new": "subscribed"}
        body = requests.post(url, json={"members": [only_if_new]}, auth=auth, timeout=5).json()
        assert body["error_count"] == 1 and body["errors"][0]["field"] == "status"
        assert "a@example.se" not in fake.contacts
        fake.contacts["b@example.se"] = {
            "email_address": "b@example.se",
            "id": hashlib.md5(b"b@example.se").hexdigest(),  # noqa: S324
            "status": "unsubscribed",
            "merge_fields": {},
        }
        member = {"email_address": "b@example.se", "status": "subscribed"}
        body = requests.post(url, json={"members": [member]}, auth=auth, timeout=5).json()
        assert body["errors"][0]["error_code"] == "ERROR_CONTACT_EXISTS"
        assert fake.status("b@example.se") == "unsubscribed"
        requests.post(
            url, json={"members": [member], "update_existing": True}, auth=auth, timeout=5
        )
        assert fake.status("b@example.se") == "subscribed"  # the documented overwrite


def test_finding_1_mailchimp_put_bodies_match_the_openapi_spec():
    """The PUT the upsert falls back to is the documented add-or-update member body."""
    if not SPECS.exists():
        pytest.skip("needs ../shared/specs next to the repository")

    spec = _spec("mailchimp/mailchimp-marketing-3.0.55.openapi.yaml")
    op = spec["paths"]["/lists/{list_id}/members/{subscriber_hash}"]["put"]
    schema = _resolve(spec, op["requestBody"]["content"]["application/json"]["schema"])
    # the saved copy types merge-field values as objects (see the batch contract test)
    schema["properties"]["merge_fields"]["additionalProperties"] = {"type": "string"}
    with serve("mailchimp") as fake:
        adapter = _adapter("mailchimp", fake)
        adapter.upsert([Contact("p@example.se", "P", "https://crm/u/p")])
        adapter.upsert([Contact("p@example.se", "P2", "https://crm/u/p")])
    puts = [r["json"] for r in fake.log if r["method"] == "PUT"]
    assert len(puts) == 1 and "status" not in puts[0]
    OAS30Validator(schema).validate(puts[0])
    assert set(schema["required"]) <= set(puts[0])


# --- finding 2: Brevo imports are asynchronous -----------------------------------------------


def test_finding_2_brevo_legal_ops_wait_for_a_pending_import(app, db, tmp_path, request):
    """``POST /contacts/import`` answers 202 with a ``processId``; contacts appear later.

    An unsubscribe, erasure or list removal pushed before the import is processed must not
    be lost (``/contacts/batch`` skips contacts that do not exist yet, DELETE answers 404),
    nor undone when the import lands: the operations wait until ``GET /processes/{id}``
    says the import completed (shared/specs/brevo: importContacts, getProcess).
    """
    running = request.getfixturevalue("fakes")
    brevo = running["brevo"]
    brevo.import_delay = None  # the import stays queued until the test finishes it
    emails = ["u@example.se", "e@example.se", "r@example.se", "keep@example.se"]
    _import(app, tmp_path, emails)
    code, out = _sync(app)
    assert code == 0, out
    assert all(email not in brevo.contacts for email in emails)  # not imported yet
    with app.app_context():
        s = get_session()
        unsubscribing.unsubscribe(
            s,
            newsletter_common.find_person(s, "u@example.se"),
            Method.UNSUBSCRIBE_LINK,
            Actor.cli(),
        )
        assert (
            privacy_forget.forget(s, newsletter_common.find_person(s, "e@example.se"), Actor.cli())
            == "erased"
        )
        rights.restrict(s, newsletter_common.find_person(s, "r@example.se"), Actor.cli())
        s.commit()
    code, out = _sync(app)
    assert code == 1, out  # Brevo's operations wait for the import
    with db() as s:
        waiting = s.scalars(
            select(OutboxOp).where(OutboxOp.provider == "brevo", OutboxOp.status == "pending")
        ).all()
        assert sorted(op.op for op in waiting) == ["erase", "remove", "unsubscribe"]
        assert all("import" in (op.last_error or "") for op in waiting)
    # the other providers are not held up
    assert running["mailchimp"].status("u@example.se") == "unsubscribed"
    assert "e@example.se" in running["mailchimp"].forgotten

    finish_imports(brevo)  # Brevo processes the import now: every contact lands, active
    assert brevo.status("u@example.se") == "active" and "e@example.se" in brevo.contacts
    code, out = _sync(app)
    assert code == 0, out
    assert brevo.status("u@example.se") == "unsubscribed"
    assert "e@example.se" not in brevo.contacts and "e@example.se" in brevo.forgotten
    assert 7 not in brevo.contacts["r@example.se"]["listIds"]
    assert brevo.status("keep@example.se") == "active"
    with db() as s:
        assert s.scalar(
            select(ProviderState.pending_imports).where(ProviderState.provider == "brevo")
        ) in (None, "{}")


def test_finding_2_brevo_fake_imports_after_a_delay():
    """The fake processes an import only once its delay passed, as Brevo's processes do."""
    with serve("brevo") as fake:
        fake.import_delay = 0.3
        adapter = _adapter("brevo", fake)
        result = adapter.upsert([Contact("a@example.se", "A")])
        assert result.succeeded == ["a@example.se"]
        [(process_id, members)] = result.pending.items()
        assert members == ["a@example.se"] and "a@example.se" not in fake.contacts
        assert adapter.unfinished([process_id]) == [process_id]
        deadline = time.monotonic() + 10  # wait on the condition, not a fixed sleep
        while adapter.unfinished([process_id]) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert adapter.unfinished([process_id]) == []
        assert fake.status("a@example.se") == "active"
        assert adapter.unfinished(["999"]) == []  # unknown to Brevo: nothing left to wait for


def test_finding_1_mailchimp_member_in_compliance_state_is_updated_not_failed():
    """A member who left may be refused as "in a compliance state": still only merge fields."""
    with serve("mailchimp") as fake:
        adapter = _adapter("mailchimp", fake)
        adapter.upsert([Contact("gone@example.se", "Gone")])
        fake.contacts["gone@example.se"]["status"] = "unsubscribed"
        refusal = {
            "email_address": "gone@example.se",
            "error": "gone@example.se is in a compliance state due to unsubscribe, bounce, or "
            "compliance review and cannot be subscribed.",
            "error_code": "ERROR_GENERIC",
        }
        original = adapter._json  # the fake answers ERROR_CONTACT_EXISTS; reword it

        def crafted(response):
            body = original(response)
            if isinstance(body, dict) and "errors" in body and body["errors"]:
                body["errors"] = [refusal]
            return body

        adapter._json = crafted
        result = adapter.upsert([Contact("gone@example.se", "Namn")])
    assert result.succeeded == ["gone@example.se"] and not result.failed
    assert fake.contacts["gone@example.se"]["status"] == "unsubscribed"
    assert fake.contacts["gone@example.se"]["merge_fields"]["FNAME"] == "Namn"
