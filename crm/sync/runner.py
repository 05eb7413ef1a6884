"""The sync: per provider, pull -> apply locally -> push the outbox -> store the cursor.

Crash-safe by construction: events are stored before they are applied, each batch of outbox
operations is committed as soon as the provider answered, and every provider operation is
idempotent - so a run killed at any point loses nothing and the next one carries on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from itertools import groupby

from flask import current_app
from flask import has_request_context
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

import integrations
from crm import audit
from crm.audit import Actor
from crm.db import utcnow
from crm.newsletter import links
from crm.newsletter import services as newsletter
from crm.newsletter import suppression
from crm.newsletter.models import Method
from crm.newsletter.models import Reason
from crm.newsletter.models import Status
from crm.newsletter.models import Subscription
from crm.newsletter.models import Suppression
from crm.outbox import Op
from crm.outbox import OutboxOp
from crm.outbox import ProviderLink
from crm.people.models import Person
from crm.privacy import erasure
from crm.privacy import recipients
from crm.sync.models import ProviderEvent
from crm.sync.models import ProviderState
from crm.sync.models import SyncRun
from crm.sync.pending import PendingImports
from integrations.base import ProviderAdapter
from integrations.errors import IntegrationError
from integrations.errors import OperationNotSupported
from integrations.errors import ProviderRejected
from integrations.errors import redact
from integrations.types import BatchResult
from integrations.types import Contact
from integrations.types import ContactEvent
from integrations.types import EventType

#: Pull windows overlap by this much: offset-paged listings can skip rows that change mid-scan.
OVERLAP = timedelta(hours=24)
MAX_BACKOFF = timedelta(hours=6)
REASONS = {
    EventType.UNSUBSCRIBED: Reason.UNSUBSCRIBED,
    EventType.BOUNCED: Reason.BOUNCED,
    EventType.COMPLAINED: Reason.COMPLAINED,
}
STATUSES = {
    EventType.UNSUBSCRIBED: Status.UNSUBSCRIBED,
    EventType.BOUNCED: Status.BOUNCED,
    EventType.COMPLAINED: Status.COMPLAINED,
}


@dataclass
class ProviderReport:
    """What a run did at one provider."""

    pulled: int = 0
    applied: int = 0
    pushed: int = 0
    failed: int = 0
    pending: int = 0
    calls: int = 0
    #: operations the provider's API cannot do, handed to staff as dashboard tasks
    manual: int = 0
    error: str = ""


@dataclass
class SyncReport:
    """The whole run; ``ok`` only when nothing failed and nothing is left pending."""

    providers: dict[str, ProviderReport] = field(default_factory=dict)
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        """Everything delivered and no provider failed."""
        return all(
            not r.error and r.pending == 0 and r.failed == 0 for r in self.providers.values()
        )


def adapters() -> list[ProviderAdapter]:
    """Adapters for every configured provider."""
    cfg = current_app.config
    return integrations.enabled_adapters(
        cfg, timeout=float(cfg["SYNC_TIMEOUT"]), max_retries=int(cfg["SYNC_MAX_RETRIES"])
    )


# --- events -------------------------------------------------------------------------------------


def _erased(session: Session) -> Callable[[str], bool]:
    """Tell whether an address was erased (its suppression says so)."""
    digest = suppression.hasher(session)
    hashes = set(
        session.scalars(select(Suppression.email_hash).where(Suppression.reason == Reason.ERASED))
    )
    return lambda email: digest(email) in hashes


def store_events(session: Session, events: list[ContactEvent], source: str) -> list[ProviderEvent]:
    """Store events not seen before (providers retry, pulls overlap); return the new ones.

    Events about an erased address are not stored: it is suppressed already, and storing the
    provider's payload would bring the address back after the erasure deleted it (issue 11,
    finding 5; a pull overlaps the previous one by a day, and a provider keeps reporting the
    address until it has confirmed the erase).
    """
    new = []
    erased = _erased(session) if events else (lambda _email: False)
    for event in events:
        if not event.email or erased(event.email):
            continue
        digest = hashlib.sha256(event.dedupe_key.encode()).hexdigest()
        if session.scalar(select(ProviderEvent.id).where(ProviderEvent.dedupe_hash == digest)):
            continue
        row = ProviderEvent(
            provider=event.provider,
            dedupe_hash=digest,
            type=str(event.type),
            occurred_at=event.occurred_at,
            source=source,
            email=event.email,
            raw=json.dumps(event.raw, default=str, ensure_ascii=False),
        )
        session.add(row)
        new.append(row)
    session.flush()
    return new


def apply_events(session: Session, provider: str) -> int:
    """Apply stored, unapplied events of a provider locally; returns how many changed anything.

    An unsubscribe, bounce or complaint at a provider becomes a local unsubscribe (and
    suppression), which queues an unsubscribe for the other providers. A deletion on the
    provider's side only updates the link: the CRM does not delete people on a provider's word.
    """
    changed = 0
    actor = Actor.system()
    rows = session.scalars(
        select(ProviderEvent)
        .where(ProviderEvent.provider == provider, ProviderEvent.applied_at.is_(None))
        .order_by(ProviderEvent.id)
    )
    for row in rows:
        kind = EventType(row.type) if row.type in set(EventType) else EventType.UNKNOWN
        person = newsletter.find_person(session, row.email)
        if person is not None and kind in REASONS:
            left = newsletter.unsubscribe(
                session,
                person,
                Method.PROVIDER,
                actor,
                reason=REASONS[kind],
                skip_provider=provider,
            )
            if left:
                session.execute(
                    Subscription.__table__.update()
                    .where(Subscription.person_id == person.id, Subscription.list_id.in_(left))
                    .values(status=STATUSES[kind])
                )
                changed += 1
            _link(session, person.id, provider, status="unsubscribed")
        elif person is not None and kind == EventType.DELETED:
            _link(session, person.id, provider, status="deleted")
        elif person is None and kind in REASONS:
            suppression.suppress(session, row.email, REASONS[kind])  # never add them later
        row.applied_at = utcnow()
    return changed


def _link(
    session: Session, person_id: int, provider: str, *, status: str, provider_id: str | None = None
) -> None:
    link = session.scalar(
        select(ProviderLink).where(
            ProviderLink.person_id == person_id, ProviderLink.provider == provider
        )
    )
    if link is None:
        link = ProviderLink(person_id=person_id, provider=provider)
        session.add(link)
    link.status, link.updated_at = status, utcnow()
    if provider_id:
        link.provider_id = provider_id


# --- push ---------------------------------------------------------------------------------------


def _due(session: Session, provider: str, now: datetime) -> list[OutboxOp]:
    return list(
        session.scalars(
            select(OutboxOp)
            .where(
                OutboxOp.provider == provider,
                OutboxOp.status == "pending",
                OutboxOp.next_attempt_at <= now,
            )
            .order_by(OutboxOp.id)
        )
    )


def _wanted_upserts(session: Session, ops: list[OutboxOp]) -> set[int]:
    """People whose upserts may still go out: subscribed, not suppressed, not restricted.

    Checked in a few set queries, not per operation: a sync may carry tens of thousands.
    """
    ids = sorted({op.person_id for op in ops if op.op == Op.UPSERT and op.person_id})
    wanted: set[int] = set()
    suppressed = suppression.all_hashes(session)
    digest = suppression.hasher(session)
    for start in range(0, len(ids), 5000):
        rows = session.execute(
            select(Person.id, Person.email)
            .distinct()
            .join(Subscription, Subscription.person_id == Person.id)
            .where(
                Person.id.in_(ids[start : start + 5000]),
                Person.restricted_at.is_(None),
                Subscription.status == Status.ACTIVE,
            )
        )
        wanted |= {pid for pid, email in rows if email and digest(email) not in suppressed}
    return wanted


def _done(op: OutboxOp, now: datetime) -> None:
    op.status, op.done_at, op.email, op.last_error = "done", now, None, None


def _failed(op: OutboxOp, error: str, now: datetime) -> None:
    op.attempts += 1
    # a provider's per-address answer may quote the address (issue 11, finding 5)
    op.last_error = redact(error)[:500]
    op.next_attempt_at = now + min(MAX_BACKOFF, timedelta(minutes=2 ** min(op.attempts, 10)))


def _send(
    session: Session,
    adapter: ProviderAdapter,
    kind: str,
    batch: list[OutboxOp],
    now: datetime,
    report: ProviderReport,
) -> BatchResult | None:
    """Push one batch of same-kind operations and record each one's outcome."""
    if kind == Op.ERASE:
        for op in batch:
            try:
                adapter.erase(op.email or "")
            except ProviderRejected as err:
                _failed(op, str(err), now)
                report.failed += 1
                continue
            if op.person_id:
                _link(session, op.person_id, adapter.name, status="erased")
            _done(op, now)
            report.pushed += 1
        return None
    emails = [op.email or "" for op in batch]
    ids = [op.person_id for op in batch if op.person_id]
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)))}
    if kind == Op.REMOVE:
        result = adapter.remove(emails)
    elif kind == Op.UPSERT:
        contacts = []
        for op in batch:
            person = people.get(op.person_id)
            contacts.append(
                Contact(
                    op.email or "",
                    person.name if person else "",
                    links.unsubscribe_url(person) if person else "",
                )
            )
        result = adapter.upsert(contacts)
    else:
        result = adapter.unsubscribe(emails)
    known = {
        link.person_id: link
        for link in session.scalars(
            select(ProviderLink).where(
                ProviderLink.provider == adapter.name, ProviderLink.person_id.in_(ids)
            )
        )
    }
    status = {Op.UPSERT: "active", Op.UNSUBSCRIBE: "unsubscribed", Op.REMOVE: "removed"}[kind]
    for op in batch:
        if op.email in result.failed:
            _failed(op, result.failed[op.email], now)
            report.failed += 1
            continue
        if op.person_id in people:
            link = known.get(op.person_id)
            if link is None:
                link = known[op.person_id] = ProviderLink(
                    person_id=op.person_id, provider=adapter.name
                )
                session.add(link)
            link.status, link.updated_at = status, now
            link.provider_id = result.ids.get(op.email or "") or link.provider_id
        _done(op, now)
        report.pushed += 1
    return result


