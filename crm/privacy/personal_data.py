"""What the privacy feature holds about a person: their requests, legal holds, audit entries.

Registered in the person registry (crm/privacy/registry.py). Requests survive an erasure
without the person (``person_id`` is set to NULL): they are the evidence of how each request
was answered, kept for their own period (crm/privacy/retention.py). Bookkeeping and legal
claim holds keep the person's identity until they end.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.audit import AuditEvent
from crm.people.models import Person
from crm.privacy import portal
from crm.privacy import recipients
from crm.privacy.models import DataRequest
from crm.privacy.models import LegalHold
from crm.privacy.registry import ErasureContext
from crm.privacy.registry import ExportContext
from crm.privacy.registry import Kept
from crm.privacy.registry import PersonDataHolder
from crm.privacy.registry import register

WHY = {
    "bookkeeping": "bokföringslagen 7 kap. 2 §",
    "legal_claim": "GDPR art. 17.3 e (rättsligt anspråk)",
}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export(session: Session, person: Person, _ctx: ExportContext) -> dict[str, Any]:
    """The person's requests, the holds on their data, the audit entries about them."""
    return {
        "requests": [
            {
                "kind": r.kind,
                "status": r.status,
                "received_at": _iso(r.received_at),
                "due_at": _iso(r.due_at),
                "completed_at": _iso(r.completed_at),
                "channel": r.channel,
                **_portal(session, r),
            }
            for r in session.scalars(select(DataRequest).where(DataRequest.person_id == person.id))
        ],
        # Art. 19, last sentence: the recipients told of an erasure, rectification,
        # restriction or objection - by the sync (automatic) or by staff (manual)
        "recipients_told": [
            {
                "recipient": t.recipient,
                "action": t.action,
                "how": "automatic" if t.automatic else "manual",
                "at": _iso(t.at),
            }
            for t in recipients.told_about(session, person.id)
        ],
        "legal_holds": [
            {"kind": h.kind, "until": _iso(h.until), "note": h.note}
            for h in session.scalars(select(LegalHold).where(LegalHold.person_id == person.id))
        ],
        "audit": [
            {"at": _iso(e.occurred_at), "action": e.action, "by": e.actor_kind}
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.object_type == "person", AuditEvent.object_id == str(person.id))
                .order_by(AuditEvent.seq)
            )
        ],
    }


def _portal(session: Session, request: DataRequest) -> dict[str, Any]:
    """What was typed into the privacy portal for a request, if it came that way."""
    row = portal.for_request(session, request)
    if row is None:
        return {}
    return {
        "portal": {
            "filed_at": _iso(row.created_at),
            "confirmed_at": _iso(row.confirmed_at),
            "email": row.email,
            "name": row.name,
            "details": row.details,
            "represented_name": row.represented_name,
            "representative_role": row.representative_role,
        }
    }


def holds(session: Session, person: Person, _ctx: ErasureContext) -> list[Kept]:
    """Bookkeeping and legal-claim holds recorded for the person, running or ended."""
    return [
        Kept(hold.kind, WHY.get(hold.kind, WHY["legal_claim"]), hold.until)
        for hold in session.scalars(select(LegalHold).where(LegalHold.person_id == person.id))
    ]


def erase(session: Session, person: Person, ctx: ErasureContext) -> None:
    """Drop holds that have ended: they justify keeping nothing (a running one stays).

    And forget what was typed into the person's portal filings (the requests stay).
    """
    portal.scrub_for(session, person.id)
    session.execute(
        delete(LegalHold).where(LegalHold.person_id == person.id, LegalHold.until <= ctx.now)
    )


HOLDER = register(
    PersonDataHolder(
        name="privacy",
        # recipient_task: person_id is set to NULL by an erasure; its encrypted ``subject`` (for
        # whom) stays until staff tick the task off, since the recipient must still be told
        # portal_request: what was typed into /integritet; scrubbed by an erasure, while the
        # request it became stays
        tables=("data_request", "legal_hold", "recipient_task", "portal_request"),
        sections=("requests", "recipients_told", "legal_holds", "audit"),
        export=export,
        holds=holds,
        erase=erase,
    )
)
