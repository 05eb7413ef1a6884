"""The transactional outbox: work for the mail providers, recorded with the change that caused it.

A feature calls :func:`enqueue` in the same transaction as its own change (a confirmation, an
unsubscribe, an erasure), so the change and the promise to tell the providers commit or roll
back together; the nightly sync (crm/sync) delivers them. :class:`ProviderLink` remembers every
provider that ever received an address, so an unsubscribe or erasure reaches all of them
(GDPR Art. 19). Kernel module: it knows provider names from the configuration, never adapters.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from flask import current_app
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import union
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

import integrations
from crm import provider_settings
from crm.db import Base
from crm.db import UTCDateTime
from crm.db import bulk_insert
from crm.db import get_session
from crm.db import utcnow
from crm.security.crypto import EncryptedText

#: every provider the outbox can hold work for: the adapters' registry
PROVIDERS = integrations.PROVIDERS


class Op(StrEnum):
    """What a provider must do."""

    UPSERT = "upsert"
    UNSUBSCRIBE = "unsubscribe"
    ERASE = "erase"
    REMOVE = "remove"  # out of the audience while restricted (Art. 18), reversible


class OutboxOp(Base):
    """One operation for one provider, retried until the provider confirms."""

    __tablename__ = "outbox_op"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    op: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    #: the address, encrypted; scrubbed once the provider confirmed (an erased person's
    #: address lives nowhere else)
    email: Mapped[str | None] = mapped_column(EncryptedText("outbox_op.email"))
    #: "pending", "done", "cancelled" (an upsert overtaken by an unsubscribe or erasure) or
    #: "manual" (the provider's API cannot do it: a recipient task carries it on)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_outbox_op_pending", "provider", "status", "next_attempt_at"),
        # a run finds the legal operations first (crm/sync/runner.py, lanes) without walking
        # a backlog of thousands of pending upserts
        Index("ix_outbox_op_lane", "provider", "status", "op", "next_attempt_at"),
    )


class ProviderLink(Base):
    """A provider that received a person's address, and what we last know of them there."""

    __tablename__ = "provider_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(64))
    #: "active", "unsubscribed", "erased" or "deleted" (removed on the provider's side)
    status: Mapped[str] = mapped_column(String(16), default="active")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("person_id", "provider", name="uq_provider_link_person"),)


def enabled_providers() -> list[str]:
    """Providers with an API key configured or entered (a provider without one is off)."""
    cfg = provider_settings.effective_config(get_session(), current_app.config)
    return [p for p in PROVIDERS if integrations.is_enabled(p, cfg)]


#: one round trip, built once (it runs on every unsubscribe)
_PROVIDERS_FOR = union(
    select(ProviderLink.provider).where(ProviderLink.person_id == bindparam("person_id")),
    select(OutboxOp.provider).where(OutboxOp.person_id == bindparam("person_id")),
)


def providers_for(session: Session, person_id: int) -> set[str]:
    """Every provider that has, or may have, the address: linked, or sent an op already."""
    # Flush first, so a link or op added earlier in this transaction is counted; then run the
    # prebuilt statement on the connection (it is on the one-click unsubscribe's hot path,
    # and Session.execute's ORM handling of it cost more than the flush check).
    session.flush()
    return set(session.connection().scalars(_PROVIDERS_FOR, {"person_id": person_id}))


def enqueue(session: Session, op: Op, person_id: int, email: str, providers: Iterable[str]) -> int:
    """Record ``op`` for each provider in the caller's transaction; returns how many."""
    rows = [
        OutboxOp(provider=p, op=op, person_id=person_id, email=email)
        for p in sorted(set(providers))
    ]
    session.add_all(rows)
    return len(rows)


def enqueue_upserts(session: Session, people: list[tuple[int, str]]) -> int:
    """Bulk version for imports: one upsert per enabled provider per (person id, address)."""
    now = utcnow()
    providers = enabled_providers()
    rows = [
        {
            "provider": p,
            "op": str(Op.UPSERT),
            "person_id": pid,
            "email": email,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "last_error": None,
            "done_at": None,
        }
        for pid, email in people
        for p in providers
    ]
    if rows:
        bulk_insert(session.connection(), OutboxOp.__table__, rows)
    return len(rows)
