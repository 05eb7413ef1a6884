"""What the outbox and the sync hold about a person: provider links, operations, events.

Registered in the person registry (crm/privacy/registry.py). The providers a person's address
went to (or may have gone to) are the recipients an erasure tells (GDPR Art. 19). An erasure
leaves the address only in the new ``erase`` operations, encrypted, until each provider has
confirmed (the sync then scrubs it): every other pending operation of the person is cancelled
and scrubbed, error texts are redacted, the provider's own id for the contact (Mailchimp's is
the MD5 of the address) is dropped, and stored provider events about the address - the address
and the provider's raw payload - are deleted (issue 11, finding 5).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import outbox
from crm.db import utcnow
from crm.newsletter.suppression import normalise
from crm.outbox import Op
from crm.outbox import OutboxOp
from crm.outbox import ProviderLink
from crm.people.models import Person
from crm.privacy.registry import ErasureContext
from crm.privacy.registry import ExportContext
from crm.privacy.registry import PersonDataHolder
from crm.privacy.registry import register
from crm.sync.models import ProviderEvent
from integrations.errors import redact


def export(session: Session, person: Person, _ctx: ExportContext) -> dict[str, Any]:
    """The person's status at each provider."""
    links = session.scalars(select(ProviderLink).where(ProviderLink.person_id == person.id))
    return {
        "provider_status": [
            {
                "provider": link.provider,
                "status": link.status,
                "updated_at": link.updated_at.isoformat() if link.updated_at else None,
            }
            for link in links
        ]
    }


def recipients(session: Session, person_id: int) -> set[str]:
    """Every provider that has, or may have, the address."""
    return outbox.providers_for(session, person_id)


def erase(session: Session, person: Person, ctx: ErasureContext) -> None:
    """Leave the address only in the pending ``erase`` operations; drop events about it."""
    now = utcnow()
    for op in session.scalars(select(OutboxOp).where(OutboxOp.person_id == person.id)):
        if op.status == "pending" and op.op != Op.ERASE:
            op.status, op.done_at, op.email = "cancelled", now, None
        if op.last_error:
            op.last_error = redact(op.last_error)  # written before errors were redacted
    for link in session.scalars(select(ProviderLink).where(ProviderLink.person_id == person.id)):
        link.provider_id = None
    if ctx.email:
        address = normalise(ctx.email)
        # the address is encrypted with a random nonce: no index can find it, so read them
        # all (id and address only; a practice keeps a few thousand events at most)
        ids = [
            event_id
            for event_id, email in session.execute(select(ProviderEvent.id, ProviderEvent.email))
            if email and normalise(email) == address
        ]
        if ids:
            session.execute(delete(ProviderEvent).where(ProviderEvent.id.in_(ids)))


HOLDER = register(
    PersonDataHolder(
        name="sync",
        tables=("outbox_op", "provider_link", "provider_event"),
        sections=("provider_status",),
        export=export,
        unexported={
            "outbox_op": "the delivery queue: which provider gets what is in provider_status, "
            "the address is in person",
            "provider_event": "what a provider reported (unsubscribes, bounces) is applied to "
            "subscriptions and consent records, which are exported",
        },
        recipients=recipients,
        erase=erase,
    )
)
