"""The sync's command: ``crm sync``, run by cron (exit codes tell it what happened)."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

import integrations
from crm.db import get_session
from crm.sync import lock
from crm.sync import runner


@click.command("sync")
@click.option(
    "--provider",
    type=click.Choice(integrations.PROVIDERS),
    help="Only this provider.",
)
@with_appcontext
def sync_command(provider: str | None) -> None:
    """Pull provider changes, apply them, push pending changes; exit 0 only when all is done.

    Exit codes: 0 nothing pending, 1 work remains (see the report), 75 another sync is running.
    """
    try:
        with lock.sync_lock():
            report = runner.run_sync(
                get_session(), only=provider, progress=lambda line: click.echo(line, err=True)
            )
    except lock.SyncAlreadyRunning:
        click.echo("Another sync is running; this one exits without doing anything.", err=True)
        sys.exit(75)
    if not report.providers:
        click.echo(
            "No mail provider is configured (enter one on the Mail providers page, or set "
            "CRM_<PROVIDER>_API_KEY, or CRM_PALOMA_ACCOUNT_ID)."
        )
    for line in runner.format_report(report):
        click.echo(line)
    sys.exit(0 if report.ok else 1)


def register(group: click.Group) -> None:
    """Add sync's commands to the ``crm`` group (called by crm/cli.py's ``init_app``)."""
    group.add_command(sync_command)