def push(
    session: Session,
    adapter: ProviderAdapter,
    report: ProviderReport,
    progress: Callable[[str], None],
) -> None:
    """Deliver due outbox operations in provider-sized batches, committing after each batch.

    Operations keep their order: runs of the same kind are batched, so an upsert is never
    sent after a later unsubscribe of the same person. Operations on addresses the provider
    is still importing asynchronously wait for the import (:mod:`crm.sync.pending`).
    """
    now = utcnow()
    ops = _due(session, adapter.name, now)
    wanted = _wanted_upserts(session, ops)
    for op in ops:
        if op.op == Op.UPSERT and op.person_id not in wanted:
            op.status, op.done_at, op.email = "cancelled", now, None
    session.commit()
    ops = [op for op in ops if op.status == "pending"]
    imports = PendingImports(session, adapter)
    for kind, group in groupby(ops, key=lambda op: op.op):
        group = list(group) if kind == Op.UPSERT else imports.hold(list(group))
        size = 1 if kind == Op.ERASE else adapter.BATCH_SIZE
        for start in range(0, len(group), size):
            batch = group[start : start + size]
            try:
                result = _send(session, adapter, kind, batch, now, report)
            except OperationNotSupported:
                # not a failure to retry, and never "done": staff do it, from the dashboard
                session.rollback()
                for op in batch:
                    recipients.task_for_op(session, op, now)
                report.manual += len(batch)
                session.commit()
                continue
            except IntegrationError as err:
                for op in batch:
                    _failed(op, str(err), now)
                report.failed += len(batch)
                session.commit()
                if err.retryable:
                    raise  # the provider is down or throttling: stop, try next run
                continue
            if result is not None:
                imports.started(result.pending)
            session.commit()
            progress(f"  {adapter.name}: {kind} {report.pushed} sent")
    imports.tidy()
    session.commit()


