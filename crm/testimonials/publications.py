"""Where testimonials are published, and what is read from them.

The publications the owner ticks off (an erasure waits until the manual ones are down), the
public feed, the owner's list and the people a new testimonial can be about.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from crm import audit
from crm.audit import Actor
from crm.db import utcnow
from crm.i18n import N_
from crm.people.models import Person
from crm.testimonials import feed as feed_cache  # noqa: F401 - its listeners bump the feed
from crm.testimonials.models import Publication
from crm.testimonials.models import Status
from crm.testimonials.models import Testimonial
from crm.testimonials.models import TestimonialMedia
from crm.testimonials.models import display_name
from crm.testimonials.services import TestimonialError
from crm.testimonials.services import refuse_if_restricted


def add_publication(
    session: Session,
    t: Testimonial,
    channel: str,
    description: str,
    url: str,
    published_on: date | None,
    actor: Actor,
) -> Publication:
    """Record a manual publication (an Instagram post, a printed flyer) within the consent."""
    refuse_if_restricted(t.person)
    consent = t.active_consent
    if consent is None:
        raise TestimonialError(N_("There is no consent in force for this testimonial."))
    if channel not in consent.channel_list():
        raise TestimonialError(N_("The client did not consent to this channel."))
    url = (url or "").strip()
    if url and not url.startswith(("https://", "http://")):
        raise TestimonialError(N_("The address must start with https://."))
    pub = Publication(
        channel=channel,
        description=(description or "").strip() or None,
        url=url or None,
        published_on=published_on or date.today(),
    )
    t.publications.append(pub)
    session.flush()
    audit.record(session, actor, "testimonial.publication", obj=t, details={"channel": channel})
    return pub


def tick_removed(session: Session, pub: Publication, actor: Actor) -> None:
    """The owner took a revoked testimonial down from a manual place."""
    pub.removed_at = utcnow()
    audit.record(
        session,
        actor,
        "testimonial.publication_removed",
        obj=pub.testimonial,
        details={"publication": pub.id},
    )


def _still_up() -> Select[Publication]:
    """Manual publications (a post, a flyer) not yet ticked off as taken down, oldest first."""
    return (
        select(Publication)
        .join(Testimonial)
        .where(Publication.automatic.is_(False), Publication.removed_at.is_(None))
        .order_by(Publication.id)
    )


def removal_tasks(session: Session) -> list[Publication]:
    """Manual publications of revoked testimonials not yet taken down (dashboard to-dos)."""
    stmt = (
        _still_up()
        .options(selectinload(Publication.testimonial).selectinload(Testimonial.person))
        .where(Testimonial.status == Status.REVOKED)
    )
    return list(session.scalars(stmt))


def still_published(session: Session, person_id: int) -> list[Publication]:
    """A person's testimonials still up in manual places (an erasure must wait for them)."""
    return list(session.scalars(_still_up().where(Testimonial.person_id == person_id)))


@dataclass
class FeedItem:
    """One testimonial as the public feed shows it."""

    id: str
    text: str | None
    name: str
    media: list[TestimonialMedia]


def feed(session: Session) -> list[FeedItem]:
    """Published testimonials with a consent covering the website, newest first.

    The text and each medium appear only if the client consented to that medium, and nothing
    of a person whose processing is restricted appears. Of the
    person only the name is loaded: this runs for anonymous visitors, and loading the whole
    row would decrypt their personnummer on every request for nothing.
    """
    stmt = (
        select(Testimonial)
        .join(Person, Person.id == Testimonial.person_id)
        # a restricted person's data is only stored, not used (Art. 18): out of the feed
        # until the restriction is lifted, like every other use
        .where(Testimonial.status == Status.PUBLISHED, Person.restricted_at.is_(None))
        .options(
            selectinload(Testimonial.consents),
            selectinload(Testimonial.media),
            selectinload(Testimonial.person).load_only(Person.name, raiseload=True),
        )
        .order_by(Testimonial.updated_at.desc())
    )
    items = []
    for t in session.scalars(stmt):
        consent = t.active_consent
        if consent is None or "website" not in consent.channel_list():
            continue
        kinds = set(consent.media_list())
        items.append(
            FeedItem(
                id=t.public_id,
                text=t.text if "text" in kinds else None,
                name=display_name(t.person, t.display_mode),
                media=[m for m in t.live_media if m.kind in kinds],
            )
        )
    return items


def list_all(
    session: Session, status: str = "", controller_id: int | None = None
) -> list[Testimonial]:
    """All testimonials (of one controller's people, for a limited account), newest first."""
    stmt = (
        select(Testimonial)
        .options(selectinload(Testimonial.person))
        .order_by(Testimonial.created_at.desc())
    )
    if controller_id is not None:
        stmt = stmt.join(Person, Person.id == Testimonial.person_id).where(
            Person.controller_id == controller_id
        )
    if status in set(Status):
        stmt = stmt.where(Testimonial.status == status)
    return list(session.scalars(stmt))


def media_by_name(session: Session, stored_name: str) -> TestimonialMedia | None:
    """Return a file that still exists, by its stored name (the feed decides if it is shown)."""
    item = session.scalar(
        select(TestimonialMedia).where(TestimonialMedia.stored_name == stored_name)
    )
    return None if item is None or item.deleted_at is not None else item


def people_choices(session: Session, controller_id: int | None = None) -> Iterable[tuple[int, str]]:
    """People to pick from (only one controller's, for an account limited to it)."""
    stmt = select(Person.id, Person.name, Person.email).where(Person.archived_at.is_(None))
    if controller_id is not None:
        stmt = stmt.where(Person.controller_id == controller_id)
    rows = session.execute(stmt.order_by(Person.name).limit(2000))
    return [(pid, f"{name} ({email})" if email else name) for pid, name, email in rows]
