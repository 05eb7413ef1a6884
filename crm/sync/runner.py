"""The sync: per provider, pull -> apply locally -> push the outbox -> store the cursor.

Crash-safe by construction: events are stored before they are applied, each batch of outbox
operations is committed as soon as the provider answered, and every provider operation is
idempotent - so a run killed at any point loses nothing and the next one carries on.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
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
from crm import provider_settings
from crm.audit import Actor
from crm.db import utcnow
from crm.newsletter import common as newsletter_common
from crm.newsletter import links
from crm.newsletter import suppression
from crm.newsletter import unsubscribing
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
from integrations.base import MAX_RETRY_AFTER
from integrations.base import ProviderAdapter
from integrations.errors import IntegrationError
from integrations.errors import OperationNotSupported
from integrations.errors import ProviderRejected
from integrations.errors import RateLimited
from integrations.errors import Throttled
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
    #: left pending by a rate limit or the run's budget: not failed, sent by a later run
    deferred: int = 0
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


def adapters(session: Session) -> list[ProviderAdapter]:
    """Adapters for every provider configured, or entered on the integrations page."""
    cfg = current_app.config
    return integrations.enabled_adapters(
        provider_settings.effective_config(session, cfg),
        timeout=float(cfg["SYNC_TIMEOUT"]),
        max_retries=int(cfg["SYNC_MAX_RETRIES"]),
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
        person = newsletter_common.find_person(session, row.email)
        if person is not None and kind in REASONS:
            left = unsubscribing.unsubscribe(
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


#: Operations the law cares about (unsubscribe and objection, erasure, restriction), in the
#: order they go out: an erasure last, since an unsubscribe sent after it would re-create the
#: address at MailerLite (its unsubscribe is an upsert with a status).
LEGAL = (Op.UNSUBSCRIBE, Op.REMOVE, Op.ERASE)


def _due(session: Session, provider: str, now: datetime, ops: tuple[str, ...]) -> list[OutboxOp]:
    return list(
        session.scalars(
            select(OutboxOp)
            .where(
                OutboxOp.provider == provider,
                OutboxOp.status == "pending",
                OutboxOp.next_attempt_at <= now,
                OutboxOp.op.in_([str(o) for o in ops]),
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
            person = people.get(op.person_id) if op.person_id is not None else None
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
    status = {Op.UPSERT: "active", Op.UNSUBSCRIBE: "unsubscribed", Op.REMOVE: "removed"}[Op(kind)]
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


def _rescheduled(op: OutboxOp, delay: float, now: datetime) -> None:
    """A rate limit said "later": try again then, without counting a failed attempt."""
    op.next_attempt_at = now + timedelta(seconds=max(delay, 1.0))


@dataclass
class Lane:
    """One provider's queue in one phase of a run (its legal operations, or its upserts)."""

    adapter: ProviderAdapter
    report: ProviderReport
    batches: deque[tuple[str, list[OutboxOp]]]
    #: the adapter's clock: when the next batch may go, and when this lane must stop
    ready_at: float = 0.0
    deadline: float | None = None
    #: 429s in a row from the provider
    refusals: int = 0
    #: the provider's asynchronous imports still running (Brevo): legal operations on their
    #: addresses wait for them, upserts that start one record it (crm/sync/pending.py)
    imports: PendingImports | None = None

    def left(self) -> int:
        """Operations not sent yet."""
        return sum(len(batch) for _kind, batch in self.batches)


def _legal_lane(
    session: Session,
    adapter: ProviderAdapter,
    report: ProviderReport,
    now: datetime,
    imports: PendingImports,
) -> Lane:
    """Due unsubscribes, removals and erasures, in the order of LEGAL, each in creation order.

    Operations on addresses the provider is still importing asynchronously wait for the import
    (:mod:`crm.sync.pending`): sent first, they would be undone when the import lands.
    """
    rank: dict[str, int] = {kind: i for i, kind in enumerate(LEGAL)}
    ops = sorted(_due(session, adapter.name, now, LEGAL), key=lambda op: (rank[op.op], op.id))
    batches: deque[tuple[str, list[OutboxOp]]] = deque()
    for kind, group in groupby(ops, key=lambda op: op.op):
        held = imports.hold(list(group))
        size = 1 if kind == Op.ERASE else adapter.BATCH_SIZE
        batches.extend((kind, held[i : i + size]) for i in range(0, len(held), size))
    return Lane(adapter, report, batches, imports=imports)


def _upsert_lane(
    session: Session,
    adapter: ProviderAdapter,
    report: ProviderReport,
    now: datetime,
    imports: PendingImports,
) -> Lane:
    """Due upserts of people still wanted; the others are cancelled, never sent."""
    ops = _due(session, adapter.name, now, (Op.UPSERT,))
    wanted = _wanted_upserts(session, ops)
    for op in ops:
        if op.person_id not in wanted:
            op.status, op.done_at, op.email = "cancelled", now, None
    session.commit()
    ops = [op for op in ops if op.status == "pending"]
    size = adapter.BATCH_SIZE
    batches = deque((str(Op.UPSERT), ops[i : i + size]) for i in range(0, len(ops), size))
    return Lane(adapter, report, batches, imports=imports)


