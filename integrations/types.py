"""The vocabulary shared by every adapter."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from enum import StrEnum
from typing import Any


def parse_iso(value: Any) -> datetime | None:
    """Read an ISO-8601 time as providers write it ("Z" allowed); None when absent or bad."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


class EventType(StrEnum):
    """What happened to an address at a provider (a closed set; unknown stays UNKNOWN)."""

    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    DELETED = "deleted"
    SUBSCRIBED = "subscribed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Contact:
    """What the CRM pushes: the address, a name, and the CRM's own unsubscribe link."""

    email: str
    name: str = ""
    unsubscribe_url: str = ""


@dataclass(frozen=True)
class ContactEvent:
    """A normalised event, with the provider's raw payload kept for the record."""

    provider: str
    email: str
    type: EventType
    occurred_at: datetime | None
    provider_event_id: str | None = None
    raw: Any = None

    @property
    def dedupe_key(self) -> str:
        """Key that makes storing the same event twice (retries, overlapping pulls) a no-op."""
        if self.provider_event_id:
            return f"{self.provider}:{self.provider_event_id}"
        when = self.occurred_at.isoformat() if self.occurred_at else ""
        return f"{self.provider}:{self.email.lower()}:{self.type}:{when}"


@dataclass
class BatchResult:
    """Per-address outcome of a batch call (providers report item failures inside a 2xx)."""

    succeeded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    #: provider ids learned on the way (MailerLite), by address
    ids: dict[str, str] = field(default_factory=dict)
    #: asynchronous work the provider accepted but has not done yet (Brevo's import
    #: processes): process id -> the addresses in it; see ProviderAdapter.unfinished
    pending: dict[str, list[str]] = field(default_factory=dict)

    def merge(self, other: BatchResult) -> None:
        """Add another batch's outcome to this one."""
        self.succeeded += other.succeeded
        self.failed.update(other.failed)
        self.ids.update(other.ids)
        self.pending.update(other.pending)
