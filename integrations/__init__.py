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
from integrations.paloma import PalomaAdapter

#: the one list of providers: the outbox, the CLI and the pages all read it from here
ADAPTERS: dict[str, type[ProviderAdapter]] = {
    a.name: a for a in (MailerLiteAdapter, MailchimpAdapter, BrevoAdapter, PalomaAdapter)
}
PROVIDERS: tuple[str, ...] = tuple(ADAPTERS)


def display_name(name: str) -> str:
    """The provider's own spelling of its name ("MailerLite"); an unknown key as it is."""
    cls = ADAPTERS.get(name)
    return cls.display_name if cls is not None else name


def get_adapter(name: str, config: Mapping[str, Any], **kwargs: Any) -> ProviderAdapter:
    """Build the adapter ``name`` from ``<NAME>_API_KEY``-style settings.

    Paloma has two credentials, an account id and an API hash, joined as ``id:hash``.

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
        ":".join(str(config[f"{prefix}_{setting}"]) for setting in cls.KEY_SETTINGS),
        str(config[f"{prefix}_{cls.LIST_SETTING}"]),
        base_url=config.get(f"{prefix}_BASE_URL"),
        **kwargs,
    )


def missing_settings(name: str, config: Mapping[str, Any]) -> list[str]:
    """The settings provider ``name`` still needs (the key, then its list or group)."""
    prefix = name.upper()
    cls = ADAPTERS[name]
    needed = (*(f"{prefix}_{s}" for s in cls.KEY_SETTINGS), f"{prefix}_{cls.LIST_SETTING}")
    return [setting for setting in needed if not config.get(setting)]


def enabled_adapters(config: Mapping[str, Any], **kwargs: Any) -> list[ProviderAdapter]:
    """Adapters for every provider that has an API key (a provider without one is off)."""
    return [get_adapter(name, config, **kwargs) for name in ADAPTERS if is_enabled(name, config)]


def is_enabled(name: str, config: Mapping[str, Any]) -> bool:
    """A provider is on when its first credential (the API key, Paloma's account id) is set."""
    return bool(config.get(f"{name.upper()}_{ADAPTERS[name].KEY_SETTINGS[0]}"))
