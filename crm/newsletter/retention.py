"""Retention of newsletter data: sign-ups nobody confirmed are purged.

Run by the retention job (crm/privacy/retention.py); the consent records that prove a
confirmation or a withdrawal are kept for their own period.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm.audit import Actor
from crm.db import utcnow
from crm.newsletter.common import only_newsletter_records
from crm.newsletter.models import ConsentRecord
from crm.newsletter.models import Status
from crm.newsletter.models import Subscription
from crm.people.models import Person


def purge_unconfirmed(
    session: Session, now: datetime | None = None, *, dry_run: bool = False
) -> int:
    """Delete sign-ups left unconfirmed 7 days after their link expired; returns how many.

    A person known only through such sign-ups is deleted with them (their unconfirmed grants
    go with the person); anyone with anything else on file keeps their person row, and so
    does anyone with a confirmation or a withdrawal on record: that proof is owed for the
    consent-record period, which the retention rule for consent records enforces.
    """
    now = now or utcnow()
    days = current_app.config["CONFIRM_LINK_DAYS"] + 7
    cutoff = now - timedelta(days=days)
    stale = list(
        session.scalars(
            select(Subscription).where(
                Subscription.status == Status.PENDING, Subscription.created_at < cutoff
            )
        )
    )
    people = {s.person_id for s in stale}
    if dry_run:
        return len(stale)
    for sub in stale:
        session.delete(sub)
    session.flush()
    for person_id in people:
        person = session.get(Person, person_id)
        remaining = session.scalar(select(func.count()).where(Subscription.person_id == person_id))
        proof = session.scalar(
            select(ConsentRecord.id)
            .where(ConsentRecord.person_id == person_id, ConsentRecord.action != "grant")
            .limit(1)
        )
        if (
            person is not None
            and not remaining
            and proof is None
            and only_newsletter_records(session, person)
        ):
            session.execute(delete(ConsentRecord).where(ConsentRecord.person_id == person_id))
            session.delete(person)
    if stale:
        audit.record(
            session,
            Actor.system(),
            "retention.unconfirmed_signups",
            details={"subscriptions": len(stale), "people": len(people)},
        )
    return len(stale)
