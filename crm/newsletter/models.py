"""Lists, subscriptions, versioned consent texts, append-only consent records, suppression."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import Boolean
from sqlalchemy import CheckConstraint
from sqlalchemy import Connection
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import event
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from crm import controllers
from crm.consents import RefersToPolicy
from crm.db import Base
from crm.db import UTCDateTime
from crm.db import utcnow
from crm.people.models import Person
from crm.security.crypto import EncryptedText


class Status(StrEnum):
    """Where a subscription stands."""

    PENDING = "pending"  # signed up, confirmation link not yet clicked
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


class Source(StrEnum):
    """How the subscription came about."""

    SIGNUP_FORM = "signup_form"
    EMBED_FORM = "embed_form"
    API = "api"
    MANUAL = "manual"
    IMPORT = "import"
    PREFERENCES = "preferences"


class Method(StrEnum):
    """How a consent was given or withdrawn (GDPR 1.6: HOW)."""

    WEB_FORM = "web_form"
    DOUBLE_OPT_IN = "double_opt_in"
    PAPER_FORM = "paper_form"
    VERBAL = "verbal"
    SOFT_OPT_IN = "soft_opt_in"  # existing client, marknadsföringslagen 19 §
    IMPORT = "import"
    UNSUBSCRIBE_LINK = "unsubscribe_link"
    ONE_CLICK = "one_click"  # RFC 8058 POST from a mail client
    PREFERENCES = "preferences"
    STAFF_ON_BEHALF = "staff_on_behalf"
    PROVIDER = "provider"  # unsubscribed at a mail provider, pulled by the sync


#: How an owner may say consent was obtained when adding someone by hand.
MANUAL_METHODS = (Method.PAPER_FORM, Method.VERBAL, Method.SOFT_OPT_IN)


class Reason(StrEnum):
    """Why an address is suppressed."""

    UNSUBSCRIBED = "unsubscribed"
    OBJECTION = "objection"
    ERASED = "erased"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


class MailingList(Base):
    """A newsletter list. One is the default for sign-ups that name none."""

    __tablename__ = "mailing_list"
    #: what audit entries about a list have always been called (crm/audit.py, obj=)
    audit_type: ClassVar[str] = "list"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<MailingList id={self.id}>"


class ConsentText(Base):
    """One version of the consent text shown at sign-up; never changed, only superseded."""

    __tablename__ = "consent_text"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), default="newsletter")
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    #: sha256 of the text, so a record proves what was shown even if someone edits this row
    text_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

    __table_args__ = (UniqueConstraint("purpose", "version", name="uq_consent_text_version"),)


class Subscription(Base):
    """A person on a list."""

    __tablename__ = "subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    list_id: Mapped[int] = mapped_column(ForeignKey("mailing_list.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=Status.PENDING)
    source: Mapped[str] = mapped_column(String(16))
    #: "consent" or "soft_opt_in" (marknadsföringslagen 19 §; legal requirements 2.13)
    legal_basis: Mapped[str] = mapped_column(String(16), default="consent")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    person: Mapped[Person] = relationship()
    mailing_list: Mapped[MailingList] = relationship()

    __table_args__ = (
        UniqueConstraint("person_id", "list_id", name="uq_subscription_person_list"),
        CheckConstraint(
            "status in ('pending', 'active', 'unsubscribed', 'bounced', 'complained')",
            name="known_status",
        ),
        Index("ix_subscription_list_status", "list_id", "status"),
    )


class ConsentRecord(RefersToPolicy, Base):
    """An append-only grant, confirmation or withdrawal of consent (GDPR Art. 7(1)).

    Refers to the privacy policy in force when recorded (crm/consents.py).
    """

    __tablename__ = "consent_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    list_id: Mapped[int | None] = mapped_column(ForeignKey("mailing_list.id", ondelete="SET NULL"))
    purpose: Mapped[str] = mapped_column(String(32), default="newsletter")
    #: the controller the consent was given to: the one that runs the newsletter (seed 000)
    controller_id: Mapped[int] = mapped_column(
        ForeignKey("controller.id", ondelete="RESTRICT"), index=True
    )
    #: "grant", "confirm" or "withdraw"
    action: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(24))
    consent_text_id: Mapped[int | None] = mapped_column(
        ForeignKey("consent_text.id", ondelete="RESTRICT")
    )
    #: hash of the exact text the person saw, copied so the proof stands on its own
    text_hash: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    #: e.g. "paper form in the binder, 2026-03-01" (encrypted: staff may write names here)
    note: Mapped[str | None] = mapped_column(EncryptedText("consent_record.note"))

    consent_text: Mapped[ConsentText | None] = relationship()
    mailing_list: Mapped[MailingList | None] = relationship()

    __table_args__ = (
        CheckConstraint("action in ('grant', 'confirm', 'withdraw')", name="known_action"),
    )

    def policy_controller_id(self, connection: Connection) -> int | None:
        """The newsletter's controller: the policy the sign-up form linked to."""
        controllers.fill_controller_id(connection, self, newsletter=True)
        return self.controller_id


@event.listens_for(ConsentRecord, "before_insert")
def _default_controller(_mapper: object, connection: object, target: ConsentRecord) -> None:
    controllers.fill_controller_id(connection, target, newsletter=True)  # type: ignore[arg-type]


class Suppression(Base):
    """A keyed hash of an address that must never be mailed or re-added; survives erasure."""

    __tablename__ = "suppression"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("email_hash", "reason", name="uq_suppression_hash_reason"),
        CheckConstraint(
            "reason in ('unsubscribed', 'objection', 'erased', 'bounced', 'complained')",
            name="known_reason",
        ),
    )


class SubscriberMonth(Base):
    """Active subscriptions at the end of a closed month.

    Why: the dashboard's history chart would otherwise group every subscription twice on each
    view (45 ms at 100,000). A closed month's figure is taken once, by the nightly job or by
    the first dashboard view that needs it, and then stays as it was that month, even when
    people are later erased.
    """

    __tablename__ = "subscriber_month"

    #: "YYYY-MM"
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    active: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
