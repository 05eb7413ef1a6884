"""Mail-provider settings entered on the integrations page; the configuration still overrides.

Why: a practice owner should not have to edit a server's environment to connect MailerLite.
What the owner enters (API key, list or group, webhook secret) is stored here, the secrets
encrypted (crm/security/crypto.py) and never shown again in full. A value set in the
configuration (a ``CRM_*`` variable or instance/config.py) wins over the stored one, so a
deployment configured before keeps behaving exactly as it did, and the page says which values
it cannot change. Every reader of provider settings goes through :func:`effective_config`.

Kernel: imports no feature (the outbox asks it which providers are on).
"""

from __future__ import annotations

import json
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

import integrations
from crm import audit
from crm.audit import Actor
from crm.db import Base
from crm.db import UTCDateTime
from crm.db import utcnow
from crm.i18n import N_
from crm.security.crypto import EncryptedText
from integrations.base import ProviderAdapter
from integrations.errors import BadProviderResponse
from integrations.errors import IntegrationConfigError
from integrations.errors import ProviderRejected
from integrations.errors import ProviderUnavailable
from integrations.errors import RateLimited

#: labels of the settings a provider may need (English msgids; the page translates them)
LABELS = {
    "API_KEY": N_("API key"),
    "ACCOUNT_ID": N_("Account id"),
    "API_HASH": N_("API hash"),
    "LIST_ID": N_("List id"),
    "GROUP_ID": N_("Group id"),
    "WEBHOOK_SECRET": N_("Webhook secret"),
}
#: settings whose value is a secret: stored encrypted and shown as the last four characters
SECRETS = frozenset({"API_KEY", "API_HASH", "WEBHOOK_SECRET"})
MAX_LENGTH = 500


class ProviderSettingsError(ValueError):
    """A value was refused; the message is an English msgid."""


class ProviderSetting(Base):
    """What the owner entered for one provider, and the answer of the last connection test.

    Holds no personal data (keys and ids of the practice's own accounts).
    """

    __tablename__ = "provider_setting"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16), unique=True)
    #: JSON {setting: value} of the credentials and the webhook secret, encrypted as a whole
    secrets: Mapped[str | None] = mapped_column(EncryptedText("provider_setting.secrets"))
    #: the list or group id (not a secret: it is shown in full)
    list_id: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: see CHECK_RESULTS; "" until the first test
    check_result: Mapped[str] = mapped_column(String(16), default="")

    def values(self) -> dict[str, str]:
        """The stored settings by name (``API_KEY``, ``GROUP_ID``, ...), without empty ones."""
        out = {k: str(v) for k, v in json.loads(self.secrets or "{}").items() if v}
        if self.list_id:
            out[list_setting(self.provider)] = self.list_id
        return out


def list_setting(name: str) -> str:
    """The setting naming a provider's audience: ``GROUP_ID`` (MailerLite) or ``LIST_ID``."""
    return integrations.ADAPTERS[name].LIST_SETTING


def takes_webhooks(name: str) -> bool:
    """Whether the provider pushes events (its adapter verifies webhooks)."""
    return integrations.ADAPTERS[name].parse_webhook is not ProviderAdapter.parse_webhook


@dataclass(frozen=True)
class Field:
    """One setting as the page shows it."""

    setting: str  # "API_KEY"
    label: str  # English msgid
    secret: bool
    #: the configuration sets it: what is entered here is not used
    overridden: bool
    #: what is stored: a secret's last four characters, a list id in full ("" when nothing)
    shown: str


def fields(name: str, config: Mapping[str, Any], stored: Mapping[str, str]) -> list[Field]:
    """The settings provider ``name`` takes, in the order the page asks for them."""
    cls = integrations.ADAPTERS[name]
    settings = [*cls.KEY_SETTINGS, cls.LIST_SETTING]
    if takes_webhooks(name):
        settings.append("WEBHOOK_SECRET")
    return [
        Field(
            setting=s,
            label=LABELS[s],
            secret=s in SECRETS,
            overridden=bool(config.get(f"{name.upper()}_{s}")),
            shown=mask(stored.get(s, "")) if s in SECRETS else stored.get(s, ""),
        )
        for s in settings
    ]


def mask(value: str) -> str:
    """A secret as the page may show it again: its last four characters, never more.

    A value shorter than twelve characters shows nothing of itself (four of eight would be
    half of it).
    """
    if not value:
        return ""
    return "••••" + (value[-4:] if len(value) >= 12 else "")


def stored(session: Session) -> dict[str, dict[str, str]]:
    """Every provider's stored settings (one query; the table has a row per provider)."""
    return {row.provider: row.values() for row in session.scalars(select(ProviderSetting))}


