"""Paloma: the adapter against a fake of its documented Contact API, and the sync end to end.

What the API cannot do (unsubscribe, restriction's removal, erase, listing opt-outs) must
never be reported as done: it becomes a task on the dashboard.
"""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import select

import integrations
from crm.audit import Actor
from crm.audit import AuditEvent
from crm.db import get_session
from crm.db import utcnow
from crm.newsletter import common as newsletter_common
from crm.newsletter import mailing_lists
from crm.newsletter import subscribing
from crm.newsletter import unsubscribing
from crm.newsletter.models import Method
from crm.outbox import OutboxOp
from crm.outbox import ProviderLink
from crm.privacy import data_requests
from crm.privacy.models import DataRequest
from crm.privacy.models import RecipientTask
from crm.security import secrets_store
from integrations.errors import OperationNotSupported
from integrations.errors import ProviderRejected
from integrations.paloma import PalomaAdapter
from integrations.types import Contact
from tests.fakes import serve
from tests.helpers import post_form

URL = "https://crm.example.se/u/abc"


@pytest.fixture
def paloma():
    with serve("paloma") as fake:
        yield fake


def _adapter(fake) -> PalomaAdapter:
    return PalomaAdapter("12345:HTYU6hjGHF5Y", "list-guid", fake.url, sleep=lambda _s: None)


def test_paloma_upsert_registers_then_updates_with_the_unsubscribe_link(paloma):
    with _adapter(paloma) as adapter:
        result = adapter.upsert([Contact("Ny@Example.se", "Ny Person", URL)])
        assert result.succeeded == ["Ny@Example.se"] and not result.failed
        contact = paloma.contacts["ny@example.se"]
        assert contact["values"] == {"Email": "ny@example.se", "crm_unsubscribe_url": URL}
        assert contact["lists"] == ["list-guid"]
        assert result.ids["Ny@Example.se"] == str(contact["Id"])
        # the second time it is an update of the same contact, never a second registration
        adapter.upsert([Contact("ny@example.se", "", URL + "2")])
    assert paloma.contacts["ny@example.se"]["values"]["crm_unsubscribe_url"] == URL + "2"
    calls = [(r["method"], r["path"]) for r in paloma.log]
    assert calls.count(("POST", "/contacts/Api/Contact/RegisterNewContact")) == 1
    assert ("PUT", "/contacts/Api/Contact") in calls
    put = next(r for r in paloma.log if r["method"] == "PUT")
    assert put["json"]["Id"] == contact["Id"]
    # Basic auth with the account id and API hash; the name is not sent (not needed)
    expected = "Basic " + base64.b64encode(b"12345:HTYU6hjGHF5Y").decode()
    assert all(r["headers"]["Authorization"] == expected for r in paloma.log)
    assert "Ny Person" not in json.dumps([r["json"] for r in paloma.log])


def test_paloma_upsert_never_claims_a_write_it_cannot_read_back(paloma):
    paloma.drop_fields = {"crm_unsubscribe_url"}  # Paloma accepts the body, ignores the field
    with _adapter(paloma) as adapter:
        result = adapter.upsert([Contact("a@example.se", "", URL)])
    assert result.succeeded == [] and "read back" in result.failed["a@example.se"]


def test_paloma_missing_custom_field_is_named(paloma):
    paloma.fields = [f for f in paloma.fields if f["FieldKey"] != "crm_unsubscribe_url"]
    with _adapter(paloma) as adapter, pytest.raises(ProviderRejected, match="crm_unsubscribe_url"):
        adapter.upsert([Contact("a@example.se", "", URL)])
    assert not paloma.contacts


def test_paloma_cannot_unsubscribe_remove_erase_or_list_opt_outs(paloma):
    """No documented endpoint: each says so, touches nothing, and claims nothing."""
    with _adapter(paloma) as adapter:
        for call in (
            lambda: adapter.unsubscribe(["a@example.se"]),
            lambda: adapter.remove(["a@example.se"]),
            lambda: adapter.erase("a@example.se"),
            lambda: adapter.fetch_events(None),
        ):
            with pytest.raises(OperationNotSupported):
                call()
    assert paloma.log == []


def test_paloma_settings_are_account_id_api_hash_and_list(app):
    cfg = {"PALOMA_ACCOUNT_ID": "12345"}
    assert integrations.missing_settings("paloma", cfg) == ["PALOMA_API_HASH", "PALOMA_LIST_ID"]
    assert integrations.is_enabled("paloma", cfg)
    cfg |= {"PALOMA_API_HASH": "h", "PALOMA_LIST_ID": "g", "PALOMA_BASE_URL": "http://127.0.0.1"}
    adapter = integrations.get_adapter("paloma", cfg)
    assert adapter._auth() == {"auth": ("12345", "h")} and adapter.list_id == "g"


