"""Purchases and invoice references (bokföringslagen): record them, list them, parse amounts.

Why here, with the client card: the purchase is the person's (seed 003 writes the products
on the client card) and it is what the bookkeeping period counts from; the period itself is
the privacy feature's (crm/privacy/periods.py), so the people feature stays free of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import extract
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm.audit import Actor
from crm.i18n import N_
from crm.people.models import Person
from crm.people.models import Purchase
from crm.people.services import PersonError
from crm.security import roles
from crm.security.roles import Perm

#: "450", "450,50", "1 250.00", "1250 kr": kronor with at most two decimals (öre)
_AMOUNT = re.compile(r"^(\d{1,9})(?:[.,](\d{1,2}))?$")


@dataclass
class PurchaseData:
    """What the owner types about a purchase."""

    purchased_on: date | None
    amount: str
    reference: str = ""
    products: str = ""


def parse_amount(text: str) -> int:
    """Kronor as typed (Swedish or English decimal sign, spaces, "kr") -> öre.

    :raises PersonError: not an amount.
    """
    cleaned = re.sub(r"\s+|kr\.?$|sek$", "", (text or "").strip().lower().replace("\u00a0", ""))
    match = _AMOUNT.match(cleaned)
    if match is None:
        raise PersonError(N_("Enter the amount in kronor, for example 450 or 450,50."))
    kronor, ore = match.group(1), (match.group(2) or "0").ljust(2, "0")
    return int(kronor) * 100 + int(ore)


def format_amount(ore: int) -> str:
    """öre -> "1 250,50 kr" (the Swedish way; amounts are only ever shown in Swedish kronor)."""
    kronor, rest = divmod(ore, 100)
    return f"{kronor:,}".replace(",", "\u00a0") + f",{rest:02d}\u00a0kr"


def add_purchase(session: Session, person: Person, data: PurchaseData, actor: Actor) -> Purchase:
    """Record a purchase; it is activity that keeps the client card, and bookkeeping data.

    Audited with the purchase id only (no amount, no products).

    :raises PersonError: a missing or future date, a bad amount, too long a reference.
    :raises crm.security.roles.PermissionDenied: the actor's role has no Perm.PURCHASES.
    """
    roles.check(actor, Perm.PURCHASES)
    if person.restricted_at is not None:
        raise PersonError(
            N_(
                "Processing of this person is restricted (GDPR Art. 18); "
                "lift the restriction before editing."
            )
        )
    if data.purchased_on is None:
        raise PersonError(N_("Enter the date of the purchase."))
    if data.purchased_on > date.today():
        raise PersonError(N_("A purchase cannot be in the future."))
    amount = parse_amount(data.amount)
    reference = (data.reference or "").strip()
    if len(reference) > 100:
        raise PersonError(N_("The reference can be at most 100 characters."))
    purchase = Purchase(
        purchased_on=data.purchased_on,
        amount_ore=amount,
        reference=reference,
        products=(data.products or "").strip() or None,
        created_by_id=actor.user_id,
    )
    person.purchases.append(purchase)
    session.flush()
    audit.record(
        session, actor, "person.purchase_add", obj=person, details={"purchase_id": purchase.id}
    )
    return purchase


def of_year(session: Session, year: int, controller_id: int | None) -> list[tuple[Purchase, str]]:
    """A calendar year's purchases with the buyer's name, newest first (the bookkeeper's list).

    Only the name: the bookkeeping role sees no contact details or health data. With
    ``controller_id``, only that controller's books.
    """
    stmt = (
        select(Purchase, Person.name)
        .join(Person, Person.id == Purchase.person_id)
        .where(extract("year", Purchase.purchased_on) == year)
        .order_by(Purchase.purchased_on.desc(), Purchase.id.desc())
    )
    if controller_id is not None:
        stmt = stmt.where(Purchase.controller_id == controller_id)
    return [(purchase, name) for purchase, name in session.execute(stmt)]
