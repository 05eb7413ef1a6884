"""Client cards: their period counts from the client's last activity, per controller.

Why from the last activity: "gamla kunder rensas bort efter 2 år" (seed 003) means two years
after the last visit, not after a date someone remembered to type into "client until"; a
client who keeps coming never runs out. The activities are a visit, a journal entry, a purchase
and a message (the person's last contact), and the end of the relationship when it was
recorded. The period is the controller's (crm/privacy/periods.py): seed 004 counts five years
"från utgången av det år avtalet upphör" (``from_year_end``).

A client past the period becomes a decision on the dashboard, or - where the controller chose
``automatic`` - is erased at once through the erasure engine, so whatever a legal duty holds
(bookkeeping, a journal) stays with the identity it needs (crm/privacy/erasure.py).
A person with journal entries follows the journal's own rule instead (patientdatalagen).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from typing import Any

from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.people.models import ClientCard
from crm.people.models import JournalEntry
from crm.people.models import Person
from crm.people.models import Purchase
from crm.people.models import Visit
from crm.privacy import periods


@dataclass(frozen=True)
class Inactive:
    """A client whose period ran out: who, since when, and whether to erase without asking."""

    person_id: int
    since: datetime
    automatic: bool


def _moment(value: date | datetime | str | None) -> datetime | None:
    """An activity's moment as an aware datetime (a day counts from its noon)."""
    if value is None:
        return None
    if isinstance(value, str):  # an aggregate may come back untyped on SQLite
        value = datetime.fromisoformat(value) if "T" in value or " " in value else (
            date.fromisoformat(value)
        )  # fmt: skip
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(12), tzinfo=UTC)


def _newest_per_person(session: Session, stmt: Select[int, Any]) -> dict[int, datetime]:
    out = {}
    for person_id, value in session.execute(stmt):
        moment = _moment(value)
        if moment is not None:
            out[person_id] = moment
    return out


def last_activity(session: Session) -> dict[int, datetime]:
    """Each client's (card or visits, no journal) newest activity; see the module docstring."""
    with_journal = set(session.scalars(select(JournalEntry.person_id).distinct()))
    visits = _newest_per_person(
        session, select(Visit.person_id, func.max(Visit.visited_on)).group_by(Visit.person_id)
    )
    purchases = _newest_per_person(
        session,
        select(Purchase.person_id, func.max(Purchase.purchased_on)).group_by(Purchase.person_id),
    )
    cards = {card.person_id: card for card in session.scalars(select(ClientCard))}
    clients = (set(cards) | set(visits)) - with_journal
    out: dict[int, datetime] = {}
    for person in session.scalars(select(Person).where(Person.id.in_(sorted(clients)))):
        card = cards.get(person.id)
        moments = [
            visits.get(person.id),
            purchases.get(person.id),
            _moment(person.last_contact_at),
            _moment(card.client_until if card else None),
        ]
        known = [m for m in moments if m is not None]
        out[person.id] = max(known) if known else person.created_at
    return out


def inactive(session: Session, now: datetime) -> list[Inactive]:
    """Clients past their controller's client-card period."""
    out = []
    controller_of: dict[int, int] = dict(
        session.execute(select(Person.id, Person.controller_id)).all()
    )
    card_controller: dict[int, int] = dict(
        session.execute(select(ClientCard.person_id, ClientCard.controller_id)).all()
    )
    cache: dict[int | None, periods.Period] = {}
    for person_id, last in last_activity(session).items():
        controller_id = card_controller.get(person_id, controller_of.get(person_id))
        if controller_id not in cache:
            cache[controller_id] = periods.get(session, controller_id, "client_card")
        period = cache[controller_id]
        end = period.end(last)
        if end <= now:
            out.append(Inactive(person_id, end, period.automatic))
    return sorted(out, key=lambda i: i.since)
