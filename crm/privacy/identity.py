"""The identity gate: no export, download link or erasure of a client without a recorded check.

Seeds 000/001: "ALLA måste visa upp en giltig legitimation"; GDPR Art. 12(6) lets (and
Art. 5(1)(f) makes) a controller confirm who is asking before it discloses or erases data.
Health data handed to the wrong person cannot be taken back, so for a person with client
data (a client card, visits or journal entries) every path that discloses or erases - the
owner's download, the mailed download link and its public download, the erasure, closing
an access or erasure request, and the command line - calls :func:`require_identity_check`
first. The services themselves call it (``export.collect``, ``erasure.execute``), so a
new view or command cannot forget it.

What counts as a recorded check:

- for a request: the request's own check (how, by whom, when), recorded on its page. The
  requester is checked, not the person's history: the ID a client showed a year ago does
  not prove who wrote today's mail. The page offers that earlier check as the reason for
  "known in person" instead.
- without a request (the command line, which names its own check with ``--identity``):
  a check recorded on the person, such as "ID shown" at the first visit.

A newsletter-only subscriber (no client data) passes: they act through their own signed
link (forget me, preferences), which proves the address, and nothing else is held.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.audit import Actor
from crm.i18n import N_
from crm.people import services as people
from crm.people.models import ClientCard
from crm.people.models import IdentityMethod
from crm.people.models import JournalEntry
from crm.people.models import Person
from crm.people.models import Visit
from crm.privacy.models import DataRequest

#: what the gate guards; the request kinds it applies to when a request is closed
PURPOSES = ("access", "portability", "export_link", "erasure")
GATED_KINDS = frozenset({"access", "portability", "erasure"})

METHODS = tuple(m.value for m in IdentityMethod)


class IdentityNotChecked(PermissionError):
    """No identity check is recorded; the message is an English msgid for the user."""


@dataclass(frozen=True)
class Clearance:
    """Why a disclosure or erasure may go ahead: which check it rests on."""

    person_id: int
    purpose: str
    #: "request" (the request's check), "person" (a check on the person), or
    #: "no_client_data" (a newsletter-only subscriber: no check needed)
    basis: str
    method: str | None = None
    checked_at: datetime | None = None
    checked_by_id: int | None = None


def has_client_data(session: Session, person_id: int) -> bool:
    """Whether the person is a client: a client card, a visit or a journal entry."""
    for column in (ClientCard.person_id, Visit.person_id, JournalEntry.person_id):
        if session.scalar(select(column).where(column == person_id).limit(1)) is not None:
            return True
    return False


def clearance(
    session: Session, person: Person, purpose: str, request: DataRequest | None = None
) -> Clearance | None:
    """The check a disclosure or erasure would rest on, or None when none is recorded."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    if not has_client_data(session, person.id):
        return Clearance(person.id, purpose, "no_client_data")
    if request is not None:
        if request.person_id != person.id or request.identity_verified_at is None:
            return None
        return Clearance(
            person.id,
            purpose,
            "request",
            request.identity_method,
            request.identity_verified_at,
            request.identity_verified_by_id,
        )
    check = people.latest_identity_check(session, person.id)
    if check is None:
        return None
    return Clearance(
        person.id, purpose, "person", check.method, check.checked_at, check.checked_by_id
    )


def require_identity_check(
    session: Session, person: Person, purpose: str, request: DataRequest | None = None
) -> Clearance:
    """Return the clearance for an export or erasure, or refuse it.

    :raises IdentityNotChecked: the person has client data and no check is recorded (on
        ``request`` when given, else on the person).
    """
    found = clearance(session, person, purpose, request)
    if found is None:
        if request is not None:
            raise IdentityNotChecked(
                N_(
                    "Record how the identity was checked first (ID document, BankID or known "
                    "in person): this person has client data."
                )
            )
        raise IdentityNotChecked(
            N_(
                "No identity check is recorded for this person: record how their identity "
                "was checked first."
            )
        )
    return found


def require_for_closing(session: Session, request: DataRequest) -> None:
    """Closing an access, portability or erasure request as done needs the same check.

    The data may have gone out another way (a printout handed over); the check must still be
    on record before the request says it was answered.
    """
    if request.kind not in GATED_KINDS or request.person_id is None:
        return
    person = session.get(Person, request.person_id)
    if person is None:  # erased meanwhile: the erasure itself passed the gate
        return
    purpose = "erasure" if request.kind == "erasure" else request.kind
    require_identity_check(session, person, purpose, request)


def check_now(
    session: Session, person: Person, purpose: str, method: str | None, actor: Actor
) -> Clearance:
    """The gate for a disclosure without a request (the command line).

    ``method``: how the operator checked the identity just now (``--identity``); it is recorded
    on the person (with the actor, and the time) before the gate is asked. Without it, a check
    already on the person (e.g. "ID shown" at the first visit) must do.
    """
    if method is not None and has_client_data(session, person.id):
        people.record_identity_check(session, person, method, actor)
    return require_identity_check(session, person, purpose)
