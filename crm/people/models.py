"""Person (the data subject), their client card and visits."""

from __future__ import annotations

import secrets
from datetime import date
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint
from sqlalchemy import Date
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import event
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from crm import controllers
from crm.consents import RefersToPolicy
from crm.db import Base
from crm.db import UTCDateTime
from crm.db import utcnow
from crm.security.crypto import EncryptedText


def new_public_id() -> str:
    """Return a random, unguessable id for public links."""
    return secrets.token_urlsafe(16)


class Art9Basis(StrEnum):
    """The Art. 9(2) condition under which health data about a client is held (GDPR 1.23-1.24)."""

    EXPLICIT_CONSENT = "explicit_consent"  # Art. 9(2)(a): profile B practices
    HEALTH_CARE = "health_care"  # Art. 9(2)(h) + patientdatalagen: profile A practices


class HealthConsentMethod(StrEnum):
    """How a client gave (or withdrew) explicit consent to health notes (GDPR Art. 9(2)(a))."""

    SIGNED_FORM = "signed_form"  # signed on paper, kept with the client's papers
    VERBAL = "verbal"  # said yes out loud to the staff member, who records it here
    EMAIL = "email"  # in writing by mail


class IdentityMethod(StrEnum):
    """How a person's identity was checked (seeds 000/001: "ALLA måste visa legitimation")."""

    ID_DOCUMENT = "id_document"  # a valid ID document was shown (legitimation)
    BANKID = "bankid"  # BankID done elsewhere, e.g. in the booking system
    KNOWN_IN_PERSON = "known_in_person"  # the staff member knows the person


