"""The public privacy portal (``/integritet``): anyone files a data-subject request.

Why it is built this way:

- A filing is only what someone typed until they confirm their address through a signed link
  (7 days). Only then does it become a :class:`DataRequest` (channel "portal") on the
  dashboard, due one month after the confirmation (Art. 12(3)). So nobody can put work on
  the practice's desk, or start a clock, with someone else's address.
- The portal never discloses anything (GDPR Art. 15 goes through the practice's identity
  check; IMY and the EDPB access guidelines 01/2022 ask the controller to make sure of the
  requester's identity before it answers). Nothing here looks the address up before the
  confirmation: a known and an unknown address get the same page, the same mail, at the
  same moment. After the confirmation the request is linked to the person with that
  address, if exactly one has it and the filing is for oneself; the practice still checks the
  identity (and, for a representative, the mandate) before anything is disclosed or changed.
- Rate limits reuse the sign-up's mechanism (``crm.security.ratelimit``): per IP per hour and
  per address per day, counted whether or not the address is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm.audit import Actor
from crm.db import rowcount
from crm.db import utcnow
from crm.errors import DomainError
from crm.i18n import N_
from crm.people.models import Person
from crm.privacy import data_requests
from crm.privacy.models import DataRequest
from crm.privacy.models import PortalRequest
from crm.security import emails
from crm.security import ratelimit

KINDS = data_requests.KINDS
#: the roles a representative can name (vårdnadshavare, god man, förvaltare, fullmakt, other)
ROLES = ("guardian", "trustee", "administrator", "power_of_attorney", "other")

MAX_NAME = 200
MAX_DETAILS = 2000


class PortalError(DomainError):
    """The filing was refused; the message is an English msgid for the user."""


@dataclass(frozen=True)
class Filing:
    """What someone typed into the portal form."""

    kind: str
    email: str
    name: str
    details: str = ""
    for_someone_else: bool = False
    represented_name: str = ""
    representative_role: str = ""
    ip: str | None = None


def normalise(email: str) -> str:
    """Trimmed and lower-case, as addresses are stored everywhere else."""
    return email.strip().lower()


def throttled(session: Session, ip: str | None, email: str) -> bool:
    """Tell whether this IP or address has filed too often lately (mail-bombing guard)."""
    cfg = current_app.config
    by_ip = ratelimit.count(session, ratelimit.bucket("portal-ip", ip or "-"), timedelta(hours=1))
    by_mail = ratelimit.count(
        session, ratelimit.bucket("portal-email", normalise(email)), timedelta(days=1)
    )
    return by_ip >= cfg["PORTAL_MAX_PER_IP_HOUR"] or by_mail >= cfg["PORTAL_MAX_PER_EMAIL_DAY"]


def file(session: Session, filing: Filing) -> PortalRequest:
    """Store a filing awaiting the address's confirmation; the caller mails the link.

    :raises PortalError: something needed is missing or invalid (nothing is stored).
    """
    email = normalise(filing.email)
    if filing.kind not in KINDS:
        raise PortalError(N_("Choose what you are asking for."))
    if not emails.is_valid(email):
        raise PortalError(N_("Enter a valid email address."))
    name = filing.name.strip()
    if not name:
        raise PortalError(N_("Enter your name."))
    details = filing.details.strip()
    if len(name) > MAX_NAME or len(details) > MAX_DETAILS:
        raise PortalError(N_("The text is too long."))
    if filing.kind == "rectification" and not details:
        raise PortalError(N_("Say what is wrong and what it should say."))
    represented, role = None, None
    if filing.for_someone_else:
        represented = filing.represented_name.strip()
        role = filing.representative_role
        if not represented or len(represented) > MAX_NAME:
            raise PortalError(N_("Enter the name of the person you represent."))
        if role not in ROLES:
            raise PortalError(N_("Choose your role for the person you represent."))
    ratelimit.hit(session, ratelimit.bucket("portal-ip", filing.ip or "-"))
    ratelimit.hit(session, ratelimit.bucket("portal-email", email))
    row = PortalRequest(
        kind=filing.kind,
        email=email,
        name=name,
        details=details or None,
        represented_name=represented,
        representative_role=role,
    )
    session.add(row)
    session.flush()
    # no address, no name: the audit row says that a filing arrived, and which one
    audit.record(
        session,
        Actor("public", None, filing.ip),
        "privacy.portal_filed",
        obj=row,
        details={"kind": row.kind, "representative": role is not None},
    )
    return row


def by_public_id(session: Session, public_id: object) -> PortalRequest | None:
    """The filing a signed link names, or None (purged, or never there)."""
    if not isinstance(public_id, str):
        return None
    return session.scalar(select(PortalRequest).where(PortalRequest.public_id == public_id))


def confirm(session: Session, row: PortalRequest, actor: Actor) -> DataRequest:
    """The address is confirmed: open the request, due one month from now. Idempotent."""
    if row.request is not None:
        return row.request
    now = utcnow()
    person = _person_for(session, row)
    request = data_requests.open_request(session, person, row.kind, "portal", now, actor)
    row.confirmed_at, row.request_id, row.request = now, request.id, request
    return request


def _person_for(session: Session, row: PortalRequest) -> Person | None:
    """The person the request is about when it is plainly the requester themself.

    Only for a filing for oneself, and only when exactly one person has the confirmed
    address (the address is unique, so at most one does). A representative's request names
    someone by name only: the practice links it after checking the mandate.
    """
    if row.representative_role is not None or not row.email:
        return None
    return session.scalar(select(Person).where(Person.email == row.email))


@dataclass(frozen=True)
class Status:
    """Where a filing stands, as the status page shows it (nothing the person did not type)."""

    kind: str
    #: awaiting_confirmation, identity_check, in_progress, completed, refused
    stage: str
    filed_at: datetime
    received_at: datetime | None = None
    due_at: datetime | None = None
    identity_checked: bool = False
    extended_at: datetime | None = None
    extension_reason: str | None = None
    closed_at: datetime | None = None


def status(row: PortalRequest) -> Status:
    """The filing's stage, from the request the practice works on."""
    request = row.request
    if request is None:
        return Status(row.kind, "awaiting_confirmation", row.created_at)
    if request.status == "open":
        stage = "in_progress" if request.identity_verified_at else "identity_check"
    else:
        stage = request.status
    return Status(
        kind=row.kind,
        stage=stage,
        filed_at=row.created_at,
        received_at=request.received_at,
        due_at=request.due_at,
        identity_checked=request.identity_verified_at is not None,
        extended_at=request.extended_at,
        extension_reason=request.extension_reason,
        closed_at=request.completed_at,
    )


