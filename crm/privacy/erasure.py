"""Erasure (GDPR Art. 17) with legal holds (Art. 17(3)): a plan first, then one transaction.

What a legal duty keeps - the patient journal for profile A (ten years after its newest entry,
patientdatalagen 3 kap. 17 §), bookkeeping, a pending legal claim - survives with the identity
it needs; everything else goes at once: newsletter data, consents, testimonials and their files,
contact details. The suppression entry stays so the person is never mailed again, and every
provider that ever had the address is told to erase it. The person gets a receipt that says
what was kept, why and until when.

Every part of it comes from the person registry (crm/privacy/registry.py): each feature's
holds, what it deletes, the recipients it told, what blocks an erasure, and its own erase
step. This module imports no feature's internals; only the hub's ``Person`` model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from crm import audit
from crm import controllers
from crm import outbox
from crm.audit import Actor
from crm.db import rowcount
from crm.db import utcnow
from crm.outbox import Op
from crm.outbox import OutboxOp
from crm.people.models import Person
from crm.privacy import identity
from crm.privacy import periods
from crm.privacy import recipients
from crm.privacy import registry
from crm.privacy.models import DataRequest
from crm.privacy.registry import Kept

__all__ = ["ErasureBlocked", "Kept", "Plan", "execute", "plan"]


class ErasureBlocked(RuntimeError):
    """Testimonials are still up in places only the owner can take them down from."""


class AlreadyErased(RuntimeError):
    """Another erasure of the same person (or of the same request) committed first."""


@dataclass
class Plan:
    """What an erasure will do."""

    person_id: int
    delete: list[str] = field(default_factory=list)
    keep: list[Kept] = field(default_factory=list)
    providers: list[str] = field(default_factory=list)
    #: recipients in the processors register that no adapter reaches: each gets a task
    manual: list[str] = field(default_factory=list)
    #: what must be done by hand first (today: manual publications - a post, a flyer - not yet
    #: ticked off as taken down). Erasing the testimonial would delete the only record that
    #: they exist (Art. 17(2)), so they block the erasure until the owner has taken them down.
    take_down: list[Any] = field(default_factory=list)

    @property
    def full(self) -> bool:
        """Nothing held: the person disappears entirely."""
        return not self.keep


def _context(session: Session, now: datetime, person: Person) -> registry.ErasureContext:
    """The facts the holders need: the profile of the person's controller, the periods."""
    controller_id = person.controller_id
    return registry.ErasureContext(
        now=now,
        profile=controllers.get(session, controller_id).profile,
        # the controller's period (crm/privacy/periods.py): bookkeeping counts from year end
        retention_until=lambda kind, start: periods.get(session, controller_id, kind).end(start),
    )


def _all_holds(session: Session, person: Person, ctx: registry.ErasureContext) -> list[Kept]:
    """Every hold the registered features impose on the person, ended ones included."""
    return [
        kept
        for holder in registry.holders()
        if holder.holds is not None
        for kept in holder.holds(session, person, ctx)
    ]


def plan(session: Session, person: Person, now: datetime | None = None) -> Plan:
    """Work out what an erasure deletes, keeps (and until when) and whom it tells.

    Every part comes from the person registry (crm/privacy/registry.py): each feature's
    holds, what it deletes, its recipients and what blocks an erasure.
    """
    now = now or utcnow()
    ctx = _context(session, now, person)
    result = Plan(person.id)
    result.keep = [k for k in _all_holds(session, person, ctx) if k.until > now]
    kept = {k.what for k in result.keep}
    providers: set[str] = set()
    for holder in registry.holders():
        result.delete += [
            label
            for label in holder.deletes
            if holder.spared_by.get(label) is None or holder.spared_by[label] not in kept
        ]
        if holder.recipients is not None:
            providers |= set(holder.recipients(session, person.id))
        if holder.blockers is not None:
            result.take_down += holder.blockers(session, person.id)
    result.providers = sorted(providers)
    result.manual = [
        m for m in recipients.manual_recipients(session) if m.lower() not in result.providers
    ]
    return result


def execute(
    session: Session,
    person: Person,
    actor: Actor,
    request: DataRequest | None = None,
    via: str | None = None,
) -> Plan:
    """Carry out the plan in the caller's transaction; returns it for the receipt.

    The outbox is told first (every recipient gets an ``erase`` carrying the address until it
    confirms), then every registered feature erases its part; the feature that holds the
    person row goes last. ``via`` names where an erasure without a request came from (the
    audit trail keeps it).

    :raises AlreadyErased: a concurrent erasure got there first; nothing was changed.
    :raises ErasureBlocked: a testimonial is still up in a manual place; nothing was changed.
    :raises identity.IdentityNotChecked: a client whose identity check is not recorded (on
        ``request``, or on the person without one); nothing was changed. Not for the system
        actor: retention deletes on the practice's own rules, for no requester.
    """
    claim(session, person, request)
    if actor.kind != "system":
        # someone asked for it: their identity first. The system's own deletions (retention,
        # storage limitation) act for no one and disclose nothing
        identity.require_identity_check(session, person, "erasure", request)
    the_plan = plan(session, person)
    if the_plan.take_down:
        raise ErasureBlocked(f"{len(the_plan.take_down)} publication(s) still up")
    ctx = _context(session, utcnow(), person)
    ctx.email, ctx.keep = person.email, list(the_plan.keep)
    if ctx.email:
        outbox.enqueue(session, Op.ERASE, person.id, ctx.email, the_plan.providers)
    session.flush()
    waiting = list(
        session.scalars(
            select(OutboxOp.id).where(
                OutboxOp.person_id == person.id,
                OutboxOp.op == Op.ERASE,
                OutboxOp.status == "pending",
            )
        )
    )
    # while the person row still says for whom (it may be deleted below)
    recipients.create_tasks(session, "erasure", person, actor, request)
    person_id = person.id
    for holder in registry.erasure_order():
        if holder.erase is not None:
            holder.erase(session, person, ctx)
    if request is not None:
        request.waiting_for = json.dumps(waiting)
        request.outcome = receipt_text(the_plan)
        if not waiting and not recipients.open_count(session, request):
            request.status, request.completed_at = "completed", utcnow()
            request.completed_by_id = actor.user_id
    session.flush()
    audit.record(
        session,
        actor,
        "person.erase",
        object_type="person",
        object_id=person_id,
        details={
            "full": the_plan.full,
            "kept": [k.what for k in the_plan.keep],
            "providers": the_plan.providers,
            **({"via": via} if via else {}),
        },
    )
    return the_plan


