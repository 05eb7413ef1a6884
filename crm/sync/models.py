"""Provider events (pulled or pushed to us), per-provider cursors, and sync run reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from crm.db import Base
from crm.db import UTCDateTime
from crm.db import utcnow
from crm.security.crypto import EncryptedText


class ProviderEvent(Base):
    """An event from a provider, stored once however often it arrives."""

    __tablename__ = "provider_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    #: sha256 of the event's dedupe key (which contains the address)
    dedupe_hash: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: "pull" or "webhook"
    source: Mapped[str] = mapped_column(String(8))
    #: the normalised address and the provider's raw payload, encrypted (personal data)
    email: Mapped[str] = mapped_column(EncryptedText("provider_event.email"))
    raw: Mapped[str] = mapped_column(EncryptedText("provider_event.raw"))
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProviderState(Base):
    """Where the last successful pull of a provider started (the next one overlaps it).

    Also the provider's asynchronous imports that have not finished yet (Brevo answers an
    import with a processId and creates the contacts later): JSON ``{process id: [keyed
    address hashes]}``. Unsubscribes, erasures and removals of those addresses wait for them,
    or the import would land after them and undo them.
    """

    __tablename__ = "provider_state"

    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    cursor: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pending_imports: Mapped[str | None] = mapped_column(Text)


class SyncRun(Base):
    """One run of the sync: when, whether everything got through, and the per-provider report."""

    __tablename__ = "sync_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    #: JSON: {provider: {pulled, applied, pushed, failed, pending, error}}
    report: Mapped[str] = mapped_column(Text, default="{}")
    trigger: Mapped[str] = mapped_column(String(8), default="cli")
