"""The controllers (personuppgiftsansvariga) of one installation.

Why: one brand may be several companies. Kbt-verkstan and Kbt i Romme market under one name,
yet "personuppgiftsansvarig ligger hos det företag som träffat kunden" (seed 000), so the
client card, journal, requests and consents each belong to the controller that met the person,
and the privacy policy, the Art. 30 record, mails, receipts and exports name that controller.

The usual installation has exactly one controller (today's practice settings became it, see
migration 20261202_0940_c3f1a9d27e55). There is always at least one: :func:`first_id` creates
it with defaults on first use, like the practice settings row. Kernel: imports no feature, so
people/, newsletter/ and privacy/ can all default their rows' ``controller_id`` through
:func:`fill_controller_id` (a ``before_insert`` hook reading by SQL).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean
from sqlalchemy import CheckConstraint
from sqlalchemy import Connection
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from crm.db import Base
from crm.db import UTCDateTime
from crm.db import utcnow


class IdNumberMode(StrEnum):
    """What a controller records of a person's identity number (dataskyddslagen 3 kap. 10 §).

    Personnummer may be processed without consent only when clearly justified; a practice that
    needs less records less. Kraftkällan (seed 003) writes "födelseår och datum (de sista fyra
    siffrorna registreras ej)": that is ``BIRTH_DATE``.
    """

    FULL = "full"  # personnummer or samordningsnummer, encrypted
    BIRTH_DATE = "birth_date"  # YYYYMMDD only; the last four digits are never asked for
    NONE = "none"  # nothing

    @property
    def rank(self) -> int:
        """How much is recorded: a lower rank is stricter."""
        return {"full": 2, "birth_date": 1, "none": 0}[self.value]


#: months a representative's data is kept after their last mandate ended (seed 004)
DEFAULT_REPRESENTATIVE_MONTHS = 12

#: Names reserved for examples and tests, never a real practice's (RFC 2606, RFC 6761): the
#: top-level domains and the second-level example domains.
RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost"})
RESERVED_DOMAINS = frozenset({"example.com", "example.net", "example.org"})
#: the facts a policy names the controller by, and so may not be stand-ins (Art. 13(1)(a))
CONTACT_FIELDS = ("name", "address", "contact_name", "contact_email")
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")


def is_stand_in(value: str) -> bool:
    """Whether a value names a reserved example domain (``kontakt@praktiken.example``).

    Seed 004 names no practice, so its practice file uses stand-ins under ``.example``; a
    policy published with them would tell people to write to an address nobody reads.
    """
    for domain in _DOMAIN.findall(value.lower()):
        labels = domain.split(".")
        if labels[-1] in RESERVED_TLDS or ".".join(labels[-2:]) in RESERVED_DOMAINS:
            return True
    return False


class Controller(Base):
    """One controller: who they are, their profile, what they record of identity numbers."""

    __tablename__ = "controller"

    #: assigned by :func:`next_id` (the first is always 1), never by a sequence, so the
    #: first-use insert can be ``ON CONFLICT DO NOTHING`` on a fixed id on both databases
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    org_number: Mapped[str] = mapped_column(String(20), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    #: "A": licensed profession under patientdatalagen; "B": GDPR only
    profile: Mapped[str] = mapped_column(String(1), default="B")
    profession: Mapped[str] = mapped_column(String(60), default="")
    #: see IdNumberMode; profile B defaults to the birth date only
    id_number_mode: Mapped[str] = mapped_column(String(16), default=IdNumberMode.BIRTH_DATE)
    #: why full numbers are needed (required for ``full`` under profile B)
    id_number_reason: Mapped[str] = mapped_column(Text, default="")
    #: the brand's newsletter is sent by this controller (at most one; none = the first)
    runs_newsletter: Mapped[bool] = mapped_column(Boolean, default=False)
    representative_months: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_REPRESENTATIVE_MONTHS
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("profile in ('A', 'B')", name="known_profile"),
        CheckConstraint(
            "id_number_mode in ('full', 'birth_date', 'none')", name="known_id_number_mode"
        ),
    )

    @property
    def details_complete(self) -> bool:
        """Who the controller is and how to reach them are filled in (GDPR Art. 13(1)(a)).

        Until then the privacy policy is not published (it would name a placeholder) and the
        first-run checklist asks for them. The name alone is not enough: it is filled in from
        ``CRM_PRACTICE_NAME`` on first use. A postal address or a contact e-mail will do: the
        seeds have one or the other (Självkraft gives no address, Kbt-verkstan no e-mail).
        A stand-in (an address under ``.example``, :func:`is_stand_in`) is not filled in.
        """
        if self.stand_ins:
            return False
        return bool(self.name.strip() and (self.address.strip() or self.contact_email.strip()))

    @property
    def stand_ins(self) -> list[str]:
        """The contact facts that hold a stand-in (field names, in :data:`CONTACT_FIELDS`)."""
        return [f for f in CONTACT_FIELDS if is_stand_in(str(getattr(self, f) or ""))]

    def display_name(self, fallback: str) -> str:
        """The name to show, or ``fallback`` (the configured practice name) while unset."""
        return self.name or fallback

    @property
    def mode(self) -> IdNumberMode:
        """The identity-number setting as an enum."""
        return IdNumberMode(self.id_number_mode)


_DEFAULTS: dict[str, Any] = {
    "name": "",
    "org_number": "",
    "address": "",
    "contact_name": "",
    "contact_email": "",
    "profile": "B",
    "profession": "",
    "id_number_mode": IdNumberMode.BIRTH_DATE.value,
    "id_number_reason": "",
    "runs_newsletter": False,
    "representative_months": DEFAULT_REPRESENTATIVE_MONTHS,
}


def first_id(connection: Connection) -> int:
    """The installation's first controller, created with defaults the first time."""
    found = connection.execute(select(func.min(Controller.id))).scalar()
    if found is not None:
        return int(found)
    table = Controller.__table__
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.dialects import sqlite

    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    connection.execute(
        dialect.insert(table).on_conflict_do_nothing(),
        {"id": 1, "created_at": utcnow(), **_DEFAULTS},
    )
    return 1


