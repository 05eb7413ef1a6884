"""The newsletter's commands: ``crm unsubscribe-url`` and ``crm import-subscribers``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from crm import features
from crm.audit import Actor
from crm.db import get_session
from crm.newsletter import common as newsletter_common
from crm.newsletter import importer
from crm.newsletter import links


@click.command("unsubscribe-url")
@click.argument("email")
@with_appcontext
def unsubscribe_url_command(email: str) -> None:
    """Print the signed one-click unsubscribe URL for an address."""
    person = newsletter_common.find_person(get_session(), email)
    if person is None:
        raise click.ClickException("No person with that address.")
    with current_app.test_request_context():
        click.echo(links.unsubscribe_url(person))


@click.command("import-subscribers")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--consent-method",
    default="import",
    show_default=True,
    type=click.Choice(["paper_form", "verbal", "soft_opt_in", "web_form", "import"]),
    help="How consent was obtained, for rows without a consent_method column.",
)
@click.option("--dry-run", is_flag=True, help="Report what would happen; change nothing.")
@with_appcontext
def import_subscribers_command(path: Path, consent_method: str, dry_run: bool) -> None:
    """Import subscribers from a CSV file (columns: see the README)."""
    db = get_session()
    if not features.is_on(db, "newsletter"):  # the policy says there is no newsletter
        raise click.ClickException("the newsletter is switched off in the practice settings")
    data = path.read_bytes()
    total = max(0, importer.decode(data).count("\n") - 1)
    with click.progressbar(length=total, label="Importing", file=sys.stderr) as bar:
        try:
            report = importer.run(
                db,
                data,
                default_method=consent_method,
                actor=Actor.cli(),
                dry_run=dry_run,
                progress=bar.update,
            )
        except importer.ImportFileError as err:
            raise click.ClickException(err.english()) from err
    if dry_run:
        db.rollback()
    else:
        db.commit()
    click.echo(
        f"rows {report.rows}, new {report.created}, already subscribed {report.already}, "
        f"skipped unsubscribed {report.skipped_unsubscribed}, skipped suppressed "
        f"{report.skipped_suppressed}, errors {len(report.errors)}"
        + (" (dry run: nothing saved)" if dry_run else "")
    )
    for error in report.errors[:100]:
        click.echo(f"  line {error.line}: {error.message}", err=True)
    if report.errors:
        sys.exit(1)


def register(group: click.Group) -> None:
    """Add newsletter's commands to the ``crm`` group (called by crm/cli.py's ``init_app``)."""
    group.add_command(unsubscribe_url_command)
    group.add_command(import_subscribers_command)
