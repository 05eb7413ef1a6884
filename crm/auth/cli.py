"""auth's commands: ``crm create-user``."""

from __future__ import annotations

import getpass
import sys

import click
from flask.cli import with_appcontext

from crm.audit import Actor
from crm.auth import services
from crm.db import get_session
from crm.security.roles import Role


def _read_password(email: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(f"Password for {email}: ")
        if first != getpass.getpass("Repeat the password: "):
            raise click.ClickException("The passwords differ.")
        return first
    return sys.stdin.readline().rstrip("\n")


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


def register(group: click.Group) -> None:
    """Add auth's commands to the ``crm`` group (called by crm/cli.py's ``init_app``)."""
    group.add_command(create_user_command)
