"""Showing what the person page keeps hidden: the full personnummer, the health notes, the trail.

Each reveal is checked against the role and audited here, not only on the page, so whatever
calls it leaves the same trace (patientdatalagen 4 kap. 2-3 §§: need to know, logged access).
Apart from the operations that change people (crm/people/services.py): reading has its own
rules and changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm.audit import Actor
from crm.audit import AuditEvent
from crm.people import personnummer as pnr
from crm.people.models import Person
from crm.security import roles
from crm.security.roles import Perm


def reveal_personnummer(session: Session, person: Person, actor: Actor) -> str | None:
    """Return the full number for display and audit that it was shown.

    :raises roles.PermissionDenied: the acting user's role may not see full numbers.
    """
    roles.check(actor, Perm.IDENTITY_NUMBER)
    if person.personnummer is None:
        return None
    audit.record(session, actor, "person.reveal_personnummer", obj=person)
    return pnr.Personnummer(person.personnummer).display()


def masked_personnummer(person: Person) -> str | None:
    """Return the number with the last four digits hidden (or the birth date kept alone)."""
    if person.personnummer is None:
        return person.birth_date.strftime("%Y%m%d") if person.birth_date else None
    return pnr.Personnummer(person.personnummer).masked()


def reveal_health_notes(session: Session, person: Person, actor: Actor) -> str | None:
    """Return the health notes for display, and audit the reading.

    The journal and visit notes are shown with them, so they count as read too. Checked here
    and not only on the page: whatever calls this reads health data (patientdatalagen 4 kap.
    2 §, need to know).

    :raises roles.PermissionDenied: the acting user's role may not read health data.
    """
    roles.check(actor, Perm.HEALTH_READ)
    card = person.client_card
    notes = card.health_notes if card else None
    if notes is None and not person.journal and not any(v.note for v in person.visits):
        return None
    audit.record(session, actor, "person.reveal_health_notes", obj=person)
    return notes or ""


def audit_about(session: Session, person_id: int, limit: int = 50) -> list[AuditEvent]:
    """Return the newest audit entries about a person."""
    stmt = (
        select(AuditEvent)
        .where(
            AuditEvent.object_type == "person",
            AuditEvent.object_id == str(person_id),
            AuditEvent.action != "person.view",  # views are in the full log, not the summary
        )
        .order_by(AuditEvent.seq.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