# --- the run ------------------------------------------------------------------------------------


def _pending(session: Session, provider: str) -> int:
    return (
        session.scalar(
            select(func.count()).where(OutboxOp.provider == provider, OutboxOp.status == "pending")
        )
        or 0
    )


def pull(
    session: Session,
    adapter: ProviderAdapter,
    report: ProviderReport,
    progress: Callable[[str], None],
) -> None:
    """Fetch a provider's changes since its cursor (minus the overlap), store and apply them."""
    state = session.get(ProviderState, adapter.name) or ProviderState(provider=adapter.name)
    session.add(state)
    started = utcnow()
    try:
        since = state.cursor - OVERLAP if state.cursor else None
        progress(
            f"{adapter.name}: pulling changes" + (f" since {since:%Y-%m-%d %H:%M}" if since else "")
        )
        report.pulled = len(store_events(session, adapter.fetch_events(since), "pull"))
        report.applied = apply_events(session, adapter.name)
        state.cursor = started
        session.commit()
        progress(f"{adapter.name}: {report.pulled} new events, {report.applied} applied")
    except OperationNotSupported:
        # e.g. Paloma lists no opt-outs: nothing is pulled and the cursor stays; the README
        # and the integrations page say how to bring them in by hand
        session.rollback()
        progress(f"{adapter.name}: changes cannot be pulled through its API (see README)")
    except IntegrationError as err:
        session.rollback()
        report.error = str(err)
        progress(f"{adapter.name}: pull FAILED: {err}")


