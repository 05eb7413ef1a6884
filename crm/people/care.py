"""The care side of a person: the client card (with its Art. 9 basis), visits and the journal.

Writing any of it needs the health-data permission (crm/security/roles.py); a restricted
person's card and visits cannot change, and journal entries are never edited, only corrected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import time

from sqlalchemy.orm import Session

from crm import audit
from crm import controllers
from crm.audit import Actor
from crm.db import utcnow
from crm.i18n import N_
from crm.people import health
from crm.people.models import Art9Basis
from crm.people.models import ClientCard
from crm.people.models import JournalEntry
from crm.people.models import Person
from crm.people.models import Visit
from crm.people.services import PersonError
from crm.people.services import refuse_if_restricted
from crm.security import roles
from crm.security.roles import Perm


def _require_health_basis(session: Session, person: Person, what: str) -> None:
    """The Art. 9 basis check of crm/people/health.py, as this module's error."""
    try:
        health.require_basis(session, person, what)
    except health.HealthBasisError as err:
        raise PersonError(str(err)) from err


def _practice_profile(session: Session, person: Person) -> str | None:
    """The profile ("A" licensed care, "B" other) of the controller that met the person."""
    return controllers.get(session, person.controller_id).profile


@dataclass
class ClientCardData:
    """What the owner can type on a client card."""

    client_since: date | None
    client_until: date | None
    health_notes: str | None
    art9_basis: str | None


def update_client_card(
    session: Session, person: Person, data: ClientCardData, actor: Actor
) -> list[str]:
    """Create or change a person's client card; returns the changed field names.

    Health notes are refused without a recorded Art. 9(2) basis (GDPR 1.23).

    :raises roles.PermissionDenied: the acting user's role may not write health data.
    """
    roles.check(actor, Perm.HEALTH_WRITE)
    refuse_if_restricted(person)
    notes = (data.health_notes or "").strip() or None
    basis = data.art9_basis or None
    if basis is not None and basis not in {b.value for b in Art9Basis}:
        raise PersonError(N_("Choose the legal basis for the health notes."))
    if notes and basis is None:
        raise PersonError(N_("Health notes need a recorded legal basis (GDPR Art. 9)."))
    if basis == Art9Basis.HEALTH_CARE and _practice_profile(session, person) != "A":
        raise PersonError(
            N_(
                "Health care (Art. 9(2)(h)) is a basis only for licensed care under "
                "patientdatalagen (profile A in the settings). Choose explicit consent."
            )
        )
    card = person.client_card
    if notes and notes != (card.health_notes if card else None):
        # new or changed notes need the basis now; notes written before a withdrawal may stay
        # while the dates are edited, until they are erased
        if basis == Art9Basis.EXPLICIT_CONSENT and not health.has_consent(session, person.id):
            raise PersonError(
                N_(
                    "Health notes need the client's explicit consent (GDPR Art. 9(2)(a)): "
                    "record it on the client card first."
                )
            )
    if data.client_since and data.client_until and data.client_until < data.client_since:
        raise PersonError(N_("'Client until' cannot be before 'client since'."))
    card = person.client_card
    if card is None:
        card = ClientCard()
        person.client_card = card
    changed = []
    for field, value in (
        ("client_since", data.client_since),
        ("client_until", data.client_until),
        ("health_notes", notes),
        ("art9_basis", basis),
    ):
        if getattr(card, field) != value:
            setattr(card, field, value)
            changed.append(field)
    if changed:
        card.updated_at = utcnow()
        session.flush()
        audit.record(session, actor, "person.client_card", obj=person, details={"fields": changed})
    return changed


def add_visit(
    session: Session, person: Person, visited_on: date, note: str | None, actor: Actor
) -> Visit:
    """Record a visit; it also moves the person's last contact date forward.

    :raises roles.PermissionDenied: the acting user's role may not write health data (a
        visit is care, and its note is a health note).
    """
    roles.check(actor, Perm.HEALTH_WRITE)
    refuse_if_restricted(person)
    if visited_on > date.today():
        raise PersonError(N_("A visit cannot be in the future."))
    if (note or "").strip():
        _require_health_basis(session, person, "notes")
    visit = Visit(
        visited_on=visited_on, note=(note or "").strip() or None, created_by_id=actor.user_id
    )
    person.visits.append(visit)
    contact = datetime.combine(visited_on, time(12), tzinfo=utcnow().tzinfo)
    if person.last_contact_at is None or contact > person.last_contact_at:
        person.last_contact_at = contact
    session.flush()
    audit.record(session, actor, "person.visit_add", obj=person, details={"visit_id": visit.id})
    return visit


def add_journal_entry(
    session: Session, person: Person, text: str, actor: Actor, corrects: JournalEntry | None = None
) -> JournalEntry:
    """Append a journal entry (entries are never changed; a correction is a new entry).

    :raises roles.PermissionDenied: the acting user's role may not write the journal.
    """
    roles.check(actor, Perm.HEALTH_WRITE)
    text = (text or "").strip()
    _require_health_basis(session, person, "journal")
    if not text:
        raise PersonError(N_("Write the journal entry."))
    if corrects is not None and corrects.person_id != person.id:
        raise PersonError(N_("Write the journal entry."))
    entry = JournalEntry(
        person_id=person.id,
        text=text,
        author_id=actor.user_id,
        corrects_id=corrects.id if corrects else None,
    )
    session.add(entry)
    person.last_contact_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "person.journal_entry",
        obj=person,
        details={"entry": entry.id, "corrects": corrects.id if corrects else None},
    )
    return entry
