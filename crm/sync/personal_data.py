"""What the outbox and the sync hold about a person: provider links, operations, events.

Registered in the person registry (crm/privacy/registry.py). The providers a person's address
went to (or may have gone to) are the recipients an erasure tells (GDPR Art. 19).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import outbox
from crm.outbox import ProviderLink
from crm.people.models import Person
from crm.privacy.registry import ExportContext
from crm.privacy.registry import PersonDataHolder
from crm.privacy.registry import register


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


HOLDER = register(
    PersonDataHolder(
        name="sync",
        tables=("outbox_op", "provider_link"),
        sections=("provider_status",),
        export=export,
        unexported={
            "outbox_op": "the delivery queue: which provider gets what is in provider_status, "
            "the address is in person",
        },
        recipients=recipients,
    )
)