def deliver(
    session: Session,
    adapter: ProviderAdapter,
    report: ProviderReport,
    progress: Callable[[str], None],
) -> None:
    """Push a provider's due outbox operations, recording a failure in the report."""
    progress(f"{adapter.name}: pushing")
    try:
        push(session, adapter, report, progress)
    except IntegrationError as err:
        session.rollback()
        report.error = report.error or str(err)
        progress(f"{adapter.name}: push FAILED: {err}")


def run_sync(
    session: Session,
    *,
    trigger: str = "cli",
    progress: Callable[[str], None] = lambda _line: None,
    only: str | None = None,
) -> SyncReport:
    """Run every configured provider (or ``only`` one), store and return the report.

    All pulls come first, then all pushes: an unsubscribe made at the provider processed last
    still reaches the providers processed before it in the same run. The caller holds the
    lock (:func:`crm.sync.lock.sync_lock`).
    """
    if not has_request_context():
        # Signed unsubscribe links are built for every pushed contact: one context for all.
        with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
            return run_sync(session, trigger=trigger, progress=progress, only=only)
    run = SyncRun(trigger=trigger)
    session.add(run)
    session.commit()
    report = SyncReport()
    active = [a for a in adapters() if not only or a.name == only]
    try:
        for adapter in active:
            report.providers[adapter.name] = ProviderReport()
            pull(session, adapter, report.providers[adapter.name], progress)
        for adapter in active:
            deliver(session, adapter, report.providers[adapter.name], progress)
            report.providers[adapter.name].pending = _pending(session, adapter.name)
            report.providers[adapter.name].calls = adapter.calls
    finally:
        for adapter in active:
            adapter.close()
    # erasure requests whose providers all confirmed are complete now
    erasure.complete_waiting(session)
    run.finished_at = utcnow()
    report.duration = (run.finished_at - run.started_at).total_seconds()
    run.ok = report.ok
    run.report = json.dumps({name: asdict(r) for name, r in report.providers.items()})
    audit.record(
        session,
        Actor.system(),
        "sync.run",
        object_type="sync_run",
        object_id=run.id,
        details={"ok": run.ok, "providers": sorted(report.providers)},
    )
    session.commit()
    return report


def format_report(report: SyncReport) -> list[str]:
    """Human lines for stdout and the page."""
    lines = []
    for name, r in report.providers.items():
        line = (
            f"{name}: pulled {r.pulled}, applied {r.applied}, pushed {r.pushed}, "
            f"failed {r.failed}, pending {r.pending}, calls {r.calls}"
        ) + (f", manual {r.manual}" if r.manual else "")
        lines.append(line + (f" - ERROR {r.error}" if r.error else ""))
    lines.append(f"{'OK' if report.ok else 'NOT DONE'} in {report.duration:.1f} s")
    return lines