def claim(session: Session, person: Person, request: DataRequest | None = None) -> None:
    """Lock the person's row, then look again: the loser of two concurrent erasures stops here.

    Two erasures of one person (a double click, the owner and the person's own "forget me")
    both read the person before either commits; the second then wrote rows pointing at a
    person the first had deleted (a foreign-key error) or deleted it again (StaleDataError).
    A no-op UPDATE takes the row lock on PostgreSQL and, on SQLite, the writer lock (see
    ``crm.db``), so the second waits here until the first commits and then sees what it did.
    Callers that write about the person before erasing ("forget me") claim first as well.

    :raises AlreadyErased: the person is gone, or ``request`` was carried out meanwhile.
    """
    claimed = rowcount(
        session.execute(
            update(Person)
            .where(Person.id == person.id)
            .values(id=Person.id)
            .execution_options(synchronize_session=False)
        )
    )
    if not claimed:
        raise AlreadyErased(person.id)
    session.refresh(person)
    if request is not None:
        session.refresh(request)
        if request.status != "open" or request.waiting_for is not None:
            raise AlreadyErased(person.id)


KEPT_LABELS = {
    "journal": "Patientjournalen",
    "bookkeeping": "Bokföringsuppgifter",
    "legal_claim": "Uppgifter för ett rättsligt anspråk",
}


def receipt_text(the_plan: Plan) -> str:
    """The receipt in Swedish: what was deleted and kept (why, until when), and who is told.

    Only the recipients actually told are named (Art. 19): a practice without mail providers
    does not claim to have asked any.
    """
    lines = [
        "Dina personuppgifter är raderade: kontaktuppgifter, nyhetsbrev, samtycken och "
        "omdömen med filer. En kod skapad från din e-postadress sparas så att du aldrig får "
        "utskick igen."
    ]
    told = [recipients.display_name(p) for p in the_plan.providers] + the_plan.manual
    if told:
        lines.append(
            "Vi ber också dessa mottagare att radera det de har om dig: " + ", ".join(told) + "."
        )
    for kept in the_plan.keep:
        lines.append(
            f"{KEPT_LABELS.get(kept.what, kept.what)} sparas enligt {kept.why} till "
            f"och med {kept.until:%Y-%m-%d} och raderas sedan."
        )
    return "\n".join(lines)


def complete_waiting(session: Session) -> list[DataRequest]:
    """Complete erasure requests whose providers confirmed and whose tasks are ticked off.

    Called after a sync (provider confirmations) and after a recipient task is ticked off.
    """
    done = []
    for request in session.scalars(
        select(DataRequest).where(
            DataRequest.kind == "erasure",
            DataRequest.status == "open",
            DataRequest.waiting_for.is_not(None),
        )
    ):
        ids = json.loads(request.waiting_for or "[]")
        pending = (
            session.scalar(
                select(OutboxOp.id)
                .where(OutboxOp.id.in_(ids), OutboxOp.status == "pending")
                .limit(1)
            )
            if ids
            else None
        )
        if pending is None and not recipients.open_count(session, request):
            request.status, request.completed_at = "completed", utcnow()
            done.append(request)
            # closing a request is evidence too: when, and that it was the providers' answers
            audit.record(
                session,
                Actor.system(),
                "privacy.request_completed",
                obj=request,
                details={"kind": "erasure", "providers_confirmed": len(ids)},
            )
    return done


def purge_expired_holds(session: Session, now: datetime | None = None) -> int:
    """Delete people kept only for a hold that has ended (part of the retention run)."""
    now = now or utcnow()
    count = 0
    erased = session.scalars(
        select(Person).where(
            Person.email.is_(None),
            Person.restricted_at.is_not(None),
            Person.archived_at.is_not(None),
        )
    )
    for person in erased:
        holds = _all_holds(session, person, _context(session, now, person))
        if not holds:
            continue  # archived and restricted by hand, not an erasure with holds
        if any(k.until > now for k in holds):
            continue
        person_id = person.id
        session.delete(person)
        audit.record(
            session,
            Actor.system(),
            "retention.hold_ended",
            object_type="person",
            object_id=person_id,
        )
        count += 1
    return count
