"""The one lookup of a person named in a URL, for every feature's pages about a person.

Why a module of its own: people, privacy, newsletter and representatives all have pages at
``.../<person_id>/...``, and each must answer 404 for a person of another controller to an
account limited to one (:func:`crm.web.controller_limit`). Written out at each page, that rule
was one lambda away from being forgotten; here it is written once. It is not in the people
views, which other features may not import.
"""

from __future__ import annotations

from crm.people.models import Person
from crm.web import get_or_404


def person_or_404(person_id: int) -> Person:
    """The person, or 404 when there is none or the account is limited to another controller."""
    return get_or_404(Person, person_id, controller=lambda p: p.controller_id)
