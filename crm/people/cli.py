"""people's commands: ``crm purchase add``."""

from __future__ import annotations

import sys
from datetime import date

import click
from flask.cli import with_appcontext

from crm.audit import Actor
from crm.db import get_session
from crm.people import purchases
from crm.people.models import Person
from crm.people.services import PersonError


@click.group("purchase")
def purchase_group() -> None:
    """Purchases and invoice references kept for bookkeeping (bokföringslagen)."""


@purchase_group.command("add")
@click.option("--person", "person_id", type=int, required=True, help="The person's id.")
@click.option("--date", "day", required=True, help="Date of purchase, YYYY-MM-DD.")
@click.option("--amount", required=True, help="Amount in kronor, e.g. 450 or 450,50.")
@click.option("--reference", default="", help="Invoice or receipt number.")
@click.option("--products", default="", help="What was sold.")
@with_appcontext
def purchase_add_command(
    person_id: int, day: str, amount: str, reference: str, products: str
) -> None:
    """Record a purchase; the bookkeeping period counts from its date."""
    db = get_session()
    person = db.get(Person, person_id)
    if person is None:
        click.echo(f"No person with id {person_id}.", err=True)
        sys.exit(1)
    try:
        purchased_on = date.fromisoformat(day)
    except ValueError:
        click.echo(f"Not a date: {day!r} (expected YYYY-MM-DD).", err=True)
        sys.exit(1)
    try:
        purchase = purchases.add_purchase(
            db, person, purchases.PurchaseData(purchased_on, amount, reference, products),
            Actor.cli(),
        )  # fmt: skip
    except PersonError as err:
        db.rollback()
        click.echo(str(err), err=True)
        sys.exit(1)
    db.commit()
    click.echo(f"Purchase {purchase.id} recorded for person {person_id}.")


def register(group: click.Group) -> None:
    """Add people's commands to the ``crm`` group (called by crm/cli.py's ``init_app``)."""
    group.add_command(purchase_group)