class Person(Base):
    """A data subject: client, subscriber, testimonial giver or inquirer - or several at once."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: opaque random id used in signed public links (never the email, never the row id)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    name: Mapped[str] = mapped_column(String(200))
    #: lower-cased name and last word of it, kept in step with ``name`` (search by prefix with
    #: an index: "kar" finds "Karin Klient", "kli" finds her too)
    name_key: Mapped[str | None] = mapped_column(String(200), index=True)
    surname_key: Mapped[str | None] = mapped_column(String(200), index=True)
    #: normalised (trimmed, lower-case); None for people known only by phone or on paper
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(500))
    #: twelve digits YYYYMMDDNNNC, encrypted
    personnummer: Mapped[str | None] = mapped_column(EncryptedText("person.personnummer"))
    #: the birth date alone, when the controller records no more (dataskyddslagen 3 kap. 10 §;
    #: the last four digits are never stored then), or the date part of a full number
    birth_date: Mapped[date | None] = mapped_column(Date, index=True)
    #: the controller that met the person (seed 000): their data is that controller's
    controller_id: Mapped[int] = mapped_column(
        ForeignKey("controller.id", ondelete="RESTRICT"), index=True
    )
    #: keyed blind index of the twelve digits, for exact lookup without decrypting
    personnummer_index: Mapped[str | None] = mapped_column(
        String(64),
        index=True,
        unique=True,
        info={"blind_index_of": "personnummer", "purpose": "personnummer"},
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: GDPR Art. 18: processing restricted (set by the privacy feature)
    restricted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: GDPR Art. 21: objected to direct marketing
    marketing_objection_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    client_card: Mapped[ClientCard | None] = relationship(
        back_populates="person", cascade="all, delete-orphan", uselist=False
    )
    visits: Mapped[list[Visit]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="Visit.visited_on.desc()"
    )
    journal: Mapped[list[JournalEntry]] = relationship(
        cascade="all, delete-orphan", order_by="JournalEntry.id"
    )
    health_consents: Mapped[list[HealthConsent]] = relationship(
        cascade="all, delete-orphan", order_by="HealthConsent.id"
    )
    identity_checks: Mapped[list[IdentityCheck]] = relationship(
        cascade="all, delete-orphan", order_by="IdentityCheck.checked_at.desc()"
    )
    purchases: Mapped[list[Purchase]] = relationship(
        cascade="all, delete-orphan", order_by="Purchase.purchased_on.desc()"
    )

    __table_args__ = (
        CheckConstraint("email = lower(email)", name="lowercase_email"),
        Index("ix_person_name", "name"),
        # Partial: only archived people, so the dashboard counts "all minus archived" from
        # a tiny index, while searches (which ask for archived_at IS NULL) keep their
        # name/email indexes - a full index on archived_at lured SQLite's planner away.
        Index(
            "ix_person_archived",
            "archived_at",
            sqlite_where=text("archived_at IS NOT NULL"),
            postgresql_where=text("archived_at IS NOT NULL"),
        ),
    )

    def __repr__(self) -> str:
        return f"<Person id={self.id}>"


class ClientCard(Base):
    """The client relationship: dates and encrypted health notes with their Art. 9 basis."""

    __tablename__ = "client_card"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), unique=True)
    #: the controller the client relationship is with (default: the person's)
    controller_id: Mapped[int] = mapped_column(
        ForeignKey("controller.id", ondelete="RESTRICT"), index=True
    )
    client_since: Mapped[date | None] = mapped_column(Date)
    client_until: Mapped[date | None] = mapped_column(Date)
    health_notes: Mapped[str | None] = mapped_column(EncryptedText("client_card.health_notes"))
    #: required whenever health_notes is set
    art9_basis: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    person: Mapped[Person] = relationship(back_populates="client_card")

    __table_args__ = (
        CheckConstraint(
            "art9_basis is null or art9_basis in ('explicit_consent', 'health_care')",
            name="known_art9_basis",
        ),
        CheckConstraint("health_notes is null or art9_basis is not null", name="notes_need_basis"),
    )


class Visit(Base):
    """A visit or session with a client: the date and an encrypted note."""

    __tablename__ = "visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    visited_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(EncryptedText("visit.note"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the staff member who wrote the note (a table reference; people/ imports no feature)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

    person: Mapped[Person] = relationship(back_populates="visits")


class JournalEntry(Base):
    """A patient-journal entry (profile A): append-only; a correction is a new entry.

    The newest entry starts the ten-year hold of patientdatalagen 3 kap. 17 §.
    """

    __tablename__ = "journal_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the controller whose journal this is (default: the person's)
    controller_id: Mapped[int] = mapped_column(
        ForeignKey("controller.id", ondelete="RESTRICT"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(EncryptedText("journal_entry.text"))
    #: the entry this one corrects (the old one stays, as the law requires)
    corrects_id: Mapped[int | None] = mapped_column(
        ForeignKey("journal_entry.id", ondelete="SET NULL")
    )


class IdentityCheck(Base):
    """A recorded check of who the person is: how, by whom, when (GDPR Art. 12(6)).

    Person-level (the client card's "ID shown" at the first visit, or a check recorded before
    a disclosure from the command line); a request's own check is on the request. The gate in
    crm/privacy/identity.py reads both before any export or erasure of a client.
    """

    __tablename__ = "identity_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the staff member who checked; None from the command line (the audit row says so)
    checked_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

    __table_args__ = (
        CheckConstraint(
            "method in ('id_document', 'bankid', 'known_in_person')", name="known_method"
        ),
    )


class HealthConsent(RefersToPolicy, Base):
    """An explicit consent to health notes, given or withdrawn: proof like a newsletter consent.

    Profile B practices hold health data on the client's explicit consent (GDPR Art. 9(2)(a)),
    which they must be able to prove (Art. 7(1)): the exact text the client agreed to and its
    version, when, how it was given, which staff member recorded it, and the privacy policy in
    force then (crm/consents.py). Append-only: a withdrawal is a new row, and the newest row
    decides (crm/people/health.py).
    """

    __tablename__ = "health_consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    #: the controller the consent is given to (default: the person's)
    controller_id: Mapped[int] = mapped_column(
        ForeignKey("controller.id", ondelete="RESTRICT"), index=True
    )
    #: "grant" or "withdraw"
    action: Mapped[str] = mapped_column(String(8))
    method: Mapped[str] = mapped_column(String(16))
    #: the consent text as the client read it, its version and its SHA-256
    text_version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

    __table_args__ = (
        CheckConstraint("action in ('grant', 'withdraw')", name="known_action"),
        CheckConstraint("method in ('signed_form', 'verbal', 'email')", name="known_method"),
    )


class Purchase(Base):
    """A purchase or invoice reference: what bokföringslagen 7 kap. 2 § makes the practice keep.

    Date, amount, reference (invoice or receipt number) and the products sold ("om du som kund
    köper produkter antecknas detta", seed 003). The bookkeeping hold of an erasure and the
    bookkeeping retention rule both count from ``purchased_on``, never from a date typed for
    the hold (crm/people/personal_data.py, crm/privacy/retention.py).
    """

    __tablename__ = "purchase"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    #: the controller whose books the purchase is in (default: the person's)
    controller_id: Mapped[int] = mapped_column(
        ForeignKey("controller.id", ondelete="RESTRICT"), index=True
    )
    purchased_on: Mapped[date] = mapped_column(Date, index=True)
    #: in öre (1/100 krona), so sums never round
    amount_ore: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(100), default="")
    #: what was sold; may say something about the client's health (an allergy cream): encrypted
    products: Mapped[str | None] = mapped_column(EncryptedText("purchase.products"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

    __table_args__ = (CheckConstraint("amount_ore >= 0", name="amount_not_negative"),)


def name_keys(name: str) -> tuple[str, str]:
    """The search keys of a name: all of it, and its last word, lower-cased."""
    lowered = (name or "").strip().lower()
    return lowered, lowered.rsplit(" ", 1)[-1]


@event.listens_for(Person.name, "set")
def _keep_name_keys(target: Person, value: str, _old: object, _initiator: object) -> None:
    target.name_key, target.surname_key = name_keys(value)


@event.listens_for(Person, "before_insert")
@event.listens_for(ClientCard, "before_insert")
@event.listens_for(JournalEntry, "before_insert")
@event.listens_for(HealthConsent, "before_insert")
@event.listens_for(Purchase, "before_insert")
def _default_controller(_mapper: object, connection: object, target: object) -> None:
    controllers.fill_controller_id(connection, target)  # type: ignore[arg-type]
