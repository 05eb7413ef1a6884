"""Provider adapters against local fake providers (real HTTP on 127.0.0.1).

Faults are injected, and request bodies are checked against the official specs in
../shared/specs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from functools import cache
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft4Validator
from openapi_schema_validator import OAS30Validator

from integrations import enabled_adapters
from integrations import get_adapter
from integrations.errors import BadProviderResponse
from integrations.errors import IntegrationConfigError
from integrations.errors import ProviderRejected
from integrations.errors import ProviderUnavailable
from integrations.errors import RateLimited
from integrations.errors import WebhookRejected
from integrations.types import Contact
from integrations.types import EventType
from tests.fakes import serve

SPECS = Path(__file__).resolve().parent.parent.parent / "shared" / "specs"
PROVIDERS = ["mailerlite", "mailchimp", "brevo"]


@pytest.fixture(params=PROVIDERS)
def provider(request):
    """A fake provider and an adapter pointed at it, with recorded (not real) sleeps."""
    with serve(request.param) as fake:
        sleeps: list[float] = []
        prefix = request.param.upper()
        setting = "GROUP_ID" if request.param == "mailerlite" else "LIST_ID"
        adapter = get_adapter(
            request.param,
            {
                f"{prefix}_API_KEY": "key-us6",
                f"{prefix}_{setting}": "7",
                f"{prefix}_BASE_URL": fake.url,
            },
            timeout=0.5,
            sleep=sleeps.append,
        )
        adapter.MIN_INTERVAL = 0  # throttling is tested on its own; keep the suite fast
        yield fake, adapter, sleeps
        adapter.close()


def _contacts(n: int) -> list[Contact]:
    return [Contact(f"p{i}@example.se", f"P {i}", f"https://crm.example/u/t{i}") for i in range(n)]


def test_upsert_unsubscribe_never_resubscribe_erase(provider):
    fake, adapter, _ = provider
    result = adapter.upsert(_contacts(3))
    assert sorted(result.succeeded) == ["p0@example.se", "p1@example.se", "p2@example.se"]
    assert fake.status("p1@example.se") in ("active", "subscribed")
    stored = json.dumps(fake.contacts["p1@example.se"])
    assert "https://crm.example/u/t1" in stored  # the CRM's unsubscribe link is pushed
    adapter.unsubscribe(["p1@example.se"])
    assert fake.status("p1@example.se") == "unsubscribed"
    adapter.upsert(_contacts(3))  # a later upsert must not resubscribe
    assert fake.status("p1@example.se") == "unsubscribed"
    adapter.erase("p2@example.se")
    assert "p2@example.se" not in fake.contacts
    adapter.erase("p2@example.se")  # again: already erased counts as done
    adapter.erase("never@example.se")


def test_fetch_events_finds_provider_side_unsubscribes(provider):
    fake, adapter, _ = provider
    adapter.upsert(_contacts(2))
    adapter.unsubscribe(["p0@example.se"])
    events = adapter.fetch_events(None)
    assert [(e.email, e.type) for e in events] == [("p0@example.se", EventType.UNSUBSCRIBED)]
    assert events[0].raw is not None and events[0].dedupe_key


def test_batches_respect_the_provider_size(provider):
    fake, adapter, _ = provider
    before = adapter.calls
    adapter.upsert(_contacts(adapter.BATCH_SIZE + 1))
    assert adapter.calls - before == 2


@pytest.mark.parametrize("fault", [429, 500, 503, "reset", (429, {"Retry-After": "7"})])
def test_retryable_faults_are_retried(provider, fault):
    fake, adapter, sleeps = provider
    fake.faults = [fault]
    adapter.upsert(_contacts(1))
    assert fake.status("p0@example.se") in ("active", "subscribed")
    if isinstance(fault, tuple):
        assert sleeps == [7.0]  # Retry-After honoured
    else:
        assert len(sleeps) == 1


def test_timeouts_then_give_up_with_a_typed_error(provider):
    fake, adapter, sleeps = provider
    fake.stall = 1.5
    adapter.max_retries = 1  # two attempts are enough to show the retry; keeps the test short
    fake.faults = ["timeout"] * (adapter.max_retries + 1)
    with pytest.raises(ProviderUnavailable) as err:
        adapter.upsert(_contacts(1))
    assert err.value.retryable and "key-us6" not in str(err.value)
    assert len(sleeps) == adapter.max_retries


def test_persistent_429_raises_rate_limited(provider):
    fake, adapter, _ = provider
    fake.faults = [429] * (adapter.max_retries + 1)
    with pytest.raises(RateLimited):
        adapter.unsubscribe(["p0@example.se"])


def test_invalid_json_is_a_bad_response(provider):
    fake, adapter, _ = provider
    fake.faults = ["badjson"] * (adapter.max_retries + 1)
    with pytest.raises(BadProviderResponse):
        adapter.fetch_events(None)


def test_client_errors_are_not_retried(provider):
    fake, adapter, sleeps = provider
    fake.faults = [401]
    with pytest.raises(ProviderRejected) as err:
        adapter.unsubscribe(["p0@example.se"])
    assert err.value.status == 401 and sleeps == [] and not err.value.retryable


def test_partial_batch_failures_are_reported_per_address():
    for name in ("mailerlite", "mailchimp"):
        with serve(name) as fake:
            setting = "GROUP_ID" if name == "mailerlite" else "LIST_ID"
            adapter = get_adapter(
                name,
                {
                    f"{name.upper()}_API_KEY": "k-us1",
                    f"{name.upper()}_{setting}": "1",
                    f"{name.upper()}_BASE_URL": fake.url,
                },
            )
            adapter.MIN_INTERVAL = 0
            if name == "mailchimp":
                adapter.upsert([Contact("gone@example.se")])
                adapter.erase("gone@example.se")
                bad = "gone@example.se"
            else:
                bad = "invalid@example.se"
            result = adapter.upsert([Contact("ok@example.se"), Contact(bad)])
            assert result.succeeded == ["ok@example.se"] and bad in result.failed, name


def test_configuration_errors():
    with pytest.raises(IntegrationConfigError):
        get_adapter("mailchimp", {"MAILCHIMP_API_KEY": "k"})
    with pytest.raises(IntegrationConfigError):
        get_adapter("paloma", {})

    assert [a.name for a in enabled_adapters({"BREVO_API_KEY": "k", "BREVO_LIST_ID": "3"})] == [
        "brevo"
    ]


def test_mailchimp_data_centre_from_key():
    adapter = get_adapter("mailchimp", {"MAILCHIMP_API_KEY": "abc-us21", "MAILCHIMP_LIST_ID": "x"})
    assert adapter.base_url == "https://us21.api.mailchimp.com/3.0"


# --- webhooks ------------------------------------------------------------------------------------


def test_mailerlite_webhook_signature():
    adapter = get_adapter("mailerlite", {"MAILERLITE_API_KEY": "k", "MAILERLITE_GROUP_ID": "1"})
    body = json.dumps(
        {"type": "subscriber.unsubscribed", "data": {"email": "A@example.se"}}
    ).encode()
    signature = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    events = adapter.parse_webhook({"Signature": signature}, body, {}, "s3cret")
    assert [(e.email, e.type) for e in events] == [("a@example.se", EventType.UNSUBSCRIBED)]
    with pytest.raises(WebhookRejected):
        adapter.parse_webhook({"Signature": "0" * 64}, body, {}, "s3cret")
    with pytest.raises(WebhookRejected):
        adapter.parse_webhook({"Signature": signature}, body + b" ", {}, "s3cret")


def test_mailchimp_and_brevo_webhook_tokens():
    mc = get_adapter("mailchimp", {"MAILCHIMP_API_KEY": "k-us1", "MAILCHIMP_LIST_ID": "1"})
    form = (
        b"type=cleaned&fired_at=2026-11-22+10%3A00%3A00&data%5Bemail%5D=b%40example.se"
        b"&data%5Breason%5D=abuse"
    )
    events = mc.parse_webhook({}, form, {"secret": "tok"}, "tok")
    assert [(e.email, e.type) for e in events] == [("b@example.se", EventType.COMPLAINED)]
    with pytest.raises(WebhookRejected):
        mc.parse_webhook({}, form, {"secret": "wrong"}, "tok")
    br = get_adapter("brevo", {"BREVO_API_KEY": "k", "BREVO_LIST_ID": "1"})
    body = json.dumps({"event": "unsubscribed", "email": "C@example.se", "id": 9}).encode()
    events = br.parse_webhook({"Authorization": "Bearer tok"}, body, {}, "tok")
    assert [(e.email, e.type) for e in events] == [("c@example.se", EventType.UNSUBSCRIBED)]
    with pytest.raises(WebhookRejected):
        br.parse_webhook({"Authorization": "Bearer nope"}, body, {}, "tok")


# --- contract tests against the official specs ---------------------------------------------------


@cache
def _spec(path: str) -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load((SPECS / path).read_text(), Loader=loader)  # noqa: S506 - safe loader


def _resolve(spec: dict, node):
    """Inline every $ref so the validator sees one self-contained schema."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return _resolve(spec, target)
        return {k: _resolve(spec, v) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(spec, v) for v in node]
    return node