def for_request(session: Session, request: DataRequest) -> PortalRequest | None:
    """The portal filing behind a request, if it came through the portal."""
    return session.scalar(select(PortalRequest).where(PortalRequest.request_id == request.id))


def reply_address(session: Session, request: DataRequest) -> str | None:
    """Where to answer a portal request: the address that was confirmed.

    Art. 12(3): a request made electronically is answered electronically; for a
    representative that is their own address.
    """
    row = for_request(session, request)
    return row.email if row is not None and row.confirmed_at is not None else None


def purge_unconfirmed(
    session: Session, now: datetime | None = None, *, dry_run: bool = False
) -> int:
    """Delete filings left unconfirmed 7 days after their link expired; returns how many."""
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["CONFIRM_LINK_DAYS"] + 7)
    stale = (PortalRequest.confirmed_at.is_(None), PortalRequest.created_at < cutoff)
    if dry_run:
        return session.scalar(select(func.count()).select_from(PortalRequest).where(*stale)) or 0
    return rowcount(session.execute(delete(PortalRequest).where(*stale)))


def scrub_for(session: Session, person_id: int) -> None:
    """After an erasure: forget what was typed into the person's own portal filings.

    The requests themselves stay (the evidence of how each was answered), and so do their
    status links, which show only the stage.
    """
    rows = session.scalars(
        select(PortalRequest)
        .join(DataRequest, PortalRequest.request_id == DataRequest.id)
        .where(DataRequest.person_id == person_id)
    )
    for row in rows:
        row.email = row.name = row.details = row.represented_name = None
