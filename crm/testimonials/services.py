"""Testimonial operations: create, edit (voiding consent), media, consent, publish, revoke.

A testimonial reaches the website feed only while a consent covering the website is in force
for exactly the content the client saw (text, media, name as shown). An edit voids that
consent and takes the testimonial out of the feed at once; a revocation does the same and
turns every manual publication into a removal task.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm.audit import Actor
from crm.db import utcnow
from crm.errors import DomainError
from crm.i18n import N_
from crm.people import services as people
from crm.people.models import Person
from crm.testimonials import feed as feed_cache  # noqa: F401 - its listeners bump the feed
from crm.testimonials import mails
from crm.testimonials import media as media_store
from crm.testimonials.models import CHANNELS
from crm.testimonials.models import MEDIA_KINDS
from crm.testimonials.models import DisplayMode
from crm.testimonials.models import Publication
from crm.testimonials.models import Status
from crm.testimonials.models import Testimonial
from crm.testimonials.models import TestimonialConsent
from crm.testimonials.models import TestimonialMedia
from crm.testimonials.models import content_hash

ANONYMOUS = N_("A client")


class TestimonialError(DomainError):
    """An operation was refused; the message is an English msgid for the user."""


def get(session: Session, testimonial_id: int) -> Testimonial | None:
    """Return a testimonial with its media, consents and publications."""
    return session.get(Testimonial, testimonial_id)


def by_public_id(session: Session, public_id: object) -> Testimonial | None:
    """Return the testimonial a signed link names."""
    if not isinstance(public_id, str):
        return None
    return session.scalar(select(Testimonial).where(Testimonial.public_id == public_id))


def _check_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise TestimonialError(N_("Write the testimonial text."))
    if len(text) > 5000:
        raise TestimonialError(N_("The text is longer than 5,000 characters."))
    return text


def refuse_if_restricted(person: Person) -> None:
    """Art. 18: a restricted person's data is stored, not used; withdrawing stays possible."""
    if person.restricted_at is not None:
        raise TestimonialError(N_("Processing of this person is restricted."))


def create(
    session: Session, person: Person, text: str, display_mode: str, actor: Actor
) -> Testimonial:
    """Create a draft."""
    refuse_if_restricted(person)
    if display_mode not in set(DisplayMode):
        raise TestimonialError(N_("Choose how the name is shown."))
    t = Testimonial(person=person, text=_check_text(text), display_mode=display_mode)
    session.add(t)
    session.flush()
    audit.record(session, actor, "testimonial.create", obj=t, details={"person": person.id})
    return t


def _void_consent(session: Session, t: Testimonial, actor: Actor, reason: str) -> None:
    """The content changed: any consent no longer covers it, so it leaves the feed now."""
    voided = False
    for consent in t.consents:
        # every consent still standing, including one whose hash already differs (a rename)
        if consent.consented_at and not consent.voided_at and not consent.revoked_at:
            consent.voided_at = utcnow()
            voided = True
    if voided:
        audit.record(session, actor, "testimonial.consent_void", obj=t, details={"reason": reason})
    if t.status in (Status.APPROVED, Status.PUBLISHED, Status.AWAITING_CONSENT):
        t.status = Status.AWAITING_CONSENT if voided or t.consents else Status.DRAFT
    _close_automatic_publications(t)


def _close_automatic_publications(t: Testimonial) -> None:
    for pub in t.publications:
        if pub.automatic and pub.removed_at is None:
            pub.removed_at = utcnow()  # the feed drops it by itself: nothing to tick off


def edit(session: Session, t: Testimonial, text: str, display_mode: str, actor: Actor) -> bool:
    """Change text or name display; returns whether anything changed (and consent was voided)."""
    refuse_if_restricted(t.person)
    if t.status == Status.REVOKED:
        raise TestimonialError(N_("A revoked testimonial cannot be changed."))
    if display_mode not in set(DisplayMode):
        raise TestimonialError(N_("Choose how the name is shown."))
    text = _check_text(text)
    if text == t.text and display_mode == t.display_mode:
        return False
    t.text, t.display_mode, t.updated_at = text, display_mode, utcnow()
    _void_consent(session, t, actor, "edited")
    audit.record(session, actor, "testimonial.edit", obj=t)
    return True