def drive(
    session: Session,
    lanes: list[Lane],
    progress: Callable[[str], None],
    *,
    budget: float | None,
) -> set[str]:
    """Send the lanes' batches, always the one whose provider can take it soonest.

    A provider's published rate limit (the adapter paces itself: ``patience`` 0 makes it say
    how long instead of sleeping) or a 429 pauses only that provider's lane, so one provider's
    limits never hold up another's work. ``budget`` (seconds per lane, None for no limit) is
    how long a lane may go on: what is left then stays pending for the next run, as does what
    a provider refuses with 429 more often than the adapter's retries - rescheduled, not
    counted as failed. Returns the providers that failed (down or refusing): the caller skips
    them for the rest of the run.
    """
    down: set[str] = set()
    for lane in lanes:
        lane.adapter.patience = 0.0
        lane.ready_at = lane.adapter.now()
        lane.deadline = None if budget is None else lane.ready_at + budget
    active = [lane for lane in lanes if lane.batches]
    try:
        while active:
            lane = min(active, key=lambda ln: ln.ready_at - ln.adapter.now())
            adapter, report = lane.adapter, lane.report
            if lane.deadline is not None and max(lane.ready_at, adapter.now()) > lane.deadline:
                report.deferred += lane.left()
                progress(f"  {adapter.name}: {lane.left()} left for the next run (rate limit)")
                active.remove(lane)
                continue
            adapter.wait(lane.ready_at - adapter.now())
            kind, batch = lane.batches[0]
            now = utcnow()
            try:
                result = _send(session, adapter, kind, batch, now, report)
            except OperationNotSupported:
                # not a failure to retry, and never "done": staff do it, from the dashboard
                session.rollback()
                for op in batch:
                    recipients.task_for_op(session, op, now)
                report.manual += len(batch)
                session.commit()
                lane.batches.popleft()
                if not lane.batches:
                    active.remove(lane)
                continue
            except Throttled as err:  # nothing was sent: come back when the window allows
                lane.ready_at = adapter.now() + (err.retry_after or 1.0)
                continue
            except RateLimited as err:  # the provider refused: its limit is spent for now
                delay = err.retry_after or 1.0
                lane.refusals += 1
                if budget is None and lane.refusals <= adapter.max_retries:
                    # a legal operation: wait and retry, backing off when no wait was named
                    # (Mailchimp sends none); other lanes go on meanwhile
                    backoff = 1.0 if err.retry_after else 2.0**lane.refusals
                    lane.ready_at = adapter.now() + min(MAX_RETRY_AFTER, delay * backoff)
                    continue
                for op in batch:
                    _rescheduled(op, delay, now)
                session.commit()
                report.deferred += lane.left()
                progress(f"  {adapter.name}: rate limited, {lane.left()} left for the next run")
                active.remove(lane)
                continue
            except IntegrationError as err:
                for op in batch:
                    _failed(op, str(err), now)
                report.failed += len(batch)
                session.commit()
                lane.batches.popleft()
                if err.retryable:  # the provider is down: stop, try next run
                    report.error = report.error or str(err)
                    progress(f"{adapter.name}: push FAILED: {err}")
                    down.add(adapter.name)
                    active.remove(lane)
                elif not lane.batches:
                    active.remove(lane)
                continue
            if result is not None and lane.imports is not None:
                lane.imports.started(result.pending)
            session.commit()
            lane.batches.popleft()
            lane.refusals = 0
            progress(f"  {adapter.name}: {kind} {report.pushed} sent")
            if not lane.batches:
                active.remove(lane)
    finally:
        for lane in lanes:
            lane.adapter.patience = None
    return down


def deliver(
    session: Session,
    active: list[ProviderAdapter],
    reports: dict[str, ProviderReport],
    progress: Callable[[str], None],
    *,
    budget: float | None = None,
) -> None:
    """Push due operations to every provider: first every provider's legal lane, then upserts.

    Unsubscribes, objections, erasures and restrictions go out before any upsert at every
    provider (ARCHITECTURE.md 7, "Outbox lanes"), so a backlog of upserts, a rate limit spent
    on them or a failing upsert batch never delays them; the rate limit is spent on them
    first. Upserts then get at most ``budget`` seconds per provider in this run.
    """
    now = utcnow()
    for adapter in active:
        progress(f"{adapter.name}: pushing")
    imports = {a.name: PendingImports(session, a) for a in active}
    lanes = [_legal_lane(session, a, reports[a.name], now, imports[a.name]) for a in active]
    session.commit()
    down = drive(session, lanes, progress, budget=None)
    upserts = [
        _upsert_lane(session, a, reports[a.name], now, imports[a.name])
        for a in active
        if a.name not in down
    ]
    drive(session, upserts, progress, budget=budget)
    for pending in imports.values():
        pending.tidy()
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
    active = [a for a in adapters(session) if not only or a.name == only]
    try:
        for adapter in active:
            report.providers[adapter.name] = ProviderReport()
            pull(session, adapter, report.providers[adapter.name], progress)
        deliver(
            session,
            active,
            report.providers,
            progress,
            budget=float(current_app.config["SYNC_PUSH_SECONDS"]),
        )
        for adapter in active:
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
        if r.deferred:
            line += f", {r.deferred} left for the next run (rate limit)"
        lines.append(line + (f" - ERROR {r.error}" if r.error else ""))
    lines.append(f"{'OK' if report.ok else 'NOT DONE'} in {report.duration:.1f} s")
    return lines
