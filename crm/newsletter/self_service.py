"""What subscribers do and see themselves: the newsletter's data about them, their lists."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.audit import Actor
from crm.consents import policy_reference
from crm.newsletter.models import MailingList
from crm.newsletter.models import Method
from crm.newsletter.models import Source
from crm.newsletter.models import Status
from crm.newsletter.models import Subscription
from crm.newsletter.subscribers import timeline
from crm.newsletter.subscribing import Signup
from crm.newsletter.subscribing import signup
from crm.newsletter.unsubscribing import unsubscribe
from crm.people.models import Person


def subject_data(session: Session, person: Person) -> dict[str, Any]:
    """Return what the newsletter holds about a person, for their own download."""
    subs = session.scalars(select(Subscription).where(Subscription.person_id == person.id))
    return {
        "person": {
            "name": person.name,
            "email": person.email,
            "created_at": person.created_at.isoformat(),
        },
        "subscriptions": [
            {
                "list": s.mailing_list.name,
                "status": s.status,
                "source": s.source,
                "legal_basis": s.legal_basis,
                "subscribed_at": s.created_at.isoformat(),
                "confirmed_at": s.confirmed_at.isoformat() if s.confirmed_at else None,
                "unsubscribed_at": s.unsubscribed_at.isoformat() if s.unsubscribed_at else None,
            }
            for s in subs
        ],
        "consent_records": [
            {
                "action": r.action,
                "method": r.method,
                "list": r.mailing_list.name if r.mailing_list else None,
                "at": r.occurred_at.isoformat(),
                "ip": r.ip,
                "user_agent": r.user_agent,
                "consent_text": r.consent_text.text if r.consent_text else None,
                "consent_text_version": r.consent_text.version if r.consent_text else None,
                "policy_version": policy_reference(r),
            }
            for r in timeline(session, person.id)
        ],
    }


def set_lists(
    session: Session,
    person: Person,
    wanted: set[int],
    actor: Actor,
    user_agent: str | None,
    *,
    may_join: bool = True,
) -> list[MailingList]:
    """Apply the preferences form: leave unticked lists, start double opt-in for new ones.

    Returns the lists that now await confirmation. Leaving every list is a full unsubscribe.
    ``may_join=False`` (the newsletter is switched off, crm/features.py): leaving still works,
    joining a list would be new processing and is not started.
    """
    subs = {
        s.list_id: s
        for s in session.scalars(select(Subscription).where(Subscription.person_id == person.id))
    }
    current = {lid for lid, s in subs.items() if s.status in (Status.ACTIVE, Status.PENDING)}
    if not wanted:
        unsubscribe(session, person, Method.PREFERENCES, actor, user_agent=user_agent)
        return []
    leaving = current - wanted
    if leaving:
        unsubscribe(
            session,
            person,
            Method.PREFERENCES,
            actor,
            user_agent=user_agent,
            list_ids=sorted(leaving),
        )
    joining = wanted - current if may_join else set()
    if not joining or person.email is None:
        return []
    result = signup(
        session,
        Signup(
            email=person.email,
            list_ids=sorted(joining),
            consent_given=True,
            source=Source.PREFERENCES,
            ip=actor.ip,
            user_agent=user_agent,
        ),
    )
    return result.confirm_lists