def _sent(fake, method: str, suffix: str) -> list[dict]:
    return [r["json"] for r in fake.log if r["method"] == method and r["path"].endswith(suffix)]


@pytest.mark.skipif(not SPECS.exists(), reason="needs ../shared/specs next to the repository")
def test_mailchimp_requests_match_the_openapi_spec():
    spec = _spec("mailchimp/mailchimp-marketing-3.0.55.openapi.yaml")
    op = spec["paths"]["/lists/{list_id}"]["post"]
    schema = _resolve(spec, op["requestBody"]["content"]["application/json"]["schema"])
    # The saved copy (re-emitted by openapi-generator) types each merge-field *value* as an
    # object, contradicting its own description ("values to be added to the merge field") and
    # Mailchimp's text merge fields, which take strings. Only that one node is corrected.
    merge = schema["properties"]["members"]["items"]["properties"]["merge_fields"]
    assert merge["additionalProperties"] == {
        "type": "object",
        "description": merge["additionalProperties"]["description"],
    }
    merge["additionalProperties"] = {"type": "string"}
    with serve("mailchimp") as fake:
        adapter = get_adapter(
            "mailchimp",
            {
                "MAILCHIMP_API_KEY": "k-us1",
                "MAILCHIMP_LIST_ID": "1",
                "MAILCHIMP_BASE_URL": fake.url,
            },
        )
        adapter.upsert(_contacts(2))
        adapter.unsubscribe(["p0@example.se"])
        adapter.remove(["p0@example.se"])
        adapter.erase("p1@example.se")
    assert "DELETE" in [r["method"] for r in fake.log]  # remove = archive (reversible)
    bodies = _sent(fake, "POST", "/lists/1")
    assert len(bodies) == 2
    for body in bodies:
        OAS30Validator(schema).validate(body)
    assert "/3.0/lists/1/members/" + hashlib.md5(
        b"p1@example.se"
    ).hexdigest() + "/actions/delete-permanent" in [r["path"] for r in fake.log]  # noqa: S324


