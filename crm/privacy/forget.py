"""Forget me: the erasure a subscriber asks for from the newsletter's preferences page.

Here, in privacy, and not in the newsletter: it orchestrates the erasure mechanism and the
requests, which walk every feature, and the newsletter must not import privacy (privacy
already imports the newsletter for objections and retention; ARCHITECTURE.md section 2).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm.audit import Actor
from crm.db import utcnow
from crm.newsletter import common as newsletter_common
from crm.newsletter import unsubscribing
from crm.newsletter.models import Method
from crm.people.models import Person
from crm.privacy import data_requests
from crm.privacy import erasure


def forget(session: Session, person: Person, actor: Actor) -> str:
    """Handle "forget me" from the preferences page.

    A newsletter-only subject (no client card, no visits) is erased at once through the one
    erasure mechanism, so legal holds, testimonial media files and the providers are handled
    as for any erasure; anyone else (a client, whose records may be under a legal hold)
    becomes an erasure request for the owner, due one calendar month later like every
    request. So does a subject whose testimonial is still up in a manual place, which the
    owner must take down first. Returns "erased" or "requested".
    """
    try:
        # before anything is written: a concurrent erasure (a double click, the owner) may
        # have deleted the person since the page was read, and a request or an unsubscribe
        # written for them would fail on its foreign key
        erasure.claim(session, person)
    except erasure.AlreadyErased:
        return "erased"
    if person.email and newsletter_common.is_newsletter_only(session, person):
        try:
            erasure.execute(session, person, actor, via="preferences")
        except erasure.ErasureBlocked:
            pass  # refused before changing anything: it becomes a request below
        else:
            return "erased"
    unsubscribing.unsubscribe(session, person, Method.PREFERENCES, actor)
    data_requests.open_request(session, person, "erasure", "preferences_page", utcnow(), actor)
    return "requested"
