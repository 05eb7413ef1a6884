"""people's commands: ``crm health-consent EMAIL grant|withdraw``, the consent to health notes.

The same service as the client card's form (crm/people/health.py): the current consent text
and its version are recorded with the time and how it was given; a withdrawal stops new health
notes, and ``--erase-notes`` erases the ones already written.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from crm.audit import Actor
from crm.people import health
from crm.people.models import Person


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
    from crm.db import get_session

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
    group.add_command(health_consent_command)
