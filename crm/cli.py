"""The ``crm`` command group: init, create-user, run, rotate-keys, audit verify.

Commands call the same services as the web views, inside an app context, and exit non-zero
when something is wrong, so cron and scripts can rely on the exit code.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from pathlib import Path

import click
from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from flask import Flask
from flask import current_app
from flask.cli import FlaskGroup
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

import integrations
from crm.audit import Actor
from crm.security.roles import Role

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
    from crm import audit
    from crm.db import get_session
    from crm.newsletter import mailing_lists
    from crm.security import secrets_store

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


def _read_password(email: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(f"Password for {email}: ")
        if first != getpass.getpass("Repeat the password: "):
            raise click.ClickException("The passwords differ.")
        return first
    return sys.stdin.readline().rstrip("\n")


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


@click.command("create-user")
@click.argument("email")
@click.option("--name", default="", help="Display name (defaults to the address).")
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    default="owner",
    show_default=True,
    help="owner: everything; practitioner: clients and health notes; assistant: contact "
    "details, newsletter, testimonials, requests; bookkeeping: purchases only.",
)
@with_appcontext
def create_user_command(email: str, name: str, role: str) -> None:
    """Create an account. The password is asked for, or read from stdin when it is piped."""
    from crm.auth import services
    from crm.db import get_session

    password = _read_password(email)
    db = get_session()
    try:
        user = services.create_user(
            db, email=email, name=name, password=password, role=Role(role), actor=Actor.cli()
        )
    except services.AccountError as err:
        raise click.ClickException(str(err)) from err
    db.commit()
    click.echo(f"Created {role} account {user.email}. Two-factor setup happens at first login.")


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def run_command(host: str, port: int) -> None:
    """Migrate, print the first-owner link if no account exists, and serve (development)."""
    from crm.auth import services
    from crm.db import get_session

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
            from flask import url_for

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
    from crm import audit
    from crm.db import get_session
    from crm.security.rotation import rotate_all
    from crm.testimonials import media

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


@click.command("unsubscribe-url")
@click.argument("email")
@with_appcontext
def unsubscribe_url_command(email: str) -> None:
    """Print the signed one-click unsubscribe URL for an address."""
    from crm.db import get_session
    from crm.newsletter import common as newsletter_common
    from crm.newsletter import links

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
    from crm.db import get_session
    from crm.newsletter import importer

    data = path.read_bytes()
    total = max(0, importer.decode(data).count("\n") - 1)
    db = get_session()
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


@click.command("export")
@click.argument("email")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the zip.",
)
@with_appcontext
def export_command(email: str, output: Path) -> None:
    """Write everything held about a person to a zip (GDPR Art. 15 and 20)."""
    from crm import audit
    from crm import fsutil
    from crm.db import get_session
    from crm.newsletter import common as newsletter_common
    from crm.privacy import export

    db = get_session()
    person = newsletter_common.find_person(db, email)
    if person is None:
        raise click.ClickException("No person with that address.")
    try:
        # A new 0600 file renamed over any old one: an existing export keeps no old mode.
        fsutil.write_private(output, export.build(db, person))
    except OSError as err:
        raise click.ClickException(f"Could not write {output}: {err.strerror}.") from err
    audit.record(db, Actor.cli(), "privacy.export", object_type="person", object_id=person.id)
    db.commit()
    click.echo(f"Wrote {output} (contains personal data: hand it over safely, then delete it).")


@click.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def erase_command(email: str, yes: bool) -> None:
    """Erase a person: shows the plan (what is kept by law, until when), then carries it out."""
    from crm.db import get_session
    from crm.newsletter import common as newsletter_common
    from crm.privacy import erasure

    db = get_session()
    person = newsletter_common.find_person(db, email)
    if person is None:
        raise click.ClickException("No person with that address.")
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
    from crm.db import get_session
    from crm.sync import lock
    from crm.sync import runner

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


@click.command("retention")
@click.option("--dry-run", is_flag=True, help="Report what would be deleted; delete nothing.")
@with_appcontext
def retention_command(dry_run: bool) -> None:
    """Delete what its retention period ran out for; list what needs a decision."""
    from crm.db import get_session
    from crm.privacy import retention

    db = get_session()
    report = retention.run(db, dry_run=dry_run)
    if dry_run:
        db.rollback()
    else:
        db.commit()
    verb = "would delete" if dry_run else "deleted"
    for rule, count in report.deleted.items():
        click.echo(f"{rule}: {verb} {count}")
    for decision in report.decisions:
        click.echo(
            f"needs a decision: person {decision.person_id} ({decision.reason}, "
            f"since {decision.since:%Y-%m-%d})"
        )


@click.command("backup")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup_command(target: Path) -> None:
    """Write a consistent backup (database + encrypted media) into a new directory."""
    from crm import backup

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
    from crm import backup

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
    from crm.audit import Checkpoint
    from crm.audit import parse_checkpoint_file

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
    from crm.audit import verify_chain
    from crm.db import get_session

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
    from crm import audit
    from crm.db import get_session

    try:
        cp = audit.checkpoint(get_session())
    except audit.ChainBroken as err:
        click.echo(f"Audit trail BROKEN: {err}; no checkpoint printed.", err=True)
        sys.exit(1)
    click.echo(cp.line())


def init_app(app: Flask) -> None:
    """Register the commands on the app (also reachable as ``flask --app crm ...``)."""
    from crm.privacy.practice_file import practice_group

    for cmd in (
        init_command,
        make_migration_command,
        create_user_command,
        unsubscribe_url_command,
        import_subscribers_command,
        retention_command,
        sync_command,
        export_command,
        erase_command,
        backup_command,
        restore_command,
        rotate_keys_command,
        audit_group,
        practice_group,
    ):
        app.cli.add_command(cmd)


def _create_app_for_cli() -> Flask:
    from crm import create_app

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
