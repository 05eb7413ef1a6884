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

from crm import create_app
from tests.conftest import test_config
from tests.test_sync import SECRETS
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
