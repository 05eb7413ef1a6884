"""The ``crm`` command group: init, run, backup, restore, rotate-keys, audit, and the features'.

Each feature registers its own commands (crm/<feature>/cli.py, ``register``); this module
holds the installation-wide ones and puts the group together.

Commands call the same services as the web views, inside an app context, and exit non-zero
when something is wrong, so cron and scripts can rely on the exit code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from flask import Flask
from flask import current_app
from flask import url_for
from flask.cli import FlaskGroup
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

from crm import audit
from crm import backup
from crm import create_app
from crm.audit import Checkpoint
from crm.audit import parse_checkpoint_file
from crm.audit import verify_chain
from crm.auth import cli as auth_cli
from crm.auth import services
from crm.db import get_session
from crm.newsletter import cli as newsletter_cli
from crm.newsletter import mailing_lists
from crm.people import cli as people_cli
from crm.privacy import cli as privacy_cli
from crm.security import secrets_store
from crm.security.rotation import rotate_all
from crm.sync import cli as sync_cli
from crm.testimonials import media

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> AlembicConfig:
    """Return an Alembic config for ``url`` that finds the project's migrations."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("timezone", "UTC")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` through the migrations."""
    alembic_command.upgrade(alembic_config(url), revision)


def prepare_database() -> None:
    """Migrate the current app's database, create its generated secrets, key the audit chain."""
    upgrade_database(current_app.config["DATABASE_URL"])
    db = get_session()
    secrets_store.ensure(db)
    mailing_lists.ensure_defaults(db)
    sealed = audit.seal(db)
    db.commit()
    if sealed:
        click.echo(f"Audit trail: {sealed} entries from before keying sealed with the audit key.")


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the database to the newest schema."""
    prepare_database()
    click.echo("Database is up to date.")


@click.command("make-migration")
@click.argument("message")
@with_appcontext
def make_migration_command(message: str) -> None:
    """Write a new migration by comparing the models with the database (for developers)."""
    cfg = alembic_config(current_app.config["DATABASE_URL"])
    cfg.set_main_option(
        "file_template",
        "%%(year)d%%(month).2d%%(day).2d_%%(hour).2d%%(minute).2d_%%(rev)s_%%(slug)s",
    )
    alembic_command.revision(cfg, message=message, autogenerate=True)


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def run_command(host: str, port: int) -> None:
    """Migrate, print the first-owner link if no account exists, and serve (development)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    prepare_database()
    db = get_session()
    token = services.first_owner_token(db)
    db.commit()
    base = f"http://{host}:{port}"
    if app.config["ENV"] == "development" and not os.environ.get("CRM_BASE_URL"):
        # Links in mails, the embed snippet and invitations must point at the port actually
        # served; an explicit CRM_BASE_URL (a tunnel, a LAN name) still wins.
        app.config["BASE_URL"] = base
    if token:
        with app.test_request_context():
            path = url_for("auth.setup", token=token)
        hours = app.config["SETUP_LINK_HOURS"]
        click.secho(
            f"\nNo account yet. Create the owner account here (one-time link, valid "
            f"{hours} h):\n\n    {base}{path}\n",
            fg="green",
            bold=True,
        )
    click.echo(f"Serving on {base} (stop with Ctrl+C)")
    # Flask's app.run() refuses to run inside its own CLI; werkzeug's server is what it uses.
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


@click.command("rotate-keys")
@with_appcontext
def rotate_keys_command() -> None:
    """Re-encrypt every encrypted field and recompute blind indexes with the newest key.

    Put the new key first in CRM_ENCRYPTION_KEY (keeping the old ones after it), run this,
    then the old keys can be removed.
    """
    db = get_session()
    counts = rotate_all(db)
    db.commit()
    for table, count in counts.items():
        click.echo(f"{table}: {count} values re-encrypted")
    click.echo(f"media files: {media.rotate_files()} re-encrypted")
    try:
        tagged = audit.rekey(db)
    except audit.ChainBroken as err:
        raise click.ClickException(
            f"{err}. The audit trail was NOT re-keyed: keep the old keys in "
            "CRM_ENCRYPTION_KEY and investigate (`crm audit verify`)."
        ) from err
    db.commit()
    click.echo(f"audit trail: {tagged} entries re-keyed")
    click.echo("Done. Old keys can now be removed from CRM_ENCRYPTION_KEY.")


