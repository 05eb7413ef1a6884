"""people's commands: ``crm purchase add`` and ``crm health-consent EMAIL grant|withdraw``.

``health-consent`` uses the same service as the client card's form (crm/people/health.py): the
current consent text and its version are recorded with the time and how it was given; a
withdrawal stops new health notes, and ``--erase-notes`` erases the ones already written.
"""

from __future__ import annotations

import sys
from datetime import date

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from crm.audit import Actor
from crm.db import get_session
from crm.people import health
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


@click.command("health-consent")
@click.argument("email")
@click.argument("action", type=click.Choice(["grant", "withdraw"]))
@click.option(
    "--method",
    type=click.Choice(list(health.METHODS)),
    required=True,
    help="How the client gave or withdrew the consent.",
)
@click.option(
    "--erase-notes", is_flag=True, help="After a withdrawal: erase the notes already written."
)
@with_appcontext
def health_consent_command(email: str, action: str, method: str, erase_notes: bool) -> None:
    """Record a client's explicit consent to health notes (GDPR Art. 9(2)(a)), or withdraw it."""
    db = get_session()
    person = db.scalar(select(Person).where(Person.email == email.strip().lower()))
    if person is None:
        raise click.ClickException("No person with that address.")
    try:
        if action == "grant":
            health.grant(db, person, method, Actor.cli())
        else:
            health.withdraw(db, person, method, Actor.cli())
            if erase_notes:
                count = health.erase_notes(db, person, Actor.cli())
                click.echo(f"Erased {count} health note(s).")
    except health.HealthBasisError as err:
        db.rollback()
        raise click.ClickException(str(err)) from err
    db.commit()
    click.echo(f"Recorded: {action} ({method}), consent text version {health.CURRENT}.")
    if action == "withdraw" and not erase_notes and health.notes_held(person):
        click.echo("Health notes written before remain; --erase-notes erases them.")


def register(group: click.Group) -> None:
    """Add people's commands to the ``crm`` group (called by crm/cli.py's ``init_app``)."""
    group.add_command(purchase_group)
    group.add_command(health_consent_command)
