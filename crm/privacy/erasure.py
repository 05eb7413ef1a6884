"""Erasure (GDPR Art. 17) with legal holds (Art. 17(3)): a plan first, then one transaction.

What a legal duty keeps - the patient journal for profile A (ten years after its newest entry,
patientdatalagen 3 kap. 17 §), bookkeeping, a pending legal claim - survives with the identity
it needs; everything else goes at once: newsletter data, consents, testimonials and their files,
contact details. The suppression entry stays so the person is never mailed again, and every
provider that ever had the address is told to erase it. The person gets a receipt that says
what was kept, why and until when.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime

from flask import current_app
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from crm import audit
from crm import outbox
from crm.audit import Actor
from crm.db import utcnow
from crm.newsletter import suppression
from crm.newsletter.models import ConsentRecord
from crm.newsletter.models import Reason
from crm.newsletter.models import Subscription
from crm.outbox import Op
from crm.outbox import OutboxOp
from crm.people.models import ClientCard
from crm.people.models import JournalEntry
from crm.people.models import Person
from crm.people.models import Visit
from crm.privacy import settings as practice
from crm.privacy.models import DataRequest
from crm.privacy.models import LegalHold
from crm.privacy.requests import add_months
from crm.testimonials import media as media_store
from crm.testimonials import services as testimonials
from crm.testimonials.models import Publication
from crm.testimonials.models import Testimonial


@dataclass(frozen=True)
class Kept:
    """Something an erasure keeps, and why, until when."""

    what: str
    why: str
    until: datetime


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
    #: manual publications (a post, a flyer) not yet ticked off as taken down. Erasing the
    #: testimonial would delete the only record that they exist (Art. 17(2)), so they block
    #: the erasure until the owner has taken them down.
    take_down: list[Publication] = field(default_factory=list)

    @property
    def full(self) -> bool:
        """Nothing held: the person disappears entirely."""
        return not self.keep


def plan(session: Session, person: Person, now: datetime | None = None) -> Plan:
    """Work out what an erasure deletes, keeps (and until when) and whom it tells."""
    now = now or utcnow()
    row = practice.load(session, current_app.config["PRACTICE_NAME"])
    result = Plan(person.id)
    newest = session.scalar(
        select(JournalEntry.written_at)
        .where(JournalEntry.person_id == person.id)
        .order_by(JournalEntry.written_at.desc())
        .limit(1)
    )
    if newest is not None and row.profile == "A":
        until = add_months(newest, row.retention_months("journal"))
        if until > now:
            result.keep.append(Kept("journal", "patientdatalagen 3 kap. 17 §", until))
    for hold in session.scalars(select(LegalHold).where(LegalHold.person_id == person.id)):
        if hold.until > now:
            why = (
                "bokföringslagen 7 kap. 2 §"
                if hold.kind == "bookkeeping"
                else "GDPR art. 17.3 e (rättsligt anspråk)"
            )
            result.keep.append(Kept(hold.kind, why, hold.until))
    result.delete = [
        k
        for k in (
            "contact_details",
            "newsletter",
            "consent_records",
            "testimonials",
            "media",
            "client_card",
            "visits",
        )
        if not (
            result.keep
            and k in ("client_card", "visits")
            and any(x.what == "journal" for x in result.keep)
        )
    ]
    result.providers = sorted(outbox.providers_for(session, person.id))
    result.take_down = testimonials.still_published(session, person.id)
    return result


def execute(
    session: Session,
    person: Person,
    actor: Actor,
    request: DataRequest | None = None,
    via: str | None = None,
) -> Plan:
    """Carry out the plan in the caller's transaction; returns it for the receipt.

    ``via`` names where an erasure without a request came from (the audit trail keeps it).

    :raises AlreadyErased: a concurrent erasure got there first; nothing was changed.
    :raises ErasureBlocked: a testimonial is still up in a manual place; nothing was changed.
    """
    claim(session, person, request)
    the_plan = plan(session, person)
    if the_plan.take_down:
        raise ErasureBlocked(f"{len(the_plan.take_down)} publication(s) still up")
    email = person.email
    if email:
        suppression.suppress(session, email, Reason.ERASED)
        outbox.enqueue(session, Op.ERASE, person.id, email, the_plan.providers)
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
    for t in session.scalars(select(Testimonial).where(Testimonial.person_id == person.id)):
        for item in t.media:
            media_store.remove(session, item.stored_name)
        session.delete(t)
    session.execute(delete(Subscription).where(Subscription.person_id == person.id))
    session.execute(delete(ConsentRecord).where(ConsentRecord.person_id == person.id))
    person_id = person.id
    if the_plan.full:
        session.delete(person)
    else:
        keeps_journal = any(k.what == "journal" for k in the_plan.keep)
        if not keeps_journal:
            session.execute(delete(ClientCard).where(ClientCard.person_id == person_id))
            session.execute(delete(Visit).where(Visit.person_id == person_id))
        # The identity a journal or a bookkeeping record needs stays; contact details go.
        person.email = person.phone = person.address = None
        person.archived_at = person.restricted_at = utcnow()  # kept, not used
    if request is not None:
        request.waiting_for = json.dumps(waiting)
        request.outcome = receipt_text(the_plan)
        if not waiting:
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
    claimed = session.execute(
        update(Person)
        .where(Person.id == person.id)
        .values(id=Person.id)
        .execution_options(synchronize_session=False)
    ).rowcount
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
    """The receipt in Swedish: what was deleted, what was kept, why and until when."""
    lines = [
        "Dina personuppgifter är raderade: kontaktuppgifter, nyhetsbrev, samtycken och "
        "omdömen med filer. Vi har bett våra e-posttjänster att radera din adress; en kod "
        "skapad från adressen sparas så att du aldrig får utskick igen."
    ]
    for kept in the_plan.keep:
        lines.append(
            f"{KEPT_LABELS.get(kept.what, kept.what)} sparas enligt {kept.why} till "
            f"och med {kept.until:%Y-%m-%d} och raderas sedan."
        )
    return "\n".join(lines)


def complete_waiting(session: Session) -> list[DataRequest]:
    """Complete erasure requests whose provider operations are all confirmed (after a sync)."""
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
        if pending is None:
            request.status, request.completed_at = "completed", utcnow()
            done.append(request)
            # closing a request is evidence too: when, and that it was the providers' answers
            audit.record(
                session,
                Actor.system(),
                "privacy.request_completed",
                object_type="data_request",
                object_id=request.id,
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
        if plan(session, person, now).keep:
            continue
        if (
            not session.scalar(select(LegalHold.id).where(LegalHold.person_id == person.id))
            and not person.journal
        ):
            continue  # archived and restricted by hand, not an erasure with holds
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
