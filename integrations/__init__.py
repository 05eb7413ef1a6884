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
    missing = missing_settings(name, config)
    if missing:
        raise IntegrationConfigError(f"{missing[0]} is not set")
    prefix = name.upper()
    return cls(
        str(config[f"{prefix}_API_KEY"]),
        str(config[f"{prefix}_{cls.LIST_SETTING}"]),
        base_url=config.get(f"{prefix}_BASE_URL"),
        **kwargs,
    )


def missing_settings(name: str, config: Mapping[str, Any]) -> list[str]:
    """The settings provider ``name`` still needs (the key, then its list or group)."""
    prefix = name.upper()
    needed = (f"{prefix}_API_KEY", f"{prefix}_{ADAPTERS[name].LIST_SETTING}")
    return [setting for setting in needed if not config.get(setting)]


def enabled_adapters(config: Mapping[str, Any], **kwargs: Any) -> list[ProviderAdapter]:
    """Adapters for every provider that has an API key (a provider without one is off)."""
    return [
        get_adapter(name, config, **kwargs)
        for name in ADAPTERS
        if config.get(f"{name.upper()}_API_KEY")
    ]
