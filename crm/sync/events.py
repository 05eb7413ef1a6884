"""The pull side of the sync: provider events stored first, then applied locally.

Stored before they are applied (deduplicated by a hash of the provider's event key), so a run
killed between the two applies them next time; an unsubscribe, bounce or complaint becomes the
same withdrawal and suppression the CRM's own unsubscribe makes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.audit import Actor
from crm.db import utcnow
from crm.newsletter import common as newsletter_common
from crm.newsletter import suppression
from crm.newsletter import unsubscribing
from crm.newsletter.models import Method
from crm.newsletter.models import Reason
from crm.newsletter.models import Status
from crm.newsletter.models import Subscription
from crm.newsletter.models import Suppression
from crm.outbox import ProviderLink
from crm.sync.models import ProviderEvent
from integrations.types import ContactEvent
from integrations.types import EventType

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
            set_link(session, person.id, provider, status="unsubscribed")
        elif person is not None and kind == EventType.DELETED:
            set_link(session, person.id, provider, status="deleted")
        elif person is None and kind in REASONS:
            suppression.suppress(session, row.email, REASONS[kind])  # never add them later
        row.applied_at = utcnow()
    return changed


def set_link(
    session: Session, person_id: int, provider: str, *, status: str, provider_id: str | None = None
) -> None:
    """Record what a provider now holds for a person (its link row, created when missing)."""
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