@pytest.mark.skipif(not SPECS.exists(), reason="needs ../shared/specs next to the repository")
def test_brevo_requests_match_the_swagger_spec():
    spec = _spec("brevo/brevo-api-v3.swagger.yaml")

    def body_schema(path: str) -> dict:
        params = spec["paths"][path]["post"]["parameters"]
        return _resolve(spec, next(p for p in params if p["in"] == "body")["schema"])

    with serve("brevo") as fake:
        adapter = get_adapter(
            "brevo", {"BREVO_API_KEY": "k", "BREVO_LIST_ID": "5", "BREVO_BASE_URL": fake.url}
        )
        adapter.MIN_INTERVAL = 0
        adapter.upsert(_contacts(2))
        adapter.unsubscribe(["p0@example.se"])
        adapter.remove(["p1@example.se"])
    for path, suffix in (
        ("/contacts/import", "/contacts/import"),
        ("/contacts/batch", "/contacts/batch"),
        ("/contacts/lists/{listId}/contacts/remove", "/contacts/remove"),
    ):
        bodies = _sent(fake, "POST", suffix)
        assert bodies
        for body in bodies:
            Draft4Validator(body_schema(path)).validate(body)


def test_mailerlite_requests_follow_providers_md():
    with serve("mailerlite") as fake:
        adapter = get_adapter(
            "mailerlite",
            {
                "MAILERLITE_API_KEY": "k",
                "MAILERLITE_GROUP_ID": "42",
                "MAILERLITE_BASE_URL": fake.url,
            },
        )
        adapter.MIN_INTERVAL = 0
        adapter.upsert(_contacts(1))
        adapter.erase("p0@example.se")
    batch = _sent(fake, "POST", "/api/batch")[0]["requests"][0]
    assert batch["method"] == "POST" and batch["path"] == "api/subscribers"
    assert batch["body"]["groups"] == ["42"] and "status" not in batch["body"]
    assert fake.log[0]["headers"]["Authorization"] == "Bearer k"
    paths = [r["path"] for r in fake.log]
    assert paths[-2] == "/api/subscribers/p0%40example.se" or paths[-2].startswith(
        "/api/subscribers/p0"
    )
    assert paths[-1].endswith("/forget")