def add_media(session: Session, t: Testimonial, data: bytes, actor: Actor) -> TestimonialMedia:
    """Accept, clean and store an upload; it changes the content, so consent is voided."""
    refuse_if_restricted(t.person)
    if t.status == Status.REVOKED:
        raise TestimonialError(N_("A revoked testimonial cannot be changed."))
    try:
        clean = media_store.accept(data)
    except media_store.MediaError as err:
        raise TestimonialError(str(err)) from err
    name, digest = media_store.store(clean)
    item = TestimonialMedia(
        kind=clean.kind, mime=clean.mime, size=len(clean.data), stored_name=name, sha256=digest
    )
    t.media.append(item)
    session.flush()
    _void_consent(session, t, actor, "media_added")
    audit.record(
        session,
        actor,
        "testimonial.media_add",
        obj=t,
        details={"kind": clean.kind, "bytes": len(clean.data)},
    )
    return item


def delete_media(session: Session, item: TestimonialMedia, actor: Actor) -> None:
    """Delete a media file now; the content changed, so consent is voided."""
    t = item.testimonial
    media_store.remove(session, item.stored_name)
    item.deleted_at = utcnow()
    _void_consent(session, t, actor, "media_deleted")
    audit.record(session, actor, "testimonial.media_delete", obj=t, details={"media": item.id})


def request_consent(session: Session, t: Testimonial, actor: Actor) -> TestimonialConsent:
    """Record a consent request for the current content (the caller sends the mail)."""
    if t.status == Status.REVOKED:
        raise TestimonialError(N_("A revoked testimonial cannot be changed."))
    if not t.person.email:
        raise TestimonialError(N_("The client has no email address to send the request to."))
    refuse_if_restricted(t.person)
    request = TestimonialConsent(content_hash=content_hash(t))
    t.consents.append(request)
    if t.status == Status.DRAFT:
        t.status = Status.AWAITING_CONSENT
    session.flush()
    audit.record(session, actor, "testimonial.consent_request", obj=t)
    return request


@people.on_person_changed
def _person_changed(session: Session, person: Person, fields: list[str], actor: Actor) -> None:
    """A rectified name changes what a testimonial shows: void and ask anew, as an edit does.

    Only where the name as shown really changed (the content hash differs from the one the
    client saw); an anonymous testimonial is untouched. Registered with people/ (which imports
    no feature); the new consent request is mailed once the rename is committed.
    """
    if "name" not in fields:
        return
    stmt = select(Testimonial).where(
        Testimonial.person_id == person.id,
        Testimonial.status.in_([Status.APPROVED, Status.PUBLISHED, Status.AWAITING_CONSENT]),
    )
    for t in session.scalars(stmt):
        latest = t.consents[-1] if t.consents else None
        if latest is None or latest.content_hash == content_hash(t):
            continue
        _void_consent(session, t, actor, "person_renamed")
        if t.status == Status.AWAITING_CONSENT and person.email and person.restricted_at is None:
            row = request_consent(session, t, actor)
            mails.send_request_after_commit(session, t, row.content_hash)


@dataclass
class ConsentChoice:
    """What the client ticked on the consent page."""

    channels: list[str]
    media_kinds: list[str]
    ip: str | None
    user_agent: str | None


