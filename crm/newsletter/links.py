"""Signed links a subscriber receives: confirm, unsubscribe, preferences."""

from __future__ import annotations

from collections.abc import Sequence

from crm.newsletter import services
from crm.newsletter.models import MailingList
from crm.people.models import Person
from crm.security import tokens
from crm.web import absolute_url


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
    token = tokens.sign(tokens.Purpose.CONFIRM, services.confirm_payload(person, lists))
    return absolute_url("public.confirm", token=token)
