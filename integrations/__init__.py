"""Mail-provider adapters: a pure library (requests only; no Flask, no crm imports).

Each adapter turns the CRM's few operations - upsert, unsubscribe, erase, fetch events, parse a
webhook - into one provider's API calls, through the single HTTP choke point in
:class:`integrations.base.ProviderAdapter`. See shared/docs/providers.md for the quirks handled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.base import ProviderAdapter
from integrations.brevo import BrevoAdapter
from integrations.errors import IntegrationConfigError
from integrations.mailchimp import MailchimpAdapter
from integrations.mailerlite import MailerLiteAdapter

ADAPTERS: dict[str, type[ProviderAdapter]] = {
    a.name: a for a in (MailerLiteAdapter, MailchimpAdapter, BrevoAdapter)
}


def get_adapter(name: str, config: Mapping[str, Any], **kwargs: Any) -> ProviderAdapter:
    """Build the adapter ``name`` from ``<NAME>_API_KEY``-style settings.

    :raises IntegrationConfigError: the provider is unknown or its key or list is missing.
    """
    cls = ADAPTERS.get(name)
    if cls is None:
        raise IntegrationConfigError(f"unknown provider {name!r}")
    prefix = name.upper()
    key = config.get(f"{prefix}_API_KEY")
    list_id = config.get(f"{prefix}_{cls.LIST_SETTING}")
    if not key:
        raise IntegrationConfigError(f"{prefix}_API_KEY is not set")
    if not list_id:
        raise IntegrationConfigError(f"{prefix}_{cls.LIST_SETTING} is not set")
    return cls(str(key), str(list_id), base_url=config.get(f"{prefix}_BASE_URL"), **kwargs)


def enabled_adapters(config: Mapping[str, Any], **kwargs: Any) -> list[ProviderAdapter]:
    """Adapters for every provider that has an API key (a provider without one is off)."""
    return [
        get_adapter(name, config, **kwargs)
        for name in ADAPTERS
        if config.get(f"{name.upper()}_API_KEY")
    ]