def give_consent(
    session: Session, t: Testimonial, shown_hash: str, choice: ConsentChoice, actor: Actor
) -> TestimonialConsent:
    """Record the client's consent for the content whose hash they were shown.

    :raises TestimonialError: the content changed since the request, or nothing was ticked.
    """
    if t.status == Status.REVOKED:
        raise TestimonialError(N_("This testimonial was withdrawn."))
    current = content_hash(t)
    if shown_hash != current:
        raise TestimonialError(
            N_("The testimonial was changed after this link was sent. Wait for a new link.")
        )
    channels = [c for c in CHANNELS if c in choice.channels]
    kinds = [k for k in MEDIA_KINDS if k in choice.media_kinds]
    if not channels or not kinds:
        raise TestimonialError(
            N_(
                "Tick at least one place and one medium, or just close the "
                "page if you do not agree."
            )
        )
    request = next(
        (
            c
            for c in reversed(t.consents)
            if c.content_hash == current and c.consented_at is None and c.voided_at is None
        ),
        None,
    )
    if request is None:
        request = TestimonialConsent(content_hash=current)
        t.consents.append(request)
    for older in t.consents:
        if (
            older is not request
            and older.consented_at
            and not older.voided_at
            and not older.revoked_at
        ):
            older.voided_at = utcnow()  # superseded by this one
    request.consented_at = utcnow()
    request.channels, request.media_kinds = json.dumps(channels), json.dumps(kinds)
    request.ip, request.user_agent = choice.ip, (choice.user_agent or "")[:200] or None
    if "website" in channels:
        t.status = Status.PUBLISHED
        t.publications.append(
            Publication(channel="website", automatic=True, published_on=date.today())
        )
    else:
        t.status = Status.APPROVED
    session.flush()
    audit.record(
        session, actor, "testimonial.consent", obj=t, details={"channels": channels, "media": kinds}
    )
    return request


def revoke(session: Session, t: Testimonial, method: str, actor: Actor) -> bool:
    """Withdraw consent: out of every feed now, removal tasks for manual places, media deleted.

    Idempotent; returns False when it was already revoked.
    """
    if t.status == Status.REVOKED:
        return False
    now = utcnow()
    for consent in t.consents:
        if consent.consented_at and not consent.revoked_at:
            consent.revoked_at, consent.revoked_method = now, method
    t.status, t.revoked_at = Status.REVOKED, now
    _close_automatic_publications(t)
    days = int(current_app.config["TESTIMONIAL_MEDIA_DELETE_DAYS"])
    for item in t.live_media:
        item.delete_after = now + timedelta(days=days)
    session.flush()
    deleted = purge_due_media(session, now)
    tasks = sum(1 for p in t.publications if not p.automatic and p.removed_at is None)
    audit.record(
        session,
        actor,
        "testimonial.revoke",
        obj=t,
        details={"method": method, "removal_tasks": tasks, "media_deleted": deleted},
    )
    return True


def purge_due_media(session: Session, now: datetime | None = None) -> int:
    """Delete media files whose deletion date has come; returns how many."""
    now = now or utcnow()
    due = session.scalars(
        select(TestimonialMedia).where(
            TestimonialMedia.deleted_at.is_(None),
            TestimonialMedia.delete_after.is_not(None),
            TestimonialMedia.delete_after <= now,
        )
    )
    count = 0
    for item in due:
        media_store.remove(session, item.stored_name)
        item.deleted_at = now
        count += 1
    return count


#: an upload writes its file before its row commits, so a younger file may be on its way in
ORPHAN_GRACE = timedelta(days=1)


def purge_orphan_files(session: Session, now: datetime | None = None, dry_run: bool = False) -> int:
    """Delete media files no live row points at; returns how many (would be) deleted.

    Files are deleted only after their transaction commits, so a crash between the commit
    and the deletion, or an upload whose transaction rolled back, leaves a file behind that
    nothing refers to: still the person's photo or voice, even after an erasure.
    """
    now = now or utcnow()
    since = now - ORPHAN_GRACE
    # files deleted within the grace period are still on their way out, not orphans
    live = set(
        session.scalars(
            select(TestimonialMedia.stored_name).where(
                or_(TestimonialMedia.deleted_at.is_(None), TestimonialMedia.deleted_at > since)
            )
        )
    )
    names = media_store.unreferenced(live, since.timestamp())
    if not dry_run:
        for name in names:
            media_store.remove(session, name)
    return len(names)
