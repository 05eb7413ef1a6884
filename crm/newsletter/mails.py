"""The mails the newsletter sends itself: confirmation, welcome, preferences link."""

from __future__ import annotations

from collections.abc import Sequence

from flask import current_app
from flask import render_template
from flask_babel import gettext as _

from crm import controllers
from crm import mail
from crm.newsletter import links
from crm.newsletter.models import MailingList
from crm.people.models import Person


def _list_id() -> str:
    domain = current_app.config["BASE_URL"].split("://", 1)[-1].split("/", 1)[0].split(":")[0]
    return f"<newsletter.{domain}>"


def send_confirmation(person: Person, lists: Sequence[MailingList]) -> None:
    """Send the double opt-in link (transactional: no unsubscribe headers)."""
    text = render_template(
        "newsletter/mail/confirm.txt",
        person=person,
        lists=lists,
        url=links.confirm_url(person, lists),
        days=current_app.config["CONFIRM_LINK_DAYS"],
    )
    mail.send(
        mail.build(
            person.email,
            _("Confirm your subscription"),
            text,
            sender=controllers.name_for(newsletter=True),
        )
    )


def send_welcome(person: Person) -> None:
    """Send the first newsletter mail: it states the right to object and how to leave.

    A marketing mail, so it carries List-Unsubscribe and List-Unsubscribe-Post (RFC 8058).
    """
    unsubscribe = links.unsubscribe_url(person)
    text = render_template(
        "newsletter/mail/welcome.txt",
        person=person,
        unsubscribe_url=unsubscribe,
        preferences_url=links.preferences_url(person),
    )
    mail.send(
        mail.build(
            person.email,
            _("Welcome to our newsletter"),
            text,
            sender=controllers.name_for(newsletter=True),
            unsubscribe_url=unsubscribe,
            list_id=_list_id(),
        )
    )


def send_preferences_link(person: Person) -> None:
    """Send a fresh link to the preferences page to the address on file."""
    text = render_template(
        "newsletter/mail/preferences.txt",
        person=person,
        url=links.preferences_url(person),
        days=current_app.config["PREFERENCES_LINK_DAYS"],
    )
    mail.send(
        mail.build(
            person.email,
            _("Your newsletter settings"),
            text,
            sender=controllers.name_for(newsletter=True),
        )
    )
