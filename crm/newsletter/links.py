"""Signed links a subscriber receives: confirm, unsubscribe, preferences."""

from __future__ import annotations

from collections.abc import Sequence

from flask import current_app
from flask import render_template

from crm.db import get_session
from crm.newsletter import common
from crm.newsletter import subscribing
from crm.newsletter.models import MailingList
from crm.people.models import Person
from crm.security import tokens
from crm.web import absolute_url
from crm.web import verify_link


def unsubscribe_url(person: Person) -> str:
    """Return the never-expiring one-click unsubscribe URL for a person."""
    token = tokens.sign(tokens.Purpose.UNSUBSCRIBE, person.public_id)
    return absolute_url("public.unsubscribe", token=token)


def preferences_url(person: Person) -> str:
    """Return a preferences URL (it expires; see PREFERENCES_LINK_DAYS)."""
    token = tokens.sign(tokens.Purpose.PREFERENCES, person.public_id)
    return absolute_url("public.preferences", token=token)


def confirm_url(person: Person, lists: Sequence[MailingList]) -> str:
    """Return the double opt-in confirmation URL for the given lists."""
    token = tokens.sign(tokens.Purpose.CONFIRM, subscribing.confirm_payload(person, lists))
    return absolute_url("public.confirm", token=token)


def preferences_person(token: str) -> Person | tuple[str, int]:
    """The person a preferences link is for, or the page to answer with when they are gone.

    A bad or expired link aborts with its own page (crm.web.verify_link).

    Shared by the newsletter's preferences pages and privacy's "forget me", which is reached
    from the same link.
    """
    public_id = verify_link(
        tokens.Purpose.PREFERENCES,
        token,
        days=current_app.config["PREFERENCES_LINK_DAYS"],
        expired_page="public/preferences_expired.html",
    )
    person = common.person_by_public_id(get_session(), public_id)
    if person is None or person.email is None:
        return render_template("public/forgotten.html"), 404
    return person
