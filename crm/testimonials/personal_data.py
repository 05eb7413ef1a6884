"""What the testimonials feature holds about a person: testimonials, media, consents, places.

Registered in the person registry (crm/privacy/registry.py). A testimonial still up in a
manual place (a post, a flyer) not yet ticked off blocks an erasure: deleting it would delete
the only record that the publication exists (Art. 17(2)).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.consents import policy_reference
from crm.people.models import Person
from crm.privacy.registry import ErasureContext
from crm.privacy.registry import ExportContext
from crm.privacy.registry import PersonDataHolder
from crm.privacy.registry import register
from crm.testimonials import media as media_store
from crm.testimonials import publications
from crm.testimonials.models import Publication
from crm.testimonials.models import Testimonial


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export(session: Session, person: Person, ctx: ExportContext) -> dict[str, Any]:
    """Every testimonial with its consents and publications; the original files go in media/."""
    testimonials = []
    for t in session.scalars(select(Testimonial).where(Testimonial.person_id == person.id)):
        media = []
        for item in t.live_media:
            name = f"media/testimonial-{t.id}-{item.id}.{item.mime.split('/')[1]}"
            if media_store.exists(item.stored_name):
                ctx.add_file(name, media_store.load(item.stored_name))
            media.append({"file": name, "kind": item.kind, "mime": item.mime})
        testimonials.append(
            {
                "text": t.text,
                "status": t.status,
                "display_mode": t.display_mode,
                "created_at": _iso(t.created_at),
                "media": media,
                "consents": [
                    {
                        "requested_at": _iso(c.requested_at),
                        "consented_at": _iso(c.consented_at),
                        "channels": c.channel_list(),
                        "media": c.media_list(),
                        "revoked_at": _iso(c.revoked_at),
                        "policy_version": policy_reference(c),
                    }
                    for c in t.consents
                ],
                "publications": [
                    {
                        "channel": p.channel,
                        "description": p.description,
                        "url": p.url,
                        "published_on": _iso(p.published_on),
                        "removed_at": _iso(p.removed_at),
                    }
                    for p in t.publications
                ],
            }
        )
    return {"testimonials": testimonials}


def blockers(session: Session, person_id: int) -> list[Publication]:
    """Manual publications still up: the owner takes them down before the erasure."""
    return publications.still_published(session, person_id)


def erase(session: Session, person: Person, _ctx: ErasureContext) -> None:
    """Delete every testimonial (consents and publications cascade) and its files."""
    for t in session.scalars(select(Testimonial).where(Testimonial.person_id == person.id)):
        for item in t.media:
            media_store.remove(session, item.stored_name)
        session.delete(t)


HOLDER = register(
    PersonDataHolder(
        name="testimonials",
        tables=("testimonial", "testimonial_media", "testimonial_consent", "publication"),
        sections=("testimonials",),
        export=export,
        deletes=("testimonials", "media"),
        blockers=blockers,
        erase=erase,
    )
)
