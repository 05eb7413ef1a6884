"""What the newsletter holds about a person: subscriptions and consent records.

Registered in the person registry (crm/privacy/registry.py). An erasure deletes both, keeps
the address as a keyed hash in the suppression list (so the person is never mailed or added
again) and forgets the sign-up throttle's counters for the address, which are plain sha256
digests of it (crm/security/ratelimit.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from crm.newsletter import self_service
from crm.newsletter import suppression
from crm.newsletter.models import ConsentRecord
from crm.newsletter.models import Reason
from crm.newsletter.models import Subscription
from crm.people.models import Person
from crm.privacy.registry import ErasureContext
from crm.privacy.registry import ExportContext
from crm.privacy.registry import PersonDataHolder
from crm.privacy.registry import register
from crm.security import ratelimit


def export(session: Session, person: Person, _ctx: ExportContext) -> dict[str, Any]:
    """Subscriptions and the consent timeline, with the exact texts consented to."""
    data = self_service.subject_data(session, person)
    return {"subscriptions": data["subscriptions"], "consent_records": data["consent_records"]}


def erase(session: Session, person: Person, ctx: ErasureContext) -> None:
    """Suppress the address (a keyed hash), delete subscriptions, consents, throttle counters."""
    if ctx.email:
        suppression.suppress(session, ctx.email, Reason.ERASED)
        ratelimit.clear(session, ratelimit.bucket("signup-email", ctx.email))
    ratelimit.clear(session, ratelimit.bucket("preferences-mail", person.public_id))
    session.execute(delete(Subscription).where(Subscription.person_id == person.id))
    session.execute(delete(ConsentRecord).where(ConsentRecord.person_id == person.id))


HOLDER = register(
    PersonDataHolder(
        name="newsletter",
        tables=("subscription", "consent_record"),
        sections=("subscriptions", "consent_records"),
        export=export,
        deletes=("newsletter", "consent_records"),
        erase=erase,
    )
)
