"""Append-only, hash-chained, keyed audit trail (GDPR Art. 5(2), ASVS V16).

Each row carries the hash of the previous row, so altering or removing any row - including the
newest, which the chain head remembers - is detected by :func:`verify_chain` (``crm audit
verify``). Rows hold who, what, which object, when and from which IP; never a sensitive value:
``details`` is for field names and counts, not contents.

Why keyed: a plain SHA-256 chain can be recomputed by anyone who can write the database
(delete two rows, rehash the rest, and the chain is "intact"). So each row also carries a
``tag``, HMAC-SHA256 of its chain hash under a key derived (HKDF, label "crm audit chain")
from ``CRM_ENCRYPTION_KEY``, which never lives in the database; ``key_id`` names the key, as
encrypted values do. Without the key, a rewritten row cannot get a valid tag.

Why the tag is separate from the chain hash: ``crm rotate-keys`` re-tags the rows under the
new key (:func:`rekey`, after verifying them under the old one) while every chain hash stays
the same, so checkpoints exported earlier (``crm audit checkpoint``: sequence number and
chain hash) keep verifying after a rotation and after the old key is removed.

Checkpoints outside the database catch what no key can: truncating the newest rows (and
rewinding the head) leaves a shorter but valid chain; ``crm audit verify --checkpoint`` sees
that the exported entry is gone or differs. The nightly job writes and mails one daily.

Rows from before keying (``key_id`` NULL, the old unkeyed scheme) still verify by their chain
hash: the first keyed row chains onto the last unkeyed one, so its tag protects them all. An
unkeyed row after a keyed one, or an unkeyed newest row, is reported as tampering; ``crm init``
seals a freshly upgraded chain at once (:func:`seal`).

Pruning (retention keeps logs 12 months): :func:`prune` deletes the oldest rows and stores a
keyed :class:`AuditAnchor` with the chain hash of the last deleted row; verification starts
from it, and only from exactly there, so deleting more rows than retention did is detected.

Redaction (logs with two periods): a profile A practice keeps journal access logs five years
(HSLF-FS 2016:40) but its other logs only twelve months, and both kinds sit in one chain. So
:func:`redact` strips an ordinary row older than its period of everything that points at a
person (actor, IP, object id, details) while keeping its place in the chain: its chain hash
and tag stay, and a second tag, ``redacted_tag``, made with the audit key over the chain hash
and what is left of the row, says the app stripped it. Verification then checks the link and
both tags instead of the (no longer computable) content hash; stripping a row without the key
is reported like any other rewrite. The stripped rows go with the prefix when :func:`prune`
reaches them.

Concurrency: the single ``audit_chain`` row is updated *before* it is read, which takes a row
lock on PostgreSQL and the write lock on SQLite, so two transactions can never both append
after the same row and fork the chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from crm.db import Base
from crm.db import UTCDateTime
from crm.db import rowcount
from crm.db import utcnow
from crm.security.crypto import CryptoError
from crm.security.crypto import keyring

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
    #: key id of the audit key that made ``tag``; NULL for rows from before keying
    key_id: Mapped[str | None] = mapped_column(String(16))
    #: HMAC-SHA256 of ``hash`` under the audit key (see the module docstring)
    tag: Mapped[str | None] = mapped_column(String(64))
    #: set when retention stripped the row (:func:`redact`): the audit key's tag over the chain
    #: hash and the fields left; under the same ``key_id`` as ``tag``
    redacted_tag: Mapped[str | None] = mapped_column(String(64))

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


class AuditAnchor(Base):
    """Where a pruned chain starts: the chain hash of the newest deleted row, keyed.

    Only :func:`prune` writes one (and keeps only the newest); verification accepts a chain
    whose oldest row is ``seq + 1`` only when this row's tag checks out under the audit key.
    """

    __tablename__ = "audit_anchor"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    key_id: Mapped[str] = mapped_column(String(16))
    tag: Mapped[str] = mapped_column(String(64))


@dataclass(frozen=True)
class Actor:
    """Who did something and from where; built by the web layer or the CLI."""

    kind: str
    user_id: int | None = None
    ip: str | None = None
    #: the user's role (crm/security/roles.py), so services can refuse what it may not do;
    #: never written to the trail (the row names the user, whose role may change later)
    role: str | None = None

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
    "key_id",
    "tag",
)


def _digest(fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _anchor_message(seq: int, chain_hash: str) -> str:
    # Not a 64-hex chain hash, so an anchor tag can never pass as a row tag or the reverse.
    return f"anchor:{seq}:{chain_hash}"


def _redaction_message(event: Any) -> str:
    # What a stripped row still says (when, what kind of action), bound to its chain hash; the
    # prefix keeps it from ever passing as a row tag or an anchor tag.
    kept = {
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(),
        "actor_kind": event.actor_kind,
        "action": event.action,
        "object_type": event.object_type,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }
    return "redacted:" + _digest(kept)


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


def _names(obj: Base) -> tuple[str, object]:
    """The object type and id an entry about ``obj`` carries: its table name and its id.

    A model whose entries have always used another name says so in ``audit_type`` (the
    stored entries, their labels in crm/main/events.py and the person page's queries use it).
    """
    model = obj.__class__  # not type(obj): a proxy (flask-login's current_user) passes this on
    table = model.__table__
    (column,) = table.primary_key.columns
    return getattr(model, "audit_type", table.name), getattr(obj, column.key)


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    obj: Base | None = None,
    object_type: str | None = None,
    object_id: object | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event to the chain in the caller's transaction (the caller commits).

    Returns the event as written (not attached to the session).

    :param obj: the row the action concerns (flushed, so it has its id): the entry names it by
        its table name (or the model's ``audit_type``) and id, which is what nearly every call
        wrote out by hand. For anything else (an id without its row) pass ``object_type`` and
        ``object_id``.
    :param details: non-sensitive facts only: names of changed fields, counts, outcomes.
    """
    if obj is not None:
        if object_type is not None or object_id is not None:
            raise TypeError("pass obj or object_type/object_id, not both")
        object_type, object_id = _names(obj)
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
    event.key_id, event.tag = keyring().audit_tag(event.hash)
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
    #: exported checkpoints compared with the chain
    checkpoints_checked: int = 0
    #: exported checkpoints older than the retention anchor (their rows were pruned)
    checkpoints_pruned: int = 0
    #: the verified head (valid when ``ok``): what :func:`checkpoint` exports
    head_seq: int = 0
    head_hash: str = GENESIS_HASH


@dataclass(frozen=True)
class Checkpoint:
    """An exported chain position: entry ``seq`` had chain hash ``hash``.

    Written as ``SEQ:HASH`` (optionally followed by the entry's time, which is informative).
    """

    seq: int
    hash: str
    occurred_at: datetime | None = None

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    def line(self) -> str:
        """The form printed and stored in checkpoint files: ``SEQ:HASH TIME``."""
        when = self.occurred_at.isoformat() if self.occurred_at else "-"
        return f"{self} {when}"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Read ``SEQ:HASH`` (anything after whitespace is ignored).

        :raises ValueError: with a message saying what the form should be.
        """
        token = text.strip().split()[0] if text.strip() else ""
        seq, sep, digest = token.partition(":")
        digest = digest.lower()
        if (
            not sep
            or not seq.isdigit()
            or len(digest) != 64
            or any(c not in "0123456789abcdef" for c in digest)
        ):
            raise ValueError(
                f"not a checkpoint: {token[:80]!r} (expected SEQ:HASH, e.g. "
                "'42:' followed by 64 hex digits, as printed by `crm audit checkpoint`)"
            )
        return cls(int(seq), digest)


def parse_checkpoint_file(text: str) -> list[Checkpoint]:
    """Read every checkpoint line of a file (blank lines and ``#`` comments are skipped).

    :raises ValueError: naming the line that is not a checkpoint.
    """
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            found.append(Checkpoint.parse(line))
        except ValueError as err:
            raise ValueError(f"line {number}: {err}") from err
    return found


def _events_in_order(session: Session, up_to: int) -> Iterator[AuditEvent]:
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.seq <= up_to)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=1000)
    )
    yield from session.scalars(stmt)


def _head(session: Session) -> Any:
    """The head as committed now (a Core read: the ORM's identity map could hold a stale one)."""
    return session.execute(select(_chain.c.seq, _chain.c.last_hash).where(_chain.c.id == 1)).first()


def _tag_ok(message: str, key_id: str | None, tag: str | None) -> str:
    """Return "" when ``tag`` is the audit key's tag of ``message``, else why not."""
    if key_id is None or tag is None:
        return "keyed hash missing"
    try:
        _, expected = keyring().audit_tag(message, key_id)
    except CryptoError:
        return f"audit key {key_id} is not in CRM_ENCRYPTION_KEY (was an old key removed?)"
    if not hmac.compare_digest(expected, tag):
        return "keyed hash does not match (rewritten without the audit key)"
    return ""


def verify_chain(session: Session, checkpoints: Sequence[Checkpoint] = ()) -> ChainReport:
    """Walk the chain and report the first row that was altered, removed or inserted.

    Reads the head first and walks the rows up to it, so entries appended meanwhile (a
    one-click unsubscribe during the nightly run) do not look like tampering.

    :param checkpoints: exported positions; each must still be in the chain with its hash.
    """
    wanted: dict[int, set[str]] = {}
    for cp in checkpoints:
        wanted.setdefault(cp.seq, set()).add(cp.hash)
    head = _head(session)
    if head is None:
        return ChainReport(False, 0, None, "chain head missing")
    first = session.scalar(select(func.min(AuditEvent.seq)).where(AuditEvent.seq <= head.seq))
    start = first if first is not None else head.seq + 1
    expected_prev, pruned, cps = GENESIS_HASH, 0, 0
    if start > 1:
        anchor = session.scalar(select(AuditAnchor).where(AuditAnchor.seq == start - 1))
        if anchor is None:
            return ChainReport(False, 0, start - 1, "oldest rows removed (no retention anchor)")
        problem = _tag_ok(_anchor_message(anchor.seq, anchor.hash), anchor.key_id, anchor.tag)
        if problem:
            return ChainReport(False, 0, anchor.seq, f"retention anchor: {problem}")
        expected_prev = anchor.hash
        for seq in [seq for seq in wanted if seq <= anchor.seq]:
            hashes = wanted.pop(seq)
            if seq == anchor.seq:
                if hashes != {anchor.hash}:
                    return ChainReport(False, 0, seq, "does not match the checkpoint")
                cps += 1
            else:
                pruned += 1
    expected_seq, checked, keyed_seen, newest_keyed = start, 0, False, True
    for event in _events_in_order(session, head.seq):
        if event.seq != expected_seq:
            return ChainReport(False, checked, expected_seq, "row missing (sequence gap)", cps)
        if event.prev_hash != expected_prev:
            return ChainReport(False, checked, event.seq, "link to previous row broken", cps)
        if event.redacted_tag is not None:
            problem = _tag_ok(_redaction_message(event), event.key_id, event.redacted_tag)
            if problem:
                return ChainReport(False, checked, event.seq, f"stripped row: {problem}", cps)
        elif _digest(_fields(event)) != event.hash:
            return ChainReport(False, checked, event.seq, "row content altered", cps)
        newest_keyed = event.key_id is not None or event.tag is not None
        if newest_keyed:
            problem = _tag_ok(event.hash, event.key_id, event.tag)
            if problem:
                return ChainReport(False, checked, event.seq, problem, cps)
            keyed_seen = True
        elif keyed_seen:
            return ChainReport(
                False, checked, event.seq, "unkeyed row after keyed rows (rewritten)", cps
            )
        if event.seq in wanted:
            if wanted.pop(event.seq) != {event.hash}:
                return ChainReport(False, checked, event.seq, "does not match the checkpoint", cps)
            cps += 1
        expected_prev, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
    if not newest_keyed:
        return ChainReport(
            False,
            checked,
            expected_seq - 1,
            "newest rows are not keyed (run `crm init` to seal rows from before keying)",
            cps,
        )
    if head.seq != expected_seq - 1 or head.last_hash != expected_prev:
        return ChainReport(False, checked, expected_seq, "newest rows removed (head mismatch)", cps)
    newest = session.scalar(select(func.max(AuditEvent.seq)))
    now = _head(session)
    if newest is not None and now is not None and newest > now.seq:
        return ChainReport(False, checked, now.seq + 1, "rows after the head (head rewound)", cps)
    if wanted:
        missing = min(wanted)
        return ChainReport(
            False, checked, missing, "checkpoint entry missing (newest rows removed)", cps
        )
    return ChainReport(
        True,
        checked,
        checkpoints_checked=cps,
        checkpoints_pruned=pruned,
        head_seq=head.seq,
        head_hash=head.last_hash,
    )


class ChainBroken(Exception):
    """The chain does not verify, so it must not be re-keyed, pruned or checkpointed."""

    def __init__(self, report: ChainReport) -> None:
        super().__init__(f"audit trail broken at entry {report.broken_seq}: {report.reason}")
        self.report = report


def _verified(session: Session) -> ChainReport:
    report = verify_chain(session)
    if not report.ok:
        raise ChainBroken(report)
    return report


def checkpoint(session: Session) -> Checkpoint:
    """Return the current head as a checkpoint to keep outside the server.

    Verifies first: exporting the head of a tampered chain would vouch for it.

    :raises ChainBroken: the chain does not verify.
    """
    report = _verified(session)
    when = session.scalar(select(AuditEvent.occurred_at).where(AuditEvent.seq == report.head_seq))
    return Checkpoint(report.head_seq, report.head_hash, when)


def seal(session: Session) -> int:
    """Append a keyed row after rows from before keying; return how many it sealed (0: none).

    Called by ``crm init`` right after the upgrade, so the old rows are protected by a tag at
    once rather than at the first audited action.
    """
    newest = session.execute(
        select(AuditEvent.seq, AuditEvent.key_id).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    if newest is None or newest.key_id is not None:
        return 0
    unkeyed = session.scalar(select(func.count()).where(AuditEvent.key_id.is_(None))) or 0
    record(session, Actor.system(), "audit.keyed", details={"unkeyed_entries": unkeyed})
    return unkeyed


def rekey(session: Session) -> int:
    """Re-tag rows and the anchor made with an older key; return how many rows changed.

    Part of ``crm rotate-keys``: verifies under the old keys first (re-tagging a tampered
    chain would launder it), then only the tags change, never a chain hash.

    :raises ChainBroken: the chain does not verify; nothing was changed.
    """
    _verified(session)
    ring = keyring()
    primary = ring.primary_kid
    table = AuditEvent.__table__
    stale = select(
        table.c.id,
        table.c.seq,
        table.c.prev_hash,
        table.c.occurred_at,
        table.c.actor_kind,
        table.c.action,
        table.c.object_type,
        table.c.hash,
        table.c.redacted_tag,
    ).where(table.c.key_id.is_not(None), table.c.key_id != primary)
    count = 0
    for row in session.execute(stale).all():
        kid, tag = ring.audit_tag(row.hash)
        values = {"key_id": kid, "tag": tag}
        if row.redacted_tag is not None:
            values["redacted_tag"] = ring.audit_tag(_redaction_message(row), kid)[1]
        session.execute(update(table).where(table.c.id == row.id).values(**values))
        count += 1
    for anchor in session.scalars(select(AuditAnchor).where(AuditAnchor.key_id != primary)):
        anchor.key_id, anchor.tag = ring.audit_tag(_anchor_message(anchor.seq, anchor.hash))
    session.flush()
    return count


def prune(session: Session, before: datetime, actor: Actor | None = None) -> int:
    """Delete rows older than ``before`` behind a keyed anchor; return how many were deleted.

    The newest row is always kept (it carries the head). Verifies first, so pruning never
    hides earlier tampering behind a fresh anchor.

    :raises ChainBroken: the chain does not verify; nothing was changed.
    """
    report = _verified(session)
    last = session.scalar(
        select(func.max(AuditEvent.seq)).where(
            AuditEvent.occurred_at < before, AuditEvent.seq < report.head_seq
        )
    )
    if last is None:
        return 0
    last_hash = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == last))
    assert last_hash is not None
    count = rowcount(session.execute(delete(AuditEvent).where(AuditEvent.seq <= last)))
    session.execute(delete(AuditAnchor))
    kid, tag = keyring().audit_tag(_anchor_message(last, last_hash))
    session.add(AuditAnchor(seq=last, hash=last_hash, key_id=kid, tag=tag))
    session.flush()
    record(
        session,
        actor or Actor.system(),
        "audit.pruned",
        details={"deleted": count, "up_to_seq": last},
    )
    return count


#: what :func:`redact` removes from a row: everything that can point at a person
_STRIPPED = {"actor_user_id": None, "ip": None, "object_id": None, "details": "{}"}


def redact(session: Session, seqs: Sequence[int]) -> int:
    """Strip these rows of what points at a person, keeping their place in the chain.

    For rows whose period ended while the rows around them must stay (see the module
    docstring). Rows from before keying are left alone (they have no tag to vouch for them);
    the head row too. Verifies first, like :func:`prune`.

    :raises ChainBroken: the chain does not verify; nothing was changed.
    """
    report = _verified(session)
    ring = keyring()
    count = 0
    wanted = sorted({seq for seq in seqs if seq < report.head_seq})
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for event in session.scalars(
            select(AuditEvent).where(
                AuditEvent.seq.in_(chunk),
                AuditEvent.redacted_tag.is_(None),
                AuditEvent.key_id.is_not(None),
            )
        ):
            kid, tag = ring.audit_tag(event.hash)
            for column, value in _STRIPPED.items():
                setattr(event, column, value)
            event.key_id, event.tag = kid, tag
            _, event.redacted_tag = ring.audit_tag(_redaction_message(event), kid)
            count += 1
    session.flush()
    return count


def staff_names(session: Session) -> dict[int, str]:
    """Map staff user ids to names, for showing who acted (the trail itself stores ids).

    Read by table name so the kernel does not import the auth feature.
    """
    from sqlalchemy import text

    return {row.id: row.name for row in session.execute(text("SELECT id, name FROM user_account"))}