def newsletter_id(connection: Connection) -> int:
    """The controller that runs the brand's newsletter (the first, unless another is set)."""
    chosen = connection.execute(
        select(Controller.id).where(Controller.runs_newsletter.is_(True)).limit(1)
    ).scalar()
    return int(chosen) if chosen is not None else first_id(connection)


def fill_controller_id(connection: Connection, target: Any, *, newsletter: bool = False) -> None:
    """``before_insert`` hook: a row without a controller gets the right default.

    A row about a person goes to the person's controller (the one that met them); a newsletter
    consent to the newsletter's controller; anything else to the first controller.
    """
    if getattr(target, "controller_id", None) is not None:
        return
    if newsletter:
        target.controller_id = newsletter_id(connection)
        return
    person_id = getattr(target, "person_id", None)
    if person_id is not None:
        found = connection.execute(
            text("SELECT controller_id FROM person WHERE id = :p"), {"p": person_id}
        ).scalar()
        if found is not None:
            target.controller_id = int(found)
            return
    target.controller_id = first_id(connection)


def all_controllers(session: Session) -> list[Controller]:
    """Every controller, the first first (creating it on first use)."""
    first_id(session.connection())
    return list(session.scalars(select(Controller).order_by(Controller.id)))


def first(session: Session) -> Controller:
    """The installation's first controller."""
    row_id = first_id(session.connection())
    row = session.scalar(select(Controller).where(Controller.id == row_id))
    assert row is not None
    return row


def get(session: Session, controller_id: int | None) -> Controller:
    """The controller with this id, or the first when there is none such."""
    if controller_id is not None:
        row = session.get(Controller, controller_id)
        if row is not None:
            return row
    return first(session)


def count(session: Session) -> int:
    """How many controllers the installation has (1 is the usual case: no selector shown)."""
    first_id(session.connection())
    return session.scalar(select(func.count()).select_from(Controller)) or 0


def next_id(session: Session) -> int:
    """The id for a new controller."""
    return (session.scalar(select(func.max(Controller.id))) or 0) + 1


def name_for(person: Any = None, *, newsletter: bool = False) -> str:
    """The name of the controller a mail or page speaks for (a template global).

    The one source of every controller name that a person reads: public pages, mails and
    their ``From`` (``mail.build(sender=...)``). Mails about a person (or a request: anything
    with a ``controller_id``) name the controller that met them; newsletter mails the
    controller that runs the newsletter (seed 000); a page with neither names the first
    controller, the brand. ``CRM_PRACTICE_NAME`` only stands in until a name is saved in
    Inställningar (issue 16 defect 1).
    """
    from flask import current_app

    from crm.db import get_session

    session = get_session()
    if isinstance(person, Controller):  # a page about one controller names that one
        row: Controller | None = person
    elif newsletter:
        row = session.get(Controller, newsletter_id(session.connection()))
    else:
        row = get(session, getattr(person, "controller_id", None))
    fallback = current_app.config["PRACTICE_NAME"]
    return row.display_name(fallback) if row is not None else fallback


def newsletter_policy_args() -> dict[str, int]:
    """``url_for`` arguments for the policy the sign-up links to (a template global).

    With several controllers the newsletter's own policy (``?controller=``); with one, the
    plain policy, as before.
    """
    from crm.db import get_session

    session = get_session()
    if count(session) < 2:
        return {}
    return {"controller": newsletter_id(session.connection())}


def policy_version_in_force(connection: Connection, controller_id: int | None) -> int | None:
    """The id of the controller's newest published privacy policy (None before the first).

    Consent records refer to it (legal requirements 1.6: the privacy-notice version the person
    saw); the one hook of every consent model (crm/consents.py) calls this, reading by SQL so
    the kernel imports no feature (the table belongs to crm/privacy/models.py).
    """
    if controller_id is None:
        return None
    found = connection.execute(
        text("SELECT id FROM policy_version WHERE controller_id = :c ORDER BY number DESC LIMIT 1"),
        {"c": controller_id},
    ).scalar()
    return int(found) if found is not None else None
