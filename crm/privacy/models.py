"""Data-subject requests (GDPR Art. 12-22) with their one-month deadline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean
from sqlalchemy import CheckConstraint
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import event
from sqlalchemy import inspect
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from crm import controllers
from crm.db import Base
from crm.db import UTCDateTime
from crm.db import utcnow
from crm.people.models import Person
from crm.people.models import new_public_id
from crm.security.crypto import EncryptedText


class DataRequest(Base):
    """A request from a data subject, tracked until completed."""

    __tablename__ = "data_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    #: the controller the request is addressed to (default: the person's)
    controller_id: Mapped[int] = mapped_column(
        ForeignKey("controller.id", ondelete="RESTRICT"), index=True
    )
    #: who filed it when not the person themselves: a representative (seed 004) ...
    requester_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    #: ... and the mandate they filed it under, checked when it was registered
    representation_id: Mapped[int | None] = mapped_column(
        ForeignKey("representation.id", ondelete="SET NULL"), index=True
    )
    #: access, portability, rectification, erasure, restriction, objection
    kind: Mapped[str] = mapped_column(String(16))
    #: how it arrived: "preferences_page", "email", "letter", "in_person"
    channel: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16), default="open")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Art. 12(3): one extension of up to two months, with a reason told to the person
    extended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extension_reason: Mapped[str | None] = mapped_column(EncryptedText("data_request.extension"))
    #: how the requester's identity was checked ("id_document", "bankid", "known_in_person";
    #: free text recorded before issue 14 part 5 is kept as it was) and by whom; the identity
    #: gate (crm/privacy/identity.py) reads it
    identity_method: Mapped[str | None] = mapped_column(String(100))
    identity_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    identity_verified_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    #: what was done, or why it was refused (may name people: encrypted)
    outcome: Mapped[str | None] = mapped_column(EncryptedText("data_request.outcome"))
    completed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

    __table_args__ = (
        CheckConstraint(
            "kind in ('access', 'portability', 'rectification', 'erasure', 'restriction', "
            "'objection')",
            name="known_kind",
        ),
        CheckConstraint("status in ('open', 'completed', 'refused')", name="known_status"),
    )

    person: Mapped[Person | None] = relationship(foreign_keys=[person_id])
    requester: Mapped[Person | None] = relationship(foreign_keys=[requester_id])

    #: JSON list of outbox operation ids an erasure waits for (the request completes when the
    #: providers confirmed)
    waiting_for: Mapped[str | None] = mapped_column(Text)

    #: an objection (Art. 21(1)) names the processing objected to: a code of
    #: crm/privacy/objections.py, or the owner's words for another one
    processing: Mapped[str | None] = mapped_column(String(200))
    #: when that processing was stopped (at once, unless a compelling ground was recorded)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the compelling legitimate grounds that override the person's interests (Art. 21(1)),
    #: when the practice has them; the person is told them with the answer
    compelling_ground: Mapped[str | None] = mapped_column(
        EncryptedText("data_request.compelling_ground")
    )


@event.listens_for(DataRequest, "before_insert")
def _default_controller(_mapper: object, connection: object, target: DataRequest) -> None:
    controllers.fill_controller_id(connection, target)  # type: ignore[arg-type]


class LegalHold(Base):
    """Data that must be kept despite an erasure request (GDPR Art. 17(3)), until a date.

    The patient journal's hold is computed from its entries; this table holds the others:
    bookkeeping (bokföringslagen) and pending legal claims.
    """

    __tablename__ = "legal_hold"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    #: "bookkeeping" or "legal_claim"
    kind: Mapped[str] = mapped_column(String(16))
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(EncryptedText("legal_hold.note"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("kind in ('bookkeeping', 'legal_claim')", name="known_kind"),)


class Breach(Base):
    """A personal data breach, documented whether or not it is reported (GDPR Art. 33(5)).

    ``risk`` decides what the law asks next: "none" needs a written reason for not reporting;
    "risk" a report to IMY within 72 hours of discovery (Art. 33(1)); "high" also telling the
    people affected without undue delay (Art. 34).
    """

    __tablename__ = "breach"

    id: Mapped[int] = mapped_column(primary_key=True)
    discovered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: what happened; the data and people affected; likely consequences; measures taken.
    #: Free text that may name people: encrypted.
    description: Mapped[str] = mapped_column(EncryptedText("breach.description"))
    affected: Mapped[str] = mapped_column(EncryptedText("breach.affected"))
    consequences: Mapped[str] = mapped_column(EncryptedText("breach.consequences"))
    measures: Mapped[str] = mapped_column(EncryptedText("breach.measures"))
    risk: Mapped[str] = mapped_column(String(8))
    no_report_reason: Mapped[str | None] = mapped_column(EncryptedText("breach.no_report_reason"))
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    imy_reference: Mapped[str | None] = mapped_column(String(64))
    informed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("risk in ('none', 'risk', 'high')", name="known_risk"),)


class RecipientTask(Base):
    """A recipient to tell by hand about an erasure, rectification, restriction or objection.

    GDPR Art. 17(2), 19 and 21(3): every recipient that may hold the person's data is told.
    Recipients with an adapter are told through the outbox; the others in the processors
    register (the booking system, Fortnox, Stripe...) - and provider operations an adapter
    cannot do (Paloma's erase) - become these tasks, due by the request's deadline.

    It holds as little as possible: the recipient's name, what to do, and references to the
    request, the person and the outbox operation. Only ``subject`` says for whom (name and
    address, encrypted), because the person row may be erased before the task is done; it is
    scrubbed when the task is ticked off. Audit rows name the task, never the person.
    """

    __tablename__ = "recipient_task"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the processor as the register names it ("Fortnox") or the provider ("paloma")
    recipient: Mapped[str] = mapped_column(String(200))
    #: erase, rectify, restrict, object, unsubscribe, remove
    action: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("data_request.id", ondelete="SET NULL"), index=True
    )
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    #: the provider operation this task carries on, when an adapter could not do it
    outbox_op_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_op.id", ondelete="SET NULL"), index=True
    )
    #: for whom: "name <address>", encrypted; None once ticked off
    subject: Mapped[str | None] = mapped_column(EncryptedText("recipient_task.subject"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

    __table_args__ = (
        CheckConstraint(
            "action in ('erase', 'rectify', 'restrict', 'object', 'unsubscribe', 'remove')",
            name="known_action",
        ),
    )


class PortalRequest(Base):
    """A request filed through the public privacy portal (``/integritet``).

    Kept before and after the person confirmed their address.

    Why a table of its own: until the address is confirmed (a signed link, 7 days) there is
    no request - an unconfirmed filing must neither reach the dashboard nor start the
    one-month clock - yet what was typed must be kept somewhere until then. On confirmation a
    :class:`DataRequest` with channel "portal" is opened and ``request_id`` points at it.
    Unconfirmed rows are deleted by retention once their link has expired.

    Everything typed may name people (the requester, the person represented): encrypted. The
    signed links carry ``public_id`` only, never an address.
    """

    __tablename__ = "portal_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    kind: Mapped[str] = mapped_column(String(16))
    #: the address the answer goes to (the representative's own when filed for someone else)
    email: Mapped[str | None] = mapped_column(EncryptedText("portal_request.email"))
    name: Mapped[str | None] = mapped_column(EncryptedText("portal_request.name"))
    #: filed for someone else: whom, and in what role (guardian, trustee, power of attorney...)
    represented_name: Mapped[str | None] = mapped_column(
        EncryptedText("portal_request.represented_name")
    )
    representative_role: Mapped[str | None] = mapped_column(String(24))
    #: what to correct, which processing is objected to, anything the person adds
    details: Mapped[str | None] = mapped_column(EncryptedText("portal_request.details"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("data_request.id", ondelete="CASCADE"), index=True, unique=True
    )

    __table_args__ = (
        CheckConstraint(
            "kind in ('access', 'portability', 'rectification', 'erasure', 'restriction', "
            "'objection')",
            name="known_kind",
        ),
        CheckConstraint(
            "representative_role is null or representative_role in ('guardian', 'trustee', "
            "'administrator', 'power_of_attorney', 'other')",
            name="known_role",
        ),
    )

    request: Mapped[DataRequest | None] = relationship()


class ProcessingActivity(Base):
    """One processing activity of one controller (GDPR Art. 30(1)), the owner's to edit.

    Why data and not code: the five seed practices each do something else (a webshop,
    recorded calls, customer service on social media, fraud prevention), and the policy, the
    Art. 30 record, the export summary and the sign-up's Art. 13 text must all say exactly
    what this one list says (crm/privacy/activities.py renders it for all four).

    ``key`` names a standard activity the CRM itself performs ("clients", "newsletter", ...);
    free entries have an empty key. While ``follows_settings`` is set (pre-filled, never
    edited), the texts are generated from the practice settings at every reading, so a changed
    retention period or identity-number setting shows at once; editing stores the texts and
    clears the flag. Removing sets ``removed_at`` (the row stays, so a controller whose
    activities were all removed is not filled again with the defaults).
    """

    __tablename__ = "processing_activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    controller_id: Mapped[int] = mapped_column(
        ForeignKey("controller.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    key: Mapped[str] = mapped_column(String(32), default="")
    follows_settings: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(200), default="")
    purpose: Mapped[str] = mapped_column(Text, default="")
    #: categories of data subjects (Art. 30(1)(c))
    subjects: Mapped[str] = mapped_column(Text, default="")
    #: categories of personal data
    data_categories: Mapped[str] = mapped_column(Text, default="")
    #: Art. 6(1) basis, see crm/privacy/activities.py BASES
    legal_basis: Mapped[str] = mapped_column(String(24), default="contract")
    #: the law, contract or interest behind the basis, in words
    basis_detail: Mapped[str] = mapped_column(Text, default="")
    #: Art. 9(2) condition where health data is involved ("" = none)
    health_basis: Mapped[str] = mapped_column(String(24), default="")
    #: one recipient (category or processor name) a line
    recipients: Mapped[str] = mapped_column(Text, default="")
    #: transfers outside the EU/EEA in words; empty = derived from the processor register
    transfers: Mapped[str] = mapped_column(Text, default="")
    retention: Mapped[str] = mapped_column(Text, default="")
    #: where the data comes from when not from the person (Art. 14(2)(f)); empty = the person
    source: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(
            "legal_basis in ('consent', 'contract', 'legal_obligation', 'vital_interests', "
            "'public_task', 'legitimate_interest')",
            name="known_basis",
        ),
        CheckConstraint(
            "health_basis in ('', 'explicit_consent', 'health_care', 'legal_claims')",
            name="known_health_basis",
        ),
    )


class PolicyVersion(Base):
    """A published privacy policy: dated, numbered per controller, never changed afterwards.

    Why: a consent is proof only together with what the person was told (legal requirements
    1.6: "privacy-notice version"), and seed 000/001 are two dated versions of one policy. The
    rendered text is stored as it was published; ``facts`` keeps the activities it was made
    from, so the next version can tell whether it adds a purpose or a recipient ("material":
    the dashboard then offers to tell subscribers and clients). Only ``informed_at`` and
    ``informed_count`` are written later (see the ``before_update`` guard below).
    """

    __tablename__ = "policy_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    controller_id: Mapped[int] = mapped_column(
        ForeignKey("controller.id", ondelete="RESTRICT"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    #: the policy's text as published (HTML rendered by templates/public/_policy_body.html)
    html: Mapped[str] = mapped_column(Text)
    #: JSON: the activities and controller details the text was rendered from
    facts: Mapped[str] = mapped_column(Text)
    #: sha256 of ``html``, so a consent's proof stands even if someone edits this row by hand
    html_hash: Mapped[str] = mapped_column(String(64))
    #: adds a purpose or a recipient to the previous version
    material: Mapped[bool] = mapped_column(Boolean, default=False)
    #: JSON {"purposes": [...], "recipients": [...]}: what was added
    changes: Mapped[str] = mapped_column(Text, default="{}")
    #: when the owner told subscribers and clients about this version, and how many mails
    informed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    informed_count: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("controller_id", "number", name="uq_policy_version_number"),)


#: what a published version may still get: the record of having been announced
_WRITABLE_LATER = {"informed_at", "informed_count"}


@event.listens_for(PolicyVersion, "before_update")
def _immutable(_mapper: object, _connection: object, target: PolicyVersion) -> None:
    state = inspect(target)
    changed = {a.key for a in state.attrs if a.history.has_changes()}
    if changed - _WRITABLE_LATER:
        raise ValueError("a published policy version is never changed")
