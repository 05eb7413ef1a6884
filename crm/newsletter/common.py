"""What every newsletter operation shares.

The error, the address check, finding or adding the person, the facts the rules decide on, and
the consent record each change writes.

Kept apart from the operations so that sign-up, unsubscribe and retention each stand on it
without importing one another.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import controllers
from crm.db import Base
from crm.errors import DomainError
from crm.newsletter import rules
from crm.newsletter import suppression
from crm.newsletter.models import ConsentRecord
from crm.newsletter.models import ConsentText
from crm.newsletter.models import MailingList
from crm.newsletter.models import Method
from crm.newsletter.models import Subscription
from crm.people.models import ClientCard
from crm.people.models import JournalEntry
from crm.people.models import Person
from crm.people.models import Visit
from crm.security import emails


class NewsletterError(DomainError):
    """An operation was refused; the message is an English msgid for the user."""


def valid_email(email: str) -> bool:
    """Tell whether an address is one plain address (crm.security.emails, the one check)."""
    return emails.is_valid(email)


def find_person(session: Session, email: str) -> Person | None:
    """Return the person with this address."""
    return session.scalar(select(Person).where(Person.email == suppression.normalise(email)))


def create_person(session: Session, email: str, name: str) -> Person:
    """Add a person for a new address (named by the address when no name is given)."""
    person = Person(
        email=email,
        name=(name or "").strip()[:200] or email,
        # seed 000: a subscriber is the newsletter's controller's
        controller_id=controllers.newsletter_id(session.connection()),
    )
    session.add(person)
    session.flush()
    return person


def facts(session: Session, person: Person | None, email: str, list_id: int) -> rules.Facts:
    """Gather what :func:`crm.newsletter.rules.decide` looks at, for one address and list."""
    suppressed = suppression.is_suppressed(session, email)
    if person is None or person.id is None:
        return rules.Facts(suppressed=suppressed)
    status = session.scalar(
        select(Subscription.status).where(
            Subscription.person_id == person.id, Subscription.list_id == list_id
        )
    )
    latest = session.execute(
        select(ConsentRecord.action, ConsentRecord.method)
        .where(ConsentRecord.person_id == person.id, ConsentRecord.list_id == list_id)
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    ).first()
    return rules.Facts(
        suppressed=suppressed,
        restricted=person.restricted_at is not None,
        objected=person.marketing_objection_at is not None,
        client=not is_newsletter_only(session, person),
        status=status,
        # a public sign-up's grant is the newest record: it awaits its confirmation click
        signup_awaiting=latest is not None
        and latest.action == "grant"
        and latest.method == Method.WEB_FORM,
    )


def record(
    session: Session,
    person: Person,
    action: str,
    method: str,
    *,
    mlist: MailingList | None = None,
    text: ConsentText | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    staff_user_id: int | None = None,
    note: str | None = None,
) -> ConsentRecord:
    """Add the consent record of one change (the proof Art. 7(1) asks for) to the session."""
    record = ConsentRecord(
        person_id=person.id,
        list_id=mlist.id if mlist else None,
        action=action,
        method=method,
        consent_text_id=text.id if text else None,
        text_hash=text.text_hash if text else None,
        ip=ip,
        user_agent=(user_agent or "")[:200] or None,
        staff_user_id=staff_user_id,
        note=(note or "").strip() or None,
    )
    session.add(record)
    return record


def person_by_public_id(session: Session, public_id: Any) -> Person | None:
    """Return the person a signed link names, if they still exist."""
    if not isinstance(public_id, str):
        return None
    return session.scalar(select(Person).where(Person.public_id == public_id))


def is_newsletter_only(session: Session, person: Person) -> bool:
    """Tell whether the person is not a client: no client card, no visits, no journal.

    Decides whether "forget me" (crm/privacy/forget.py) erases at once (through the erasure
    mechanism, which keeps legal holds) or becomes a request for the owner to handle.
    """
    for column in (ClientCard.person_id, Visit.person_id, JournalEntry.person_id):
        if session.scalar(select(column).where(column == person.id).limit(1)) is not None:
            return False
    return True


#: Tables about a person that are the newsletter's own, or only bookkeeping of where the
#: address was sent; any other table referring to a person is "something else on file".
NEWSLETTER_TABLES = frozenset({"subscription", "consent_record", "provider_link", "outbox_op"})


def only_newsletter_records(session: Session, person: Person) -> bool:
    """Tell whether nothing but newsletter records refers to the person.

    Found from the schema, not from a list of features: every table with a foreign key to
    ``person`` (client card, visits, journal, testimonials, legal holds, requests, and any
    table added later) counts, except the newsletter's own. The purge of stale sign-ups
    deletes the person row directly, so it must not miss anything: a fixed list once missed
    the journal, and a patient who signed up and never confirmed lost it.
    """
    for table in Base.metadata.sorted_tables:
        if table.name in NEWSLETTER_TABLES:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == "person":
                found = session.scalar(select(fk.parent).where(fk.parent == person.id).limit(1))
                if found is not None:
                    return False
    return True
