"""Testimonials, their media, consents (per channel and medium) and publications."""

from __future__ import annotations

import json
from datetime import date
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean
from sqlalchemy import CheckConstraint
from sqlalchemy import Date
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from crm.db import Base
from crm.db import UTCDateTime
from crm.db import utcnow
from crm.people.models import Person
from crm.people.models import new_public_id
from crm.security.crypto import EncryptedText


class Status(StrEnum):
    """Where a testimonial stands."""

    DRAFT = "draft"
    AWAITING_CONSENT = "awaiting_consent"
    APPROVED = "approved"  # consented, but not for the website feed
    PUBLISHED = "published"  # consented for the website: in the feed
    REVOKED = "revoked"


class DisplayMode(StrEnum):
    """How the client's name appears with the testimonial."""

    FULL_NAME = "full_name"
    FIRST_NAME = "first_name"
    INITIALS = "initials"
    ANONYMOUS = "anonymous"


CHANNELS = ("website", "social", "newsletter", "print")
MEDIA_KINDS = ("text", "image", "audio", "video")


class Testimonial(Base):
    """What a client said about the practice. Text encrypted: it may reveal therapy (Art. 9)."""

    __tablename__ = "testimonial"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(EncryptedText("testimonial.text"))
    display_mode: Mapped[str] = mapped_column(String(16), default=DisplayMode.FIRST_NAME)
    status: Mapped[str] = mapped_column(String(20), default=Status.DRAFT, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    person: Mapped[Person] = relationship()
    media: Mapped[list[TestimonialMedia]] = relationship(
        back_populates="testimonial", cascade="all, delete-orphan", order_by="TestimonialMedia.id"
    )
    consents: Mapped[list[TestimonialConsent]] = relationship(
        back_populates="testimonial",
        cascade="all, delete-orphan",
        order_by="TestimonialConsent.id",
    )
    publications: Mapped[list[Publication]] = relationship(
        back_populates="testimonial", cascade="all, delete-orphan", order_by="Publication.id"
    )

    __table_args__ = (
        CheckConstraint(
            "status in ('draft', 'awaiting_consent', 'approved', 'published', 'revoked')",
            name="known_status",
        ),
        CheckConstraint(
            "display_mode in ('full_name', 'first_name', 'initials', 'anonymous')",
            name="known_display_mode",
        ),
    )

    def __repr__(self) -> str:
        return f"<Testimonial id={self.id} status={self.status}>"

    @property
    def live_media(self) -> list[TestimonialMedia]:
        """Media whose files still exist."""
        return [m for m in self.media if m.deleted_at is None]

    @property
    def active_consent(self) -> TestimonialConsent | None:
        """The consent in force: given, neither voided by an edit nor revoked."""
        for consent in reversed(self.consents):
            if consent.consented_at and not consent.voided_at and not consent.revoked_at:
                return consent
        return None


class TestimonialMedia(Base):
    """An image, audio or video file: stored encrypted under a generated name."""

    __tablename__ = "testimonial_media"

    id: Mapped[int] = mapped_column(primary_key=True)
    testimonial_id: Mapped[int] = mapped_column(
        ForeignKey("testimonial.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    mime: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    #: random file name under instance/media/ (never derived from the upload)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    #: sha256 of the stored (cleaned) content: part of what the client consents to
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: when the file must go (revocation with a delay); None = keep
    delete_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    testimonial: Mapped[Testimonial] = relationship(back_populates="media")

    __table_args__ = (CheckConstraint("kind in ('image', 'audio', 'video')", name="known_kind"),)


class TestimonialConsent(Base):
    """A consent request and, once given, the client's consent per channel and medium."""

    __tablename__ = "testimonial_consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    testimonial_id: Mapped[int] = mapped_column(
        ForeignKey("testimonial.id", ondelete="CASCADE"), index=True
    )
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: hash of the text, media and name as they were shown to the client
    content_hash: Mapped[str] = mapped_column(String(64))
    consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: JSON lists, e.g. ["website", "print"] and ["text", "image"]
    channels: Mapped[str] = mapped_column(Text, default="[]")
    media_kinds: Mapped[str] = mapped_column(Text, default="[]")
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    #: set when the owner changed the content after consent: the consent no longer covers it
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: "client_link" or "staff_on_behalf"
    revoked_method: Mapped[str | None] = mapped_column(String(20))

    testimonial: Mapped[Testimonial] = relationship(back_populates="consents")

    def channel_list(self) -> list[str]:
        """Channels consented to."""
        return list(json.loads(self.channels))

    def media_list(self) -> list[str]:
        """Media kinds consented to."""
        return list(json.loads(self.media_kinds))


class Publication(Base):
    """Where a testimonial was published: the website feed (automatic) or a manual place."""

    __tablename__ = "publication"

    id: Mapped[int] = mapped_column(primary_key=True)
    testimonial_id: Mapped[int] = mapped_column(
        ForeignKey("testimonial.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    #: an Instagram post, "flyer, spring 2026" ... (free text; may name the client: encrypted)
    description: Mapped[str | None] = mapped_column(EncryptedText("publication.description"))
    url: Mapped[str | None] = mapped_column(String(500))
    published_on: Mapped[date | None] = mapped_column(Date)
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    #: when the owner ticked off that it was taken down after a revocation
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    testimonial: Mapped[Testimonial] = relationship(back_populates="publications")

    __table_args__ = (
        CheckConstraint(
            "channel in ('website', 'social', 'newsletter', 'print')", name="known_channel"
        ),
    )
