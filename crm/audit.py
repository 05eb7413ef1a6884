"""Append-only, hash-chained audit trail (GDPR Art. 5(2), ASVS V16).

Each row carries the hash of the previous row, so altering or removing any row - including the
newest, which the chain head remembers - is detected by :func:`verify_chain` (``crm audit
verify``). Rows hold who, what, which object, when and from which IP; never a sensitive value:
``details`` is for field names and counts, not contents.

Concurrency: the single ``audit_chain`` row is updated *before* it is read, which takes a row
lock on PostgreSQL and the write lock on SQLite, so two transactions can never both append
after the same row and fork the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import bindparam
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from crm.db import Base
from crm.db import UTCDateTime
from crm.db import utcnow

GENESIS_HASH = "0" * 64


class AuditEvent(Base):
    """One audited action. Never updated or deleted by the application."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: position in the chain, contiguous from 1
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: the staff user who acted, if any (kept as a plain id so erasing a user keeps the trail)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: "user", "public", "cli" or "system"
    actor_kind: Mapped[str] = mapped_column(String(16))
    #: dotted verb such as "person.create" or "auth.login_failed"
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))
    #: canonical JSON of non-sensitive details (field names, counts, outcomes)
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    def __repr__(self) -> str:
        return f"<AuditEvent seq={self.seq} action={self.action!r}>"

    @property
    def details_dict(self) -> dict[str, Any]:
        """The details as a dict, for display."""
        return json.loads(self.details)


# "Entries about this person" is asked on every person page.
Index("ix_audit_event_object", AuditEvent.object_type, AuditEvent.object_id)


class AuditChain(Base):
    """The chain head: one row holding the newest sequence number and hash."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)


@dataclass(frozen=True)
class Actor:
    """Who did something and from where; built by the web layer or the CLI."""

    kind: str
    user_id: int | None = None
    ip: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        """The person at the command line (who is not known to the app)."""
        return cls("cli")

    @classmethod
    def system(cls) -> Actor:
        """The app itself: the nightly sync, retention."""
        return cls("system")


_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_user_id",
    "actor_kind",
    "action",
    "object_type",
    "object_id",
    "ip",
    "details",
    "prev_hash",
    "hash",
)


def _digest(fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _fields(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(),
        "actor_user_id": event.actor_user_id,
        "actor_kind": event.actor_kind,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "ip": event.ip,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }


_chain = AuditChain.__table__
#: built once: constructing these per call cost more than running them
_TAKE_NEXT_SEQ = (
    update(_chain)
    .where(_chain.c.id == 1)
    .values(seq=_chain.c.seq + 1)
    .returning(_chain.c.seq, _chain.c.last_hash)
)
_INSERT_EVENT = insert(AuditEvent.__table__)
_SET_LAST_HASH = update(_chain).where(_chain.c.id == 1).values(last_hash=bindparam("new_hash"))


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    object_type: str | None = None,
    object_id: object | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event to the chain in the caller's transaction (the caller commits).

    Returns the event as written (not attached to the session).

    :param details: non-sensitive facts only: names of changed fields, counts, outcomes.
    """
    # Update first: this takes the lock that serialises appends (see the module docstring).
    # Prebuilt Core statements on the session's connection, not the unit of work: this runs
    # inside the database's write lock on every audited request, so it must be short.
    connection = session.connection()
    head = connection.execute(_TAKE_NEXT_SEQ).one()
    event = AuditEvent(
        seq=head.seq,
        occurred_at=utcnow(),
        actor_user_id=actor.user_id,
        actor_kind=actor.kind,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        ip=actor.ip,
        details=json.dumps(details or {}, sort_keys=True, separators=(",", ":")),
        prev_hash=head.last_hash,
    )
    event.hash = _digest(_fields(event))
    connection.execute(_INSERT_EVENT, {column: getattr(event, column) for column in _COLUMNS})
    connection.execute(_SET_LAST_HASH, {"new_hash": event.hash})
    return event


@dataclass(frozen=True)
class ChainReport:
    """Outcome of :func:`verify_chain`."""

    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str = ""


def _events_in_order(session: Session) -> Iterator[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000)
    yield from session.scalars(stmt)


def verify_chain(session: Session) -> ChainReport:
    """Walk the chain and report the first row that was altered, removed or inserted."""
    expected_prev, expected_seq, checked = GENESIS_HASH, 1, 0
    for event in _events_in_order(session):
        if event.seq != expected_seq:
            return ChainReport(False, checked, expected_seq, "row missing (sequence gap)")
        if event.prev_hash != expected_prev:
            return ChainReport(False, checked, event.seq, "link to previous row broken")
        if _digest(_fields(event)) != event.hash:
            return ChainReport(False, checked, event.seq, "row content altered")
        expected_prev, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
    head = session.get(AuditChain, 1)
    if head is None:
        return ChainReport(False, checked, None, "chain head missing")
    if head.seq != checked or head.last_hash != expected_prev:
        return ChainReport(False, checked, checked + 1, "newest rows removed (head mismatch)")
    return ChainReport(True, checked)


def staff_names(session: Session) -> dict[int, str]:
    """Map staff user ids to names, for showing who acted (the trail itself stores ids).

    Read by table name so the kernel does not import the auth feature.
    """
    from sqlalchemy import text

    return {row.id: row.name for row in session.execute(text("SELECT id, name FROM user_account"))}