def _configure(app, fake) -> None:
    app.config.update(
        PALOMA_ACCOUNT_ID="12345",
        PALOMA_API_HASH="HTYU6hjGHF5Y",
        PALOMA_LIST_ID="list-guid",
        PALOMA_BASE_URL=fake.url,
        SYNC_TIMEOUT=2,
        SYNC_MAX_RETRIES=0,
    )


def _subscriber(app, email: str) -> int:
    with app.app_context():
        s = get_session()
        secrets_store.ensure(s)
        subscribing.add_manual(
            s,
            email=email,
            name="Paula Paloma",
            list_id=mailing_lists.default_list(s).id,
            method="paper_form",
            note="",
            actor=Actor.cli(),
        )
        s.commit()
        return newsletter_common.find_person(s, email).id


def _sync(app) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["sync"])
    return result.exit_code, result.output


def test_paloma_end_to_end_upsert_unsubscribe_and_erase_through_the_sync(
    app, db, paloma, auth_client
):
    """Upsert -> at Paloma; unsubscribe and erase -> tasks; pull -> said to be manual."""
    _configure(app, paloma)
    _subscriber(app, "paula@example.se")
    code, out = _sync(app)
    assert code == 0, out
    stored = paloma.contacts["paula@example.se"]["values"]["crm_unsubscribe_url"]
    assert "/u/" in stored and paloma.status("paula@example.se") == "active"
    assert "cannot be pulled" in out

    # unsubscribe locally -> the sync cannot do it at Paloma -> a task, not "done"
    with app.app_context():
        s = get_session()
        person = newsletter_common.find_person(s, "paula@example.se")
        unsubscribing.unsubscribe(s, person, Method.STAFF_ON_BEHALF, Actor.cli())
        s.commit()
    code, out = _sync(app)
    assert code == 0, out  # nothing pending: the work moved to a task
    assert "manual 1" in out
    with db() as s:
        op = s.scalar(select(OutboxOp).where(OutboxOp.op == "unsubscribe"))
        assert op.status == "manual" and op.email is None
        task = s.scalar(select(RecipientTask).where(RecipientTask.outbox_op_id == op.id))
        assert (task.recipient, task.action) == ("Paloma", "unsubscribe")
    page = auth_client.get("/").get_data(as_text=True)
    assert 'id="recipient-tasks"' in page and "Paula Paloma &lt;paula@example.se&gt;" in page
    assert paloma.status("paula@example.se") == "active"  # the CRM claimed nothing there
    with db() as s:
        link = s.scalar(select(ProviderLink).where(ProviderLink.provider == "paloma"))
        assert link.status == "active"  # until staff did it
        task_id = s.scalar(select(RecipientTask.id).where(RecipientTask.action == "unsubscribe"))
    post_form(auth_client, f"/privacy/recipient-tasks/{task_id}/done", {}, page="/")
    with db() as s:
        link = s.scalar(select(ProviderLink).where(ProviderLink.provider == "paloma"))
        assert link.status == "unsubscribed"

    # erasure -> the erase at Paloma becomes a task; the request waits for it
    with app.app_context():
        s = get_session()
        person = newsletter_common.find_person(s, "paula@example.se")
        rid = data_requests.open_request(s, person, "erasure", "email", utcnow(), Actor.cli()).id
        s.commit()
    post_form(
        auth_client,
        f"/privacy/requests/{rid}/erase",
        {"confirmed": "yes"},
        page=f"/privacy/requests/{rid}",
    )
    code, out = _sync(app)
    assert code == 0, out
    with db() as s:
        assert s.get(DataRequest, rid).status == "open"
        erase = s.scalar(
            select(RecipientTask).where(
                RecipientTask.action == "erase", RecipientTask.recipient == "Paloma"
            )
        )
        assert erase.request_id == rid and erase.subject == "paula@example.se"
        erase_id = erase.id
    page = auth_client.get(f"/privacy/requests/{rid}").get_data(as_text=True)
    assert "Paloma" in page and f"/privacy/recipient-tasks/{erase_id}/done" in page
    post_form(
        auth_client,
        f"/privacy/recipient-tasks/{erase_id}/done",
        {"next": "request"},
        page=f"/privacy/requests/{rid}",
    )
    with db() as s:
        assert s.get(DataRequest, rid).status == "completed"
        task = s.get(RecipientTask, erase_id)
        assert task.done_at is not None and task.done_by_id is not None and task.subject is None
        texts = json.dumps(
            [(e.action, e.details) for e in s.scalars(select(AuditEvent))], default=str
        )
    assert "paula" not in texts.lower()  # no name or address in the audit trail


def test_paloma_integrations_page_names_what_is_manual(app, auth_client, paloma):
    app.config["PALOMA_ACCOUNT_ID"] = "12345"
    page = auth_client.get("/integrations/").get_data(as_text=True)
    start = page.index('id="provider-paloma"')
    card = page[start : page.index("</section>", start)]
    assert "Saknas: API-hashen och listans id." in card and "CRM_" not in card
    assert "manual-ops" in card
