"""privacy's commands: export, erase, objection, retention and practice.

``export`` and ``erase`` pass the identity gate (crm/privacy/identity.py) like the web pages:
a client's data goes out or is erased only once a check is on record, here the operator's own
(``--identity``) or one recorded on the person before.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from crm import audit
from crm import fsutil
from crm.audit import Actor
from crm.db import get_session
from crm.newsletter import common as newsletter_common
from crm.people.models import Person
from crm.privacy import erasure
from crm.privacy import export
from crm.privacy import identity as id_gate
from crm.privacy import objections
from crm.privacy import retention
from crm.privacy.practice_load import practice_group


def _person_with(db: Session, email: str) -> Person:
    """The person with this address, or the command ends with an error."""
    person = newsletter_common.find_person(db, email)
    if person is None:
        raise click.ClickException("No person with that address.")
    return person


#: how the operator checked the person's identity (a client's data is disclosed or erased only
#: once a check is recorded)
IDENTITY_OPTION = click.option(
    "--identity",
    type=click.Choice(list(id_gate.METHODS)),
    help="How you checked the person's identity: recorded before anything is disclosed or "
    "erased (needed for a client unless a check is already on record).",
)


def _identity_gate(db: Session, person: Person, purpose: str, method: str | None) -> None:
    """Record the operator's identity check, then pass the gate or stop with a clear message."""
    try:
        cleared = id_gate.check_now(db, person, purpose, method, Actor.cli())
    except id_gate.IdentityNotChecked as err:
        db.rollback()
        raise click.ClickException(
            "This person has client data and no identity check is recorded. Check who is "
            "asking, then give --identity id_document, bankid or known_in_person. Nothing "
            "was changed."
        ) from err
    if cleared.basis != "no_client_data" and cleared.checked_at is not None:
        click.echo(f"Identity: {cleared.method}, checked {cleared.checked_at:%Y-%m-%d}.")


@click.command("export")
@click.argument("email")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the zip.",
)
@IDENTITY_OPTION
@with_appcontext
def export_command(email: str, output: Path, identity: str | None) -> None:
    """Write everything held about a person to a zip (GDPR Art. 15 and 20)."""
    db = get_session()
    person = _person_with(db, email)
    _identity_gate(db, person, "access", identity)
    try:
        # A new 0600 file renamed over any old one: an existing export keeps no old mode.
        fsutil.write_private(output, export.build(db, person))
    except OSError as err:
        raise click.ClickException(f"Could not write {output}: {err.strerror}.") from err
    audit.record(db, Actor.cli(), "privacy.export", obj=person)
    db.commit()
    click.echo(f"Wrote {output} (contains personal data: hand it over safely, then delete it).")


@click.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@IDENTITY_OPTION
@with_appcontext
def erase_command(email: str, yes: bool, identity: str | None) -> None:
    """Erase a person: shows the plan (what is kept by law, until when), then carries it out."""
    db = get_session()
    person = _person_with(db, email)
    _identity_gate(db, person, "erasure", identity)
    the_plan = erasure.plan(db, person)
    click.echo("Deleted: " + ", ".join(the_plan.delete))
    for kept in the_plan.keep:
        click.echo(f"Kept: {kept.what} ({kept.why}) until {kept.until:%Y-%m-%d}")
    click.echo("Providers told to erase: " + (", ".join(the_plan.providers) or "none"))
    click.echo(
        "Recipients to tell by hand (dashboard tasks): " + (", ".join(the_plan.manual) or "none")
    )
    if the_plan.take_down:
        for pub in the_plan.take_down:
            click.echo(
                f"Still published: {pub.channel} {pub.url or ''} (testimonial {pub.testimonial_id})"
            )
        raise click.ClickException(
            "Take these down and tick them off on the testimonial page first: the erasure "
            "would delete the only record that they exist. Nothing was changed."
        )
    if not yes and not click.confirm("Erase now?"):
        raise click.ClickException("Nothing was changed.")
    try:
        erasure.execute(db, person, Actor.cli())
    except erasure.AlreadyErased as err:
        raise click.ClickException("Someone else erased this person meanwhile.") from err
    db.commit()
    click.echo("Erased. Run `crm sync` to tell the providers.")


@click.command("objection")
@click.argument("email")
@click.option(
    "--processing",
    type=click.Choice(list(objections.PROCESSINGS)),
    required=True,
    help="The processing objected to ('other' needs --name).",
)
@click.option("--name", "other", default="", help="The processing's name, for 'other'.")
@click.option(
    "--ground",
    default="",
    help="Compelling legitimate grounds that override the person's interests; without them "
    "the processing stops now.",
)
@click.option(
    "--channel",
    type=click.Choice(["email", "letter", "phone", "in_person"]),
    default="in_person",
    show_default=True,
    help="How the objection arrived.",
)
@with_appcontext
def objection_command(email: str, processing: str, other: str, ground: str, channel: str) -> None:
    """Register an objection (GDPR Art. 21) as a request; the processing stops unless grounds."""
    db = get_session()
    person = _person_with(db, email)
    try:
        row = objections.register(
            db, person, processing, Actor.cli(), other=other, ground=ground, channel=channel
        )
    except objections.ObjectionError as err:
        db.rollback()
        raise click.ClickException(str(err)) from err
    db.commit()
    state = "stopped now" if row.stopped_at else "going on: compelling grounds recorded"
    click.echo(f"Objection registered as request {row.id}, due {row.due_at:%Y-%m-%d}; {state}.")


@click.command("retention")
@click.option("--dry-run", is_flag=True, help="Report what would be deleted; delete nothing.")
@with_appcontext
def retention_command(dry_run: bool) -> None:
    """Delete what its retention period ran out for; list what needs a decision."""
    db = get_session()
    report = retention.run(db, dry_run=dry_run)
    if dry_run:
        db.rollback()
    else:
        db.commit()
    verb = "would delete" if dry_run else "deleted"
    for rule, count in report.deleted.items():
        period = report.periods.get(rule)
        click.echo(f"{rule}: {verb} {count}" + (f" ({period})" if period else ""))
    strip = "would strip" if dry_run else "stripped"
    click.echo(
        f"audit_log_stripped: {strip} {report.stripped} (kept in the chain; "
        f"{report.periods.get('audit_log_stripped', '')})"
    )
    asked: dict[str, int] = {}
    for decision in report.decisions:
        asked[decision.reason] = asked.get(decision.reason, 0) + 1
    for reason, count in sorted(asked.items()):
        click.echo(f"{reason}: {count} need a decision on the dashboard")


def register(group: click.Group) -> None:
    """Add privacy's commands to the ``crm`` group (called by crm/cli.py's ``init_app``)."""
    group.add_command(export_command)
    group.add_command(erase_command)
    group.add_command(objection_command)
    group.add_command(retention_command)
    group.add_command(practice_group)
