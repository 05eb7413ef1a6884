"""Mailing lists and the consent texts people agree to.

A consent text is never edited in place: each change is a new version, so every consent record
keeps pointing at the exact words its person saw.
"""

from __future__ import annotations

import hashlib
import re

from flask import current_app
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm import controllers
from crm.audit import Actor
from crm.i18n import N_
from crm.newsletter.common import NewsletterError
from crm.newsletter.models import ConsentText
from crm.newsletter.models import MailingList

DEFAULT_LIST_NAME = "Nyhetsbrev"
DEFAULT_CONSENT_TEXT = (
    "Ja, jag vill få nyhetsbrev från {practice} via e-post. Jag kan när som helst avsluta "
    "prenumerationen via länken i varje utskick."
)


def text_hash(text: str) -> str:
    """Return the hash that proves which consent text someone saw."""
    return hashlib.sha256(text.encode()).hexdigest()


def default_list(session: Session) -> MailingList:
    """Return the default list, creating it the first time it is needed."""
    row = session.scalar(select(MailingList).where(MailingList.is_default.is_(True)))
    if row is None:
        row = session.scalar(select(MailingList).order_by(MailingList.id))
        if row is None:
            row = MailingList(name=DEFAULT_LIST_NAME, is_default=True)
            session.add(row)
        row.is_default = True
        session.flush()
    return row


def all_lists(session: Session) -> list[MailingList]:
    """Return every list, the default first."""
    default_list(session)
    stmt = select(MailingList).order_by(MailingList.is_default.desc(), MailingList.name)
    return list(session.scalars(stmt))


def create_list(session: Session, name: str, actor: Actor) -> MailingList:
    """Add a list."""
    name = name.strip()
    if not name:
        raise NewsletterError(N_("Enter a name for the list."))
    if session.scalar(select(MailingList.id).where(func.lower(MailingList.name) == name.lower())):
        raise NewsletterError(N_("A list with this name already exists."))
    row = MailingList(name=name[:100])
    session.add(row)
    session.flush()
    audit.record(session, actor, "newsletter.list_create", obj=row)
    return row


def current_consent_text(session: Session) -> ConsentText:
    """Return the newest consent text, creating version 1 the first time it is needed."""
    row = session.scalar(
        select(ConsentText)
        .where(ConsentText.purpose == "newsletter")
        .order_by(ConsentText.version.desc())
        .limit(1)
    )
    # seed 000: the consent is given to the controller that runs the newsletter
    runs = controllers.get(session, controllers.newsletter_id(session.connection()))
    text = DEFAULT_CONSENT_TEXT.format(
        practice=runs.display_name(current_app.config["PRACTICE_NAME"])
    )
    if row is None or (_is_default_text(row) and row.text != text):
        # first use, or the controller was named (or renamed) since the default was written:
        # a new version, so consents already given keep the text they were given to
        version = 1 if row is None else row.version + 1
        row = ConsentText(
            purpose="newsletter", version=version, text=text, text_hash=text_hash(text)
        )
        session.add(row)
        session.flush()
    return row


_DEFAULT_PATTERN = re.compile(
    re.escape(DEFAULT_CONSENT_TEXT).replace(re.escape("{practice}"), ".+") + "$"
)


def _is_default_text(row: ConsentText) -> bool:
    """The text was written by the system from the default, not by the owner."""
    return row.created_by_id is None and _DEFAULT_PATTERN.match(row.text) is not None


def update_consent_text(session: Session, text: str, actor: Actor) -> ConsentText:
    """Store an edited consent text as a new version; earlier records keep their version."""
    text = text.strip()
    if len(text) < 20:
        raise NewsletterError(
            N_("The consent text is too short to tell people what they agree to.")
        )
    current = current_consent_text(session)
    if text == current.text:
        return current
    row = ConsentText(
        purpose="newsletter",
        version=current.version + 1,
        text=text,
        text_hash=text_hash(text),
        created_by_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session, actor, "newsletter.consent_text", obj=row, details={"version": row.version}
    )
    return row


def ensure_defaults(session: Session) -> None:
    """Create the default list and the first consent text (run by ``crm init``)."""
    default_list(session)
    current_consent_text(session)