def effective_config(session: Session, config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The configuration with the stored settings filled in where it sets nothing itself."""
    overlay: dict[str, Any] = {}
    for name, values in stored(session).items():
        for setting, value in values.items():
            key = f"{name.upper()}_{setting}"
            if not config.get(key):
                overlay[key] = value
    return ChainMap(overlay, dict(config)) if overlay else config


def save(
    session: Session,
    name: str,
    values: Mapping[str, str],
    *,
    clear: frozenset[str] = frozenset(),
    actor: Actor,
) -> list[str]:
    """Store what the owner entered for provider ``name``; returns the changed setting names.

    An empty secret keeps the stored one (it is never shown, so the form cannot hold it);
    ``clear`` names secrets to delete. Other values are shown in full, so an empty one clears.
    Audited with the names of the changed settings, never their values.
    """
    if name not in integrations.ADAPTERS:
        raise ProviderSettingsError(N_("Unknown mail provider."))
    allowed = {f.setting for f in fields(name, {}, {})}
    row = session.scalar(select(ProviderSetting).where(ProviderSetting.provider == name))
    if row is None:
        row = ProviderSetting(provider=name, secrets="{}", list_id="")
        session.add(row)
    secrets = {k: v for k, v in json.loads(row.secrets or "{}").items() if v}
    audience = list_setting(name)
    changed: list[str] = []
    for setting in sorted(allowed):
        value = str(values.get(setting, "")).strip()
        if len(value) > MAX_LENGTH:
            raise ProviderSettingsError(N_("A value is too long (at most 500 characters)."))
        if setting == audience:
            if value != row.list_id:
                row.list_id = value
                changed.append(setting)
        elif setting in clear or (not value and setting not in SECRETS):
            if setting in secrets:
                del secrets[setting]
                changed.append(setting)
        elif value and value != secrets.get(setting):
            secrets[setting] = value
            changed.append(setting)
    if changed:
        row.secrets = json.dumps(secrets)
        row.updated_at = utcnow()
        row.check_result, row.checked_at = "", None  # the old answer was about other values
        audit.record(
            session,
            actor,
            "sync.provider_settings",
            object_type="provider",
            object_id=name,
            details={"fields": changed},
        )
    return changed


#: the connection test's answers (codes stored on the row; the page says them in words)
CHECK_RESULTS = (
    "ok",
    "incomplete",
    "wrong_key",
    "no_list",
    "missing_field",
    "rate_limited",
    "unreachable",
    "unexpected",
)


@dataclass(frozen=True)
class CheckOutcome:
    """What the connection test found."""

    result: str  # one of CHECK_RESULTS
    #: the list's name when the provider told it; the HTTP status of an unexpected answer
    detail: str = ""

    @property
    def ok(self) -> bool:
        """The key works and the list exists."""
        return self.result == "ok"


def check(
    session: Session, name: str, config: Mapping[str, Any], *, actor: Actor, timeout: float = 10.0
) -> CheckOutcome:
    """Test the connection with one read-only call, store and audit the answer.

    No retries and no waiting for a rate limit: the owner is looking at the page and gets
    the answer in seconds. Reads :func:`effective_config`, so it tests what the sync will use.
    """
    if name not in integrations.ADAPTERS:
        raise ProviderSettingsError(N_("Unknown mail provider."))
    try:
        adapter = integrations.get_adapter(
            name, effective_config(session, config), timeout=timeout, max_retries=0
        )
    except IntegrationConfigError:
        outcome = CheckOutcome("incomplete")
    else:
        adapter.patience = 0
        with adapter:
            outcome = _ask(adapter)
    row = session.scalar(select(ProviderSetting).where(ProviderSetting.provider == name))
    if row is None:
        row = ProviderSetting(provider=name, secrets="{}", list_id="")
        session.add(row)
    row.check_result, row.checked_at = outcome.result, utcnow()
    audit.record(
        session,
        actor,
        "sync.provider_check",
        object_type="provider",
        object_id=name,
        details={"result": outcome.result},
    )
    return outcome


def _ask(adapter: ProviderAdapter) -> CheckOutcome:
    """Map the adapter's answer (or failure) onto a CheckOutcome."""
    try:
        return CheckOutcome("ok", adapter.check())
    except RateLimited:  # before ProviderUnavailable: it is one
        return CheckOutcome("rate_limited")
    except BadProviderResponse:
        return CheckOutcome("unexpected")
    except ProviderUnavailable:
        return CheckOutcome("unreachable")
    except ProviderRejected as err:
        if err.status in (401, 403):
            return CheckOutcome("wrong_key")
        if err.status == 404:
            return CheckOutcome("no_list")
        if err.title == "missing contact field":  # Paloma (integrations/paloma.py)
            return CheckOutcome("missing_field")
        return CheckOutcome("unexpected", str(err.status))


def last_checks(session: Session) -> dict[str, ProviderSetting]:
    """Every provider's row (for the test's last answer), by provider."""
    return {row.provider: row for row in session.scalars(select(ProviderSetting))}
