"""Testimonials, their media, consents (per channel and medium) and publications."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean
from sqlalchemy import CheckConstraint
from sqlalchemy import Connection
from sqlalchemy import Date
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from crm.consents import RefersToPolicy
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
    def given_consent(self) -> TestimonialConsent | None:
        """The newest consent given and neither voided nor revoked, whatever it covered."""
        for consent in reversed(self.consents):
            if consent.consented_at and not consent.voided_at and not consent.revoked_at:
                return consent
        return None

    @property
    def active_consent(self) -> TestimonialConsent | None:
        """The consent in force: given, not voided or revoked, and for exactly this content.

        Why the hash: a change made anywhere (a rename on the person's card, an erasure's
        anonymisation, a file gone) changes what would be shown; a consent covers only the
        content the client saw, so every use that asks here stops at once, even before the
        change's own path has voided the consent.
        """
        consent = self.given_consent
        if consent is not None and consent.content_hash == content_hash(self):
            return consent
        return None


def display_name(person: Person, mode: str) -> str:
    """Return the name exactly as it will be published ("" for anonymous)."""
    parts = person.name.split()
    if mode == DisplayMode.FULL_NAME:
        return person.name
    if mode == DisplayMode.FIRST_NAME:
        return parts[0] if parts else ""
    if mode == DisplayMode.INITIALS:
        return " ".join(f"{p[0]}." for p in parts if p)
    return ""


def content_hash(t: Testimonial) -> str:
    """Hash what would be shown: text, the name as shown, and the media.

    The one definition, used when the client is asked, when they consent, and by every
    reader of a consent (the feed, manual publications): the feed shows a testimonial only
    while this equals the hash the client consented to.
    """
    payload = {
        "text": t.text,
        "name": display_name(t.person, t.display_mode),
        "media": sorted(m.sha256 for m in t.live_media),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


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


class TestimonialConsent(RefersToPolicy, Base):
    """A consent request and, once given, the client's consent per channel and medium.

    Once given it refers to the privacy policy in force at that moment (crm/consents.py).
    """

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

    #: the request exists first; the consent is given when the client answers it
    policy_given_by = "consented_at"

    def policy_controller_id(self, connection: Connection) -> int | None:
        """The controller of the person the testimonial is from."""
        found = connection.execute(
            text(
                "SELECT p.controller_id FROM testimonial t JOIN person p ON p.id = t.person_id "
                "WHERE t.id = :t"
            ),
            {"t": self.testimonial_id},
        ).scalar()
        return int(found) if found is not None else None


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


class FeedGeneration(Base):
    """One row: the generation of the public feed, bumped with every change that affects it.

    Why: the feed is served from a per-process cache (crm/testimonials/feed.py); each request
    reads this row (one primary-key read) and renders anew only when it changed. The bump is
    written in the same transaction as the change, so the first request after a withdrawal's
    commit already sees a new generation. ``nonce`` is random per bump, so a database restored
    from a backup (generation numbers going back and then forking) never matches a cache
    built from a different history.
    """

    __tablename__ = "feed_generation"

    id: Mapped[int] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    nonce: Mapped[str] = mapped_column(String(32), default="")