@click.command("backup")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup_command(target: Path) -> None:
    """Write a consistent backup (database + encrypted media) into a new directory."""
    try:
        manifest = backup.backup(
            current_app.config["DATABASE_URL"], Path(current_app.instance_path), target
        )
    except (backup.BackupError, subprocess.CalledProcessError) as err:
        raise click.ClickException(str(err)) from err
    click.echo(
        f"Backup written to {target}: {len(manifest['files'])} files. Keep "
        "CRM_ENCRYPTION_KEY elsewhere: without it the backup cannot be read."
    )


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(source: Path, yes: bool) -> None:
    """Replace the database and media with a backup (stop the app and the sync first)."""
    try:
        backup.verify(source)
    except backup.BackupError as err:
        raise click.ClickException(str(err)) from err
    if not yes and not click.confirm("This replaces the current data. Continue?"):
        raise click.ClickException("Nothing was changed.")
    try:
        backup.restore(current_app.config["DATABASE_URL"], Path(current_app.instance_path), source)
    except (backup.BackupError, subprocess.CalledProcessError) as err:
        raise click.ClickException(str(err)) from err
    click.echo("Restored. Run `crm init` if the backup is from an older version.")


@click.group("audit")
def audit_group() -> None:
    """Inspect the audit trail."""


def _read_checkpoints(values: tuple[str, ...], files: tuple[Path, ...]) -> list:
    found = []
    try:
        found += [Checkpoint.parse(value) for value in values]
        for path in files:
            found += parse_checkpoint_file(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise click.ClickException(str(err)) from err
    return found


@audit_group.command("verify")
@click.option(
    "--checkpoint",
    "checkpoints",
    multiple=True,
    metavar="SEQ:HASH",
    help="An exported checkpoint that must still be in the chain (repeatable).",
)
@click.option(
    "--checkpoint-file",
    "checkpoint_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of checkpoints, one per line, as the nightly job writes them (repeatable).",
)
@with_appcontext
def audit_verify_command(checkpoints: tuple[str, ...], checkpoint_files: tuple[Path, ...]) -> None:
    """Check the keyed hash chain (and exported checkpoints); report the first bad row."""
    wanted = _read_checkpoints(checkpoints, checkpoint_files)
    report = verify_chain(get_session(), wanted)
    if report.ok:
        line = f"Audit trail intact: {report.checked} entries verified."
        if wanted:
            line += f" {report.checkpoints_checked} checkpoints match."
        if report.checkpoints_pruned:
            line += f" {report.checkpoints_pruned} checkpoints are older than the retained entries."
        click.echo(line)
        return
    click.echo(
        f"Audit trail BROKEN at entry {report.broken_seq}: {report.reason} "
        f"({report.checked} entries verified before it).",
        err=True,
    )
    sys.exit(1)


@audit_group.command("checkpoint")
@with_appcontext
def audit_checkpoint_command() -> None:
    """Verify the chain, then print its head as SEQ:HASH TIME to keep outside this server.

    Later, `crm audit verify --checkpoint SEQ:HASH` proves nobody removed or rewrote entries
    up to it, even someone who could write the database.
    """
    try:
        cp = audit.checkpoint(get_session())
    except audit.ChainBroken as err:
        click.echo(f"Audit trail BROKEN: {err}; no checkpoint printed.", err=True)
        sys.exit(1)
    click.echo(cp.line())


def init_app(app: Flask) -> None:
    """Register the commands on the app (also reachable as ``flask --app crm ...``)."""
    for cmd in (
        init_command,
        make_migration_command,
        backup_command,
        restore_command,
        rotate_keys_command,
        audit_group,
    ):
        app.cli.add_command(cmd)
    # each feature adds its own commands (crm/<feature>/cli.py)
    for feature_cli in (auth_cli, newsletter_cli, people_cli, privacy_cli, sync_cli):
        feature_cli.register(app.cli)


def _create_app_for_cli() -> Flask:
    return create_app()


class CrmGroup(FlaskGroup):
    """FlaskGroup whose ``run`` is ours (migrate + first-owner link) instead of Flask's."""

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """Prefer our ``run`` over Flask's built-in development server command."""
        if name == "run":
            return run_command
        return super().get_command(ctx, name)


@click.group(
    cls=CrmGroup,
    create_app=_create_app_for_cli,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
)
def main() -> None:
    """Praktik-CRM: administration commands."""


main.add_command(run_command)
__all__ = ["main", "upgrade_database", "alembic_config"]


if __name__ == "__main__":
    main()
