"""Restriction (GDPR Art. 18) and objection to direct marketing (Art. 21)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm import outbox
from crm.audit import Actor
from crm.db import utcnow
from crm.errors import DomainError
from crm.i18n import N_
from crm.newsletter import suppression
from crm.newsletter import unsubscribing
from crm.newsletter.models import Method
from crm.newsletter.models import Reason
from crm.newsletter.models import Status
from crm.newsletter.models import Subscription
from crm.outbox import Op
from crm.people.models import Person
from crm.privacy import recipients


class RightsError(DomainError):
    """A step was refused; the message is an English msgid for the user."""


def restrict(session: Session, person: Person, actor: Actor) -> None:
    """Keep the data but stop using it: no edits, mailing, publication or provider pushes.

    Every feature checks ``restricted_at``: people edits, newsletter adds and confirmations,
    testimonial requests, and the sync (upserts of a restricted person are cancelled).
    """
    if person.restricted_at is not None:
        return
    person.restricted_at = utcnow()
    if person.email:
        # The one push a restriction allows: out of every audience, reversibly.
        outbox.enqueue(
            session, Op.REMOVE, person.id, person.email, outbox.providers_for(session, person.id)
        )
    # recipients no adapter reaches are told by hand (Art. 19)
    recipients.create_tasks(session, "restriction", person, actor)
    audit.record(session, actor, "privacy.restrict", obj=person)


def lift_restriction(session: Session, person: Person, note: str, actor: Actor) -> None:
    """Lift a restriction: needs a note, and the caller notifies the person (Art. 18(3))."""
    if person.restricted_at is None:
        raise RightsError(N_("Processing of this person is not restricted."))
    if not note.strip():
        raise RightsError(N_("Write why the restriction is lifted; the person is told."))
    person.restricted_at = None
    active = session.scalar(
        select(Subscription.id)
        .where(Subscription.person_id == person.id, Subscription.status == Status.ACTIVE)
        .limit(1)
    )
    if person.email and active is not None and not suppression.is_suppressed(session, person.email):
        # back into the audiences it was taken out of (an upsert never resubscribes anyone)
        outbox.enqueue(
            session, Op.UPSERT, person.id, person.email, outbox.providers_for(session, person.id)
        )
    audit.record(session, actor, "privacy.restriction_lifted", obj=person)


def object_to_marketing(session: Session, person: Person, actor: Actor) -> None:
    """Art. 21(3): absolute and immediate - every list left, suppressed, every provider told."""
    person.marketing_objection_at = person.marketing_objection_at or utcnow()
    unsubscribing.unsubscribe(
        session, person, Method.STAFF_ON_BEHALF, actor, reason=Reason.OBJECTION
    )
    if person.email:
        suppression.suppress(session, person.email, Reason.OBJECTION)
    recipients.create_tasks(session, "objection", person, actor)
    audit.record(session, actor, "privacy.objection", obj=person)
