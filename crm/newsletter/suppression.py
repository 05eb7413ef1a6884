"""The suppression list: keyed hashes of addresses that must never be mailed or re-added.

HMAC-SHA256 with a key generated once per installation (crm/security/secrets_store.py), of
the normalised address. Only a new double opt-in lifts a suppression.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.db import insert_ignoring_duplicates
from crm.db import rowcount
from crm.db import utcnow
from crm.newsletter.models import Reason
from crm.newsletter.models import Suppression
from crm.security import secrets_store


def normalise(email: str) -> str:
    """Return the form of an address that is hashed and stored: trimmed, lower-case."""
    return email.strip().lower()


def email_hash(session: Session, email: str) -> str:
    """Return the keyed hash of an address."""
    return hasher(session)(email)


def hasher(session: Session) -> Callable[[str], str]:
    """Return a function hashing many addresses fast (the keyed state is prepared once)."""
    prepared = hmac.new(
        secrets_store.get_or_create(session, "suppression"), digestmod=hashlib.sha256
    )

    def digest(email: str) -> str:
        h = prepared.copy()
        h.update(normalise(email).encode())
        return h.hexdigest()

    return digest


def reasons(session: Session, email: str) -> list[str]:
    """Return why an address is suppressed (empty when it is not)."""
    stmt = select(Suppression.reason).where(Suppression.email_hash == email_hash(session, email))
    return list(session.scalars(stmt))


def has_hash(session: Session, digest: str) -> bool:
    """Tell whether a hash (from :func:`email_hash`) is suppressed for any reason."""
    return (
        session.scalar(select(Suppression.id).where(Suppression.email_hash == digest).limit(1))
        is not None
    )


def is_suppressed(session: Session, email: str) -> bool:
    """Tell whether an address is on the suppression list for any reason."""
    return bool(reasons(session, email))


def all_hashes(session: Session) -> set[str]:
    """Return every suppressed hash (for bulk checks such as an import)."""
    return set(session.scalars(select(Suppression.email_hash).distinct()))


def suppress(session: Session, email: str, reason: Reason) -> bool:
    """Add an address with a reason; returns False when it was already there for that reason."""
    return insert_ignoring_duplicates(
        session,
        Suppression.__table__,
        {"email_hash": email_hash(session, email), "reason": str(reason), "created_at": utcnow()},
    )


def lift(session: Session, email: str) -> int:
    """Remove every suppression of an address: only after the person confirmed a new sign-up."""
    result = session.execute(
        delete(Suppression).where(Suppression.email_hash == email_hash(session, email))
    )
    return rowcount(result)
