"""The push side of the sync: the outbox delivered to each provider, legal operations first.

Each batch is committed as soon as the provider answered; a rate limit reschedules instead of
failing, and the run's time budget leaves the rest for the next run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from itertools import groupby

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.db import utcnow
from crm.newsletter import links
from crm.newsletter import suppression
from crm.newsletter.models import Status
from crm.newsletter.models import Subscription
from crm.outbox import Op
from crm.outbox import OutboxOp
from crm.outbox import ProviderLink
from crm.people.models import Person
from crm.privacy import recipients
from crm.sync.events import set_link
from crm.sync.pending import PendingImports
from crm.sync.report import ProviderReport
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

MAX_BACKOFF = timedelta(hours=6)


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
                set_link(session, op.person_id, adapter.name, status="erased")
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
