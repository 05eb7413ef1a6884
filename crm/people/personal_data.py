"""What the people feature holds about a person: person, client card, visits, journal, purchases.

Registered in the person registry (crm/privacy/registry.py). Two legal holds live here:
patientdatalagen 3 kap. 17 § keeps a profile A practice's journal ten years (the practice's
period, never less) after its newest entry, and bokföringslagen 7 kap. 2 § keeps the purchases
until the end of the seventh year after the fiscal year of the newest one - both with the
identity they need. The bookkeeping hold is derived from the recorded purchases, never from a
date typed by hand.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import time
from typing import Any

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.consents import policy_reference
from crm.db import utcnow
from crm.people import personnummer as pnr
from crm.people.models import ClientCard
from crm.people.models import HealthConsent
from crm.people.models import IdentityCheck
from crm.people.models import JournalEntry
from crm.people.models import Person
from crm.people.models import Purchase
from crm.people.models import Visit
from crm.privacy.registry import ErasureContext
from crm.privacy.registry import ExportContext
from crm.privacy.registry import Kept
from crm.privacy.registry import PersonDataHolder
from crm.privacy.registry import register


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export(session: Session, person: Person, _ctx: ExportContext) -> dict[str, Any]:
    """The person's own details, client card, visits and journal."""
    card = person.client_card
    return {
        "person": {
            "name": person.name,
            "email": person.email,
            "phone": person.phone,
            "address": person.address,
            "personnummer": pnr.Personnummer(person.personnummer).display()
            if person.personnummer
            else None,
            "birth_date": _iso(person.birth_date),
            "created_at": _iso(person.created_at),
            "last_contact_at": _iso(person.last_contact_at),
            "restricted_at": _iso(person.restricted_at),
            "marketing_objection_at": _iso(person.marketing_objection_at),
        },
        "client_card": None
        if card is None
        else {
            "client_since": _iso(card.client_since),
            "client_until": _iso(card.client_until),
            "health_notes": card.health_notes,
            "art9_basis": card.art9_basis,
        },
        "visits": [{"date": v.visited_on.isoformat(), "note": v.note} for v in person.visits],
        "journal": [
            {
                "id": j.id,
                "written_at": _iso(j.written_at),
                "text": j.text,
                "corrects": j.corrects_id,
            }
            for j in person.journal
        ],
        # Art. 7(1): the proof of the explicit consent to health notes, words included
        "health_consents": [
            {
                "action": c.action,
                "method": c.method,
                "at": _iso(c.occurred_at),
                "text_version": c.text_version,
                "text": c.text,
                "policy_version": policy_reference(c),
            }
            for c in session.scalars(
                select(HealthConsent)
                .where(HealthConsent.person_id == person.id)
                .order_by(HealthConsent.occurred_at, HealthConsent.id)
            )
        ],
        "identity_checks": [
            {"method": c.method, "checked_at": _iso(c.checked_at)}
            for c in session.scalars(
                select(IdentityCheck)
                .where(IdentityCheck.person_id == person.id)
                .order_by(IdentityCheck.checked_at)
            )
        ],
        "purchases": [
            {
                "date": p.purchased_on.isoformat(),
                "amount_ore": p.amount_ore,
                "reference": p.reference,
                "products": p.products,
            }
            for p in person.purchases
        ],
    }


def holds(session: Session, person: Person, ctx: ErasureContext) -> list[Kept]:
    """The journal's hold (profile A only) and the bookkeeping hold, running or ended."""
    found = []
    bought = session.scalar(
        select(Purchase.purchased_on)
        .where(Purchase.person_id == person.id)
        .order_by(Purchase.purchased_on.desc())
        .limit(1)
    )
    if bought is not None:
        moment = datetime.combine(bought, time(12), tzinfo=UTC)
        found.append(
            Kept("bookkeeping", BOOKKEEPING_LAW, ctx.retention_until("bookkeeping", moment))
        )
    if ctx.profile != "A":
        return found
    newest = session.scalar(
        select(JournalEntry.written_at)
        .where(JournalEntry.person_id == person.id)
        .order_by(JournalEntry.written_at.desc())
        .limit(1)
    )
    if newest is None:
        return found
    until = ctx.retention_until("journal", newest)
    return [Kept("journal", "patientdatalagen 3 kap. 17 §", until), *found]


#: why purchases outlive an erasure (the label the privacy feature shows for "bookkeeping")
BOOKKEEPING_LAW = "bokföringslagen 7 kap. 2 §"


def erase(session: Session, person: Person, ctx: ErasureContext) -> None:
    """Delete the person, or - while a hold runs - keep only the identity the hold needs."""
    if ctx.full:
        session.delete(person)
        return
    if not ctx.keeps("journal"):
        session.execute(delete(ClientCard).where(ClientCard.person_id == person.id))
        session.execute(delete(Visit).where(Visit.person_id == person.id))
    session.execute(delete(IdentityCheck).where(IdentityCheck.person_id == person.id))
    if not ctx.keeps("journal"):
        # the proof of consent goes with the notes it was for (the journal's basis is the law)
        session.execute(delete(HealthConsent).where(HealthConsent.person_id == person.id))
    if not ctx.keeps("bookkeeping"):
        session.execute(delete(Purchase).where(Purchase.person_id == person.id))
    # The identity a journal or a bookkeeping record needs stays; contact details go.
    person.email = person.phone = person.address = None
    if not ctx.keeps("journal"):
        # only a journal needs the identity number; a bookkeeping or legal hold needs the name
        person.personnummer = person.personnummer_index = person.birth_date = None
    person.archived_at = person.restricted_at = utcnow()  # kept, not used


HOLDER = register(
    PersonDataHolder(
        name="people",
        tables=(
            "person",
            "client_card",
            "visit",
            "journal_entry",
            "identity_check",
            "health_consent",
            "purchase",
        ),
        sections=(
            "person",
            "client_card",
            "visits",
            "journal",
            "health_consents",
            "identity_checks",
            "purchases",
        ),
        export=export,
        deletes=(
            "contact_details",
            "client_card",
            "visits",
            "health_consents",
            "identity_checks",
            "purchases",
        ),
        spared_by={
            "client_card": "journal",
            "visits": "journal",
            "health_consents": "journal",
            "purchases": "bookkeeping",
        },
        holds=holds,
        erase=erase,
    )
)
