"""Related persons: link them to a client with a mandate, check the mandate, clean up.

Seed 004 collects data about "inbetalare, god man, förvaltare, fullmaktshavare eller någon
form av kontaktperson eller företrädare för ett företag". Such a person may file a request for
the client, and receive the answer, only within a valid mandate whose kind covers it; their
own data goes when the last mandate has ended plus the controller's period.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import Table
from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm import controllers
from crm.audit import Actor
from crm.db import Base
from crm.errors import DomainError
from crm.i18n import N_
from crm.people.models import Person
from crm.representatives.models import Kind
from crm.representatives.models import Representation

#: the link table and the columns that point at a person without being the person's own data
#: (a request a representative filed for someone else is the client's, not theirs)
NOT_OWN_DATA = {("representation", "client_id"), ("representation", "representative_id")}
NOT_OWN_DATA |= {("data_request", "requester_id")}


class MandateError(DomainError):
    """A link or a request under a mandate was refused; the message is an English msgid."""


@dataclass
class MandateData:
    """What the owner types about a mandate."""

    kind: str
    valid_from: date | None
    valid_until: date | None
    legal_basis: str
    document: str | None = None


def add(
    session: Session, client: Person, representative: Person, data: MandateData, actor: Actor
) -> Representation:
    """Link ``representative`` to ``client``; audited with the kind, never a name."""
    if representative.id == client.id:
        raise MandateError(N_("A person cannot be their own representative."))
    if data.kind not in {k.value for k in Kind}:
        raise MandateError(N_("Choose the kind of mandate."))
    if data.valid_from is None:
        raise MandateError(N_("Enter the date the mandate is valid from."))
    if data.valid_until is not None and data.valid_until < data.valid_from:
        raise MandateError(N_("The mandate cannot end before it starts."))
    basis = (data.legal_basis or "").strip()
    if not basis:
        raise MandateError(N_("Enter the legal basis for holding the representative's data."))
    row = Representation(
        client_id=client.id,
        representative_id=representative.id,
        controller_id=client.controller_id,
        kind=data.kind,
        document=(data.document or "").strip() or None,
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        legal_basis=basis[:200],
        created_by_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "representation.add",
        obj=client,
        details={"representation": row.id, "kind": data.kind},
    )
    return row


def end(session: Session, row: Representation, on: date, actor: Actor) -> None:
    """End a mandate on ``on`` (it stays as a record until the retention rule removes it)."""
    if on < row.valid_from:
        raise MandateError(N_("The mandate cannot end before it starts."))
    row.valid_until = on
    audit.record(
        session, actor, "representation.end", obj=row.client, details={"representation": row.id}
    )


def check(row: Representation | None, client_id: int | None, request_kind: str, on: date) -> None:
    """Refuse a request filed under ``row`` unless the mandate allows it on ``on``.

    :raises MandateError: the mandate is for someone else, not yet or no longer valid, or its
        kind does not cover the request.
    """
    if row is None or client_id is None or row.client_id != client_id:
        raise MandateError(N_("This mandate is not for the person the request is about."))
    if on < row.valid_from:
        raise MandateError(N_("The mandate is not valid yet on that date."))
    if row.valid_until is not None and on > row.valid_until:
        raise MandateError(N_("The mandate has expired."))
    if not row.covers(request_kind):
        raise MandateError(N_("This kind of mandate does not cover this kind of request."))


def for_client(session: Session, client_id: int) -> list[Representation]:
    """The client's related persons, newest mandate first."""
    return list(
        session.scalars(
            select(Representation)
            .where(Representation.client_id == client_id)
            .order_by(Representation.valid_from.desc(), Representation.id.desc())
        )
    )


def represented_by(session: Session, person_id: int) -> list[Representation]:
    """The clients this person is linked to as a representative."""
    return list(
        session.scalars(
            select(Representation)
            .where(Representation.representative_id == person_id)
            .order_by(Representation.id)
        )
    )


def all_mandates(session: Session, controller_id: int | None = None) -> list[Representation]:
    """Every link (of one controller, for a limited account), for the request form."""
    stmt = select(Representation).order_by(Representation.id)
    if controller_id is not None:
        stmt = stmt.where(Representation.controller_id == controller_id)
    return list(session.scalars(stmt))


def _own_data_columns() -> list[tuple[Table, object]]:
    return [
        (table, fk.parent)
        for table in Base.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column.table.name == "person"
        and (table.name, fk.parent.name) not in NOT_OWN_DATA
        and table.name != "person"
    ]


def has_own_data(session: Session, person_id: int) -> bool:
    """Whether the person has data of their own: any row about them but a representation link.

    Walks the metadata (every table with a foreign key to ``person``), so a new feature's table
    counts without this module knowing it.
    """
    return any(
        session.scalar(select(exists().where(column == person_id)))  # type: ignore[arg-type]
        for _t, column in _own_data_columns()
    )


def remove_if_only_representative(session: Session, person_id: int, actor: Actor) -> bool:
    """Delete a former representative who now represents no one and holds no data of their own.

    Returns whether the person was deleted. Audited with the id only.
    """
    still = session.scalar(select(exists().where(Representation.representative_id == person_id)))
    if still or has_own_data(session, person_id):
        return False
    person = session.get(Person, person_id)
    if person is None:
        return False
    session.delete(person)
    audit.record(
        session,
        actor,
        "representation.representative_removed",
        object_type="person",
        object_id=person_id,
    )
    return True


def ended(session: Session, today: date) -> tuple[list[int], list[int]]:
    """Representatives whose last mandate ended more than their controller's period ago.

    Returns (their link ids, their person ids). A representative with any open-ended mandate,
    or one whose period has not run out, is left alone.
    """
    months = {c.id: c.representative_months for c in controllers.all_controllers(session)}
    rows = session.scalars(select(Representation).order_by(Representation.representative_id))
    by_person: dict[int, list[Representation]] = {}
    for row in rows:
        by_person.setdefault(row.representative_id, []).append(row)
    links: list[int] = []
    people: list[int] = []
    for person_id, mandates in by_person.items():
        if any(m.valid_until is None for m in mandates):
            continue
        if all(
            _add_months(m.valid_until, months.get(m.controller_id, 12)) < today  # type: ignore[arg-type]
            for m in mandates
        ):
            links += [m.id for m in mandates]
            people.append(person_id)
    return links, people


def _add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or that month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def links_of(session: Session, person_id: int) -> list[Representation]:
    """Every link the person is part of, either side."""
    return list(
        session.scalars(
            select(Representation).where(
                or_(
                    Representation.client_id == person_id,
                    Representation.representative_id == person_id,
                )
            )
        )
    )


KIND_LABELS = {
    Kind.GUARDIAN: N_("Guardian of a minor"),
    Kind.GOD_MAN: N_("God man"),
    Kind.FORVALTARE: N_("Förvaltare"),
    Kind.POWER_OF_ATTORNEY: N_("Power of attorney"),
    Kind.PAYER: N_("Payer"),
    Kind.COMPANY_CONTACT: N_("Company contact"),
}


def mandate_kind(kind: str) -> str:
    """The kind of a mandate in the user's language (the privacy request page shows it too)."""
    label = KIND_LABELS.get(kind)  # type: ignore[call-overload]
    return _(label) if label else kind
