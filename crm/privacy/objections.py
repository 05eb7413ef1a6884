"""Objection to processing based on legitimate interest (GDPR Art. 21(1)), and to marketing.

Seed 004: "Om vi behandlar en uppgift om dig med stöd av berättigat intresse kan du invända
mot denna behandling." The button once covered direct marketing only. An objection now:

- names the processing objected to (one of :data:`PROCESSINGS`, or the owner's words);
- stops it at once, unless the practice records compelling legitimate grounds that override
  the person's interests (Art. 21(1)): then it goes on, and the grounds are recorded and told
  to the person with the answer. Direct marketing always stops and takes no grounds
  (Art. 21(3)): it goes through :func:`crm.privacy.rights.object_to_marketing`, which also
  tells every provider;
- is a request (``DataRequest`` of kind "objection") with its one-month deadline, so the
  answer is tracked like every other.

What "stopped" means for a processing done outside the CRM (a follow-up call, a customer
analysis): the stop is recorded with its time and shown on the person's page until the
request is refused on the grounds recorded later, so everyone working with the person sees it.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm.audit import Actor
from crm.db import utcnow
from crm.i18n import N_
from crm.people.models import Person
from crm.privacy import data_requests as requests
from crm.privacy import rights
from crm.privacy.models import DataRequest

MARKETING = "direct_marketing"
OTHER = "other"

#: The processings a practice bases on legitimate interest (seeds 000 and 004), as the owner
#: reads them; "other" takes the owner's own words.
PROCESSINGS = {
    MARKETING: _l("Direct marketing and the newsletter (always stops)"),
    "client_follow_up": _l("Contact after the client relationship ended"),
    "service_development": _l("Evaluating and developing the services (customer analysis)"),
    "security": _l("Preventing misuse and protecting the IT environment"),
    OTHER: _l("Another processing (name it below)"),
}


class ObjectionError(ValueError):
    """An objection could not be registered; the message is an English msgid for the user."""


def processing_label(processing: str | None) -> str:
    """The processing objected to, in words (the owner's own words for "other")."""
    if processing is None:
        return ""
    return str(PROCESSINGS.get(processing, processing))


def register(
    session: Session,
    person: Person,
    processing: str,
    actor: Actor,
    *,
    other: str = "",
    ground: str = "",
    channel: str = "in_person",
    received_at: datetime | None = None,
) -> DataRequest:
    """Register an objection as a request and stop the processing unless ``ground`` is given.

    :raises ObjectionError: no processing named, or grounds given for direct marketing.
    """
    if processing not in PROCESSINGS:
        raise ObjectionError(N_("Choose the processing the person objects to."))
    name = processing
    if processing == OTHER:
        name = " ".join(other.split())[:200]
        if not name:
            raise ObjectionError(N_("Name the processing the person objects to."))
    ground = ground.strip()
    if processing == MARKETING and ground:
        raise ObjectionError(
            N_("An objection to direct marketing always stops it: no grounds can override it.")
        )
    try:
        request = requests.open_request(
            session, person, "objection", channel, received_at or utcnow(), actor
        )
    except requests.RequestError as err:
        raise ObjectionError(str(err)) from err
    request.processing = name
    if ground:
        request.compelling_ground = ground
    else:
        request.stopped_at = utcnow()
        if processing == MARKETING:
            rights.object_to_marketing(session, person, actor)
    session.flush()
    audit.record(
        session,
        actor,
        "privacy.objection_registered",
        obj=person,
        details={
            "request": request.id,
            "processing": processing,
            "stopped": request.stopped_at is not None,
        },
    )
    return request


def record_ground(session: Session, request: DataRequest, ground: str, actor: Actor) -> None:
    """Record compelling grounds after the stop: the processing may resume once refused.

    The person is told the grounds with the refusal (and their right to complain to IMY).
    """
    if request.kind != "objection" or request.status != "open":
        raise ObjectionError(N_("This request is already closed."))
    if request.processing == MARKETING:
        raise ObjectionError(
            N_("An objection to direct marketing always stops it: no grounds can override it.")
        )
    ground = ground.strip()
    if not ground:
        raise ObjectionError(N_("Write the compelling legitimate grounds."))
    request.compelling_ground = ground
    audit.record(
        session,
        actor,
        "privacy.objection_ground",
        object_type="person",
        object_id=request.person_id,
        details={"request": request.id},
    )


def in_force(session: Session, person_id: int) -> list[DataRequest]:
    """The objections that stopped a processing for the person and still stand.

    Shown on the person's page. One stops standing when it is refused on grounds recorded
    after the stop; a completed objection keeps the processing stopped for good.
    """
    return list(
        session.scalars(
            select(DataRequest)
            .where(
                DataRequest.person_id == person_id,
                DataRequest.kind == "objection",
                DataRequest.stopped_at.is_not(None),
                DataRequest.status != "refused",
            )
            .order_by(DataRequest.stopped_at)
        )
    )
