"""Data-subject requests (GDPR Art. 12-22): deadlines, extensions, identity, outcome.

A request is due one calendar month after it was received (Art. 12(3)); it may be extended
once, by up to two further months, with a reason the person is told within the first month;
a refusal records why and tells the person they can complain to IMY (Art. 12(4)).
"""

from __future__ import annotations

import calendar
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from crm import audit
from crm import paging
from crm.audit import Actor
from crm.db import utcnow
from crm.errors import DomainError
from crm.i18n import N_
from crm.people.models import Person
from crm.privacy import identity
from crm.privacy.models import DataRequest
from crm.representatives import services as representatives
from crm.representatives.models import Representation

KINDS = ("access", "portability", "rectification", "erasure", "restriction", "objection")
CHANNELS = ("email", "letter", "phone", "in_person", "preferences_page", "portal")


class RequestError(DomainError):
    """A step was refused; the message is an English msgid for the user."""


def add_months(when: datetime, months: int) -> datetime:
    """The same day ``months`` calendar months later, or the month's last day (31 Jan -> 28 Feb)."""
    month_index = when.month - 1 + months
    year, month = when.year + month_index // 12, month_index % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


def open_request(
    session: Session,
    person: Person | None,
    kind: str,
    channel: str,
    received_at: datetime,
    actor: Actor,
    representation: Representation | None = None,
) -> DataRequest:
    """Register a request; it is due one month after it was received.

    ``representation``: the request was filed by a representative for ``person`` (seed 004).
    It is refused unless that mandate is the person's, valid on the day the request was
    received, and of a kind that covers the request.
    """
    if kind not in KINDS:
        raise RequestError(N_("Choose the kind of request."))
    if channel not in CHANNELS:
        raise RequestError(N_("Choose how the request arrived."))
    if received_at > utcnow():
        raise RequestError(N_("The request cannot have been received in the future."))
    if representation is not None:
        try:
            representatives.check(
                representation, person.id if person else None, kind, received_at.date()
            )
        except representatives.MandateError as err:
            raise RequestError(str(err)) from err
    request = DataRequest(
        person_id=person.id if person else None,
        controller_id=person.controller_id if person else None,
        requester_id=representation.representative_id if representation else None,
        representation_id=representation.id if representation else None,
        kind=kind,
        channel=channel,
        received_at=received_at,
        due_at=add_months(received_at, 1),
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor,
        "privacy.request",
        object_type="person",
        object_id=person.id if person else None,
        details={
            "kind": kind,
            "request": request.id,
            **({"representation": representation.id} if representation else {}),
        },
    )
    return request


def _open(request: DataRequest) -> None:
    if request.status != "open":
        raise RequestError(N_("This request is already closed."))


def verify_identity(session: Session, request: DataRequest, method: str, actor: Actor) -> None:
    """Record how (ID document, BankID, known in person) and by whom the identity was checked.

    This is what the identity gate (crm/privacy/identity.py) reads before the request's
    export, download link or erasure.
    """
    _open(request)
    if method not in identity.METHODS:
        raise RequestError(N_("Choose how the identity was checked."))
    request.identity_method = method
    request.identity_verified_at = utcnow()
    request.identity_verified_by_id = actor.user_id
    audit.record(
        session,
        actor,
        "privacy.identity_verified",
        object_type="person",
        object_id=request.person_id,
        details={"request": request.id, "method": method},
    )


def extend(
    session: Session,
    request: DataRequest,
    months: int,
    reason: str,
    actor: Actor,
    now: datetime | None = None,
) -> None:
    """Extend once by one or two months; only within the first month, and only with a reason."""
    _open(request)
    now = now or utcnow()
    if request.extended_at is not None:
        raise RequestError(N_("A request can be extended only once."))
    if months not in (1, 2):
        raise RequestError(N_("Extend by one or two months."))
    if not reason.strip():
        raise RequestError(N_("Give the reason; the person is told it."))
    if now > request.due_at:
        raise RequestError(N_("The extension must be decided within the first month."))
    request.due_at = add_months(request.received_at, 1 + months)
    request.extended_at, request.extension_reason = now, reason.strip()
    audit.record(
        session,
        actor,
        "privacy.request_extended",
        object_type="person",
        object_id=request.person_id,
        details={"request": request.id, "months": months},
    )


def _close(
    session: Session, request: DataRequest, status: str, outcome: str, missing: str, actor: Actor
) -> None:
    """Close an open request with a required outcome text, and audit it."""
    _open(request)
    if not outcome.strip():
        raise RequestError(missing)
    request.status, request.outcome = status, outcome.strip()
    request.completed_at, request.completed_by_id = utcnow(), actor.user_id
    audit.record(
        session,
        actor,
        "privacy.request_refused" if status == "refused" else "privacy.request_completed",
        object_type="person",
        object_id=request.person_id,
        details={"request": request.id},
    )


def complete(session: Session, request: DataRequest, outcome: str, actor: Actor) -> None:
    """Close the request as done, with what was done.

    An access, portability or erasure request of a client is closed as done only once the
    identity check is recorded (crm/privacy/identity.py), however the answer went out.
    """
    try:
        identity.require_for_closing(session, request)
    except identity.IdentityNotChecked as err:
        raise RequestError(str(err)) from err
    _close(session, request, "completed", outcome, N_("Describe what was done."), actor)


def refuse(session: Session, request: DataRequest, reason: str, actor: Actor) -> None:
    """Close the request as refused; the reason is recorded and told to the person with IMY."""
    _close(session, request, "refused", reason, N_("Give the reason for the refusal."), actor)


def open_requests(session: Session, controller_id: int | None = None) -> list[DataRequest]:
    """Open requests (to one controller, for a limited account), the most urgent first."""
    stmt = (
        select(DataRequest)
        .options(selectinload(DataRequest.person))
        .where(DataRequest.status == "open")
        .order_by(DataRequest.due_at)
    )
    if controller_id is not None:
        stmt = stmt.where(DataRequest.controller_id == controller_id)
    return list(session.scalars(stmt))


#: how the list of every request can be ordered (the first is the default)
SORTS = paging.options(
    ("-received", N_("Newest first"), [DataRequest.received_at], True),
    ("due", N_("Due date"), [DataRequest.due_at], False),
    ("kind", N_("Kind"), [DataRequest.kind], False),
)


def requests_page(
    session: Session, pager: paging.Pager, controller_id: int | None = None
) -> tuple[list[DataRequest], paging.Pager]:
    """One page of every request (to one controller, for a limited account), and its pager."""
    stmt = select(DataRequest)
    if controller_id is not None:
        stmt = stmt.where(DataRequest.controller_id == controller_id)
    pager = pager.with_total(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    return list(session.scalars(pager.window(pager.order(stmt, DataRequest.id)))), pager
