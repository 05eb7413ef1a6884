"""What the representatives feature holds about a person: the links to and from them.

Registered in the person registry (crm/privacy/registry.py). The export shows both sides:
who may act for the person, and for whom the person acts. An erasure deletes every link the
person is part of; a representative left representing no one, with no data of their own, is
deleted with them (seed 004: their data is held only for the mandate).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crm.audit import Actor
from crm.people.models import Person
from crm.privacy.registry import ErasureContext
from crm.privacy.registry import ExportContext
from crm.privacy.registry import PersonDataHolder
from crm.privacy.registry import register
from crm.representatives import services


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export(session: Session, person: Person, _ctx: ExportContext) -> dict[str, Any]:
    """Every link: the role the person has in it, the other party, the mandate."""
    out = []
    for row in services.links_of(session, person.id):
        mine = row.client_id == person.id
        other = row.representative if mine else row.client
        out.append(
            {
                "role": "represented_by" if mine else "represents",
                "other": other.name,
                "kind": row.kind,
                "valid_from": _iso(row.valid_from),
                "valid_until": _iso(row.valid_until),
                "legal_basis": row.legal_basis,
                "document": row.document,
            }
        )
    return {"representatives": out}


def erase(session: Session, person: Person, _ctx: ErasureContext) -> None:
    """Delete the person's links; then every representative now left with nothing."""
    representatives = set()
    for row in services.links_of(session, person.id):
        if row.client_id == person.id:
            representatives.add(row.representative_id)
        session.delete(row)
    session.flush()
    for person_id in sorted(representatives - {person.id}):
        services.remove_if_only_representative(session, person_id, Actor.system())


HOLDER = register(
    PersonDataHolder(
        name="representatives",
        tables=("representation",),
        sections=("representatives",),
        export=export,
        deletes=("representatives",),
        erase=erase,
    )
)
