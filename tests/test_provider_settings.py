"""Mail providers configured on /integrations/ (issue 16, "Mail providers configured in the UI").

Keys are stored encrypted and shown again only as their last four characters; "Testa
anslutningen" makes one read-only call through the adapter (against the local fakes here) and
says what the provider answered; a value from the configuration still wins, and the page says so.
"""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import select
from sqlalchemy import text

from crm import provider_settings
from crm.audit import AuditEvent
from crm.provider_settings import ProviderSetting
from tests import fakes
from tests.conftest import post_form

KEY = "mlkey-0123456789-abcdefWXYZ"
LIST_FIELD = {"mailerlite": "GROUP_ID", "mailchimp": "LIST_ID", "brevo": "LIST_ID"}


def _save(auth_client, provider: str, data: dict[str, str]):
    return post_form(auth_client, f"/integrations/{provider}/settings", data, page="/integrations/")


def _check(auth_client, provider: str) -> str:
    response = post_form(auth_client, f"/integrations/{provider}/check", {}, page="/integrations/")
    assert response.status_code == 302
    return auth_client.get("/integrations/").get_data(as_text=True)


def test_a_key_entered_is_stored_encrypted_and_shown_only_by_its_end(app, db, auth_client):
    response = _save(auth_client, "mailerlite", {"API_KEY": f"  {KEY}\n", "GROUP_ID": "77"})
    assert response.status_code == 302
    page = auth_client.get("/integrations/").get_data(as_text=True)
    assert KEY not in page and "WXYZ" in page and 'value="77"' in page
    with db() as s:
        raw = s.execute(text("SELECT secrets, list_id FROM provider_setting")).one()
        assert KEY not in raw.secrets and "WXYZ" not in raw.secrets
        assert raw.list_id == "77"
        assert provider_settings.stored(s)["mailerlite"] == {"API_KEY": KEY, "GROUP_ID": "77"}
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "sync.provider_settings"))
        assert event.object_id == "mailerlite" and KEY not in (event.details or "")
    with app.test_request_context():
        from crm.outbox import enabled_providers

        assert enabled_providers() == ["mailerlite"]


def test_an_empty_secret_keeps_the_saved_one_and_remove_deletes_it(db, auth_client):
    _save(auth_client, "brevo", {"API_KEY": "brevo-key-000011112222", "LIST_ID": "5"})
    _save(auth_client, "brevo", {"API_KEY": "", "LIST_ID": "6"})
    with db() as s:
        assert provider_settings.stored(s)["brevo"] == {
            "API_KEY": "brevo-key-000011112222",
            "LIST_ID": "6",
        }
    _save(auth_client, "brevo", {"API_KEY": "", "LIST_ID": "6", "clear": "API_KEY"})
    with db() as s:
        assert provider_settings.stored(s)["brevo"] == {"LIST_ID": "6"}


def test_a_refused_value_shows_the_error_in_place_and_keeps_what_was_typed(db, auth_client):
    response = _save(auth_client, "mailchimp", {"API_KEY": "k" * 501, "LIST_ID": "abc123"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="settings-error-mailchimp"' in page and 'value="abc123"' in page
    with db() as s:
        assert s.scalar(select(ProviderSetting)) is None


def test_the_configuration_overrides_and_the_page_says_so(app, db, auth_client):
    app.config.update(MAILERLITE_API_KEY="from-the-environment", MAILERLITE_GROUP_ID="1")
    _save(auth_client, "mailerlite", {"API_KEY": KEY, "GROUP_ID": "77"})
    page = auth_client.get("/integrations/").get_data(as_text=True)
    assert 'id="overridden-mailerlite"' in page and page.count('class="overridden"') == 2
    with db() as s:
        cfg = provider_settings.effective_config(s, app.config)
    assert cfg["MAILERLITE_API_KEY"] == "from-the-environment" and cfg["MAILERLITE_GROUP_ID"] == "1"


@pytest.mark.parametrize("provider", ["mailerlite", "mailchimp", "brevo"])
def test_the_connection_test_reads_once_and_says_ok(app, db, auth_client, provider):
    with fakes.serve(provider) as fake:
        app.config[f"{provider.upper()}_BASE_URL"] = fake.url
        _save(auth_client, provider, {"API_KEY": "key-0000-1111-us1", LIST_FIELD[provider]: "7"})
        page = _check(auth_client, provider)
    assert "the key works and the list exists" in page or "nyckeln fungerar" in page
    assert [r["method"] for r in fake.log] == ["GET"]
    with db() as s:
        row = s.scalar(select(ProviderSetting))
        assert row.check_result == "ok" and row.checked_at is not None
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "sync.provider_check"))
        assert event.object_id == provider


@pytest.mark.parametrize(
    ("fault", "result"),
    [(401, "wrong_key"), (404, "no_list"), ((429, {"Retry-After": "30"}), "rate_limited")],
)
def test_the_connection_test_names_what_went_wrong(app, db, auth_client, fault, result):
    with fakes.serve("brevo") as fake:
        app.config["BREVO_BASE_URL"] = fake.url
        _save(auth_client, "brevo", {"API_KEY": "brevo-key-000011112222", "LIST_ID": "7"})
        fake.faults.append(fault)
        _check(auth_client, "brevo")
    assert len(fake.log) == 1  # no retry, no waiting: the owner is looking at the page
    with db() as s:
        assert s.scalar(select(ProviderSetting.check_result)) == result


def test_an_unreachable_provider_and_missing_settings_are_said_so(app, db, auth_client):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    app.config["MAILCHIMP_BASE_URL"] = f"http://127.0.0.1:{port}/3.0"
    _check(auth_client, "mailchimp")
    with db() as s:
        assert s.scalar(select(ProviderSetting.check_result)) == "incomplete"
    _save(auth_client, "mailchimp", {"API_KEY": "key-0000-1111-us1", "LIST_ID": "7"})
    page = _check(auth_client, "mailchimp")
    with db() as s:
        assert s.scalar(select(ProviderSetting.check_result)) == "unreachable"
    assert "Mailchimp" in page


def test_a_webhook_is_verified_with_the_secret_entered_in_the_page(app, auth_client, client):
    _save(
        auth_client,
        "brevo",
        {"API_KEY": "brevo-key-000011112222", "LIST_ID": "7", "WEBHOOK_SECRET": "hemlig-token"},
    )
    wrong = client.post("/webhooks/brevo", json=[], headers={"Authorization": "Bearer fel"})
    assert wrong.status_code == 403
    right = client.post(
        "/webhooks/brevo", json=[], headers={"Authorization": "Bearer hemlig-token"}
    )
    assert right.status_code == 200
