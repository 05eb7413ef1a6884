"""What each retention rule selects: the queries, one per kind of record, and nothing deleted.

Why a module of its own: the rules are the legal part (what has outlived its period, what the
law or an open request still keeps) and are read and reviewed one by one; the runner
(crm/privacy/retention.py) only applies them, audits and counts. Periods come from the practice
settings (crm/privacy/practice.py) and each controller's own periods (crm/privacy/periods.py).
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import ColumnElement
from sqlalchemy import and_
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm import Session

from crm import controllers
from crm.newsletter.models import ConsentRecord
from crm.newsletter.models import Status
from crm.newsletter.models import Subscription
from crm.people.models import ClientCard
from crm.people.models import JournalEntry
from crm.people.models import Person
from crm.people.models import Purchase
from crm.people.models import Visit
from crm.privacy import breaches
from crm.privacy import periods
from crm.privacy.data_requests import add_months
from crm.privacy.models import Breach
from crm.privacy.models import DataRequest
from crm.privacy.models import LegalHold
from crm.privacy.models import RecipientTask
from crm.representatives.models import Representation
from crm.testimonials.models import Testimonial


def no_other_data(now: datetime) -> list:
    """Conditions: the person is nothing but a contact (no care, testimonial, request, hold)."""
    pid = Person.id
    return [
        ~exists().where(ClientCard.person_id == pid),
        ~exists().where(Visit.person_id == pid),
        ~exists().where(JournalEntry.person_id == pid),
        ~exists().where(Purchase.person_id == pid),
        ~exists().where(Testimonial.person_id == pid),
        ~exists().where(and_(DataRequest.person_id == pid, DataRequest.status == "open")),
        ~exists().where(and_(LegalHold.person_id == pid, LegalHold.until > now)),
        Person.restricted_at.is_(None),
        # a representative's data has its own rule (after the last mandate), a client's link
        # is part of their care
        ~exists().where(
            or_(Representation.representative_id == pid, Representation.client_id == pid)
        ),
    ]


def _last_activity(person_id_col: InstrumentedAttribute[int]) -> ColumnElement[datetime]:
    """The newest of: created, last contact, any subscription change."""
    newest_sub = (
        select(func.max(func.coalesce(Subscription.unsubscribed_at, Subscription.created_at)))
        .where(Subscription.person_id == person_id_col)
        .scalar_subquery()
    )
    return func.coalesce(newest_sub, Person.created_at)


def marketing_contacts(
    session: Session,
    now: datetime,
    months: int,
    proof_months: int = 0,
    *,
    include_active: bool = False,
) -> list[int]:
    """People known only from the newsletter, silent for ``months`` after the last contact.

    By default only people who left it; with ``include_active`` (the controller's choice,
    seed 000: "12 månader efter den senaste kontakten") those still subscribed too.
    Not while their consent records are still owed as proof (``proof_months`` after the
    last consent event, the consent-record period): deleting the person would delete the
    records with it, and consent and its withdrawal must stay provable that long (GDPR Art.
    7(1), 5(2)).
    """
    cutoff = add_months(now, -months)
    proof_cutoff = add_months(now, -proof_months)
    conditions = [
        *no_other_data(now),
        ~exists().where(
            and_(ConsentRecord.person_id == Person.id, ConsentRecord.occurred_at >= proof_cutoff)
        ),
        ~exists().where(
            and_(Subscription.person_id == Person.id, Subscription.unsubscribed_at >= proof_cutoff)
        ),
        exists().where(Subscription.person_id == Person.id),
        _last_activity(Person.id) < cutoff,
        or_(Person.last_contact_at.is_(None), Person.last_contact_at < cutoff),
    ]
    if not include_active:
        conditions.append(
            ~exists().where(
                and_(
                    Subscription.person_id == Person.id,
                    Subscription.status.in_([Status.ACTIVE, Status.PENDING]),
                )
            )
        )
    return list(session.scalars(select(Person.id).where(*conditions)))


def still_subscribed(session: Session, person_id: int) -> bool:
    """Whether the person still has an active or pending subscription (erased, not deleted)."""
    return (
        session.scalar(
            select(Subscription.id)
            .where(
                Subscription.person_id == person_id,
                Subscription.status.in_([Status.ACTIVE, Status.PENDING]),
            )
            .limit(1)
        )
        is not None
    )


def inquiries(
    session: Session, now: datetime, months: int, controller_id: int | None = None
) -> list[int]:
    """People who only got in touch (nothing else on file), after ``months``.

    With ``controller_id``, only that controller's people (each controller has its period).
    """
    cutoff = add_months(now, -months)
    stmt = select(Person.id).where(
        *no_other_data(now),
        ~exists().where(Subscription.person_id == Person.id),
        Person.created_at < cutoff,
        or_(Person.last_contact_at.is_(None), Person.last_contact_at < cutoff),
    )
    if controller_id is not None:
        stmt = stmt.where(Person.controller_id == controller_id)
    return list(session.scalars(stmt))


def inquiries_per_controller(session: Session, now: datetime) -> list[int]:
    """Inquiries past each controller's own period (crm/privacy/periods.py)."""
    found = []
    for controller in controllers.all_controllers(session):
        period = periods.get(session, controller.id, "inquiries")
        found += inquiries(session, now, period.months, controller.id)
    return found


def expired_purchases(session: Session, now: datetime) -> list[int]:
    """Purchases whose bookkeeping period ended (the controller's fiscal year, 7 years)."""
    found = []
    for controller in controllers.all_controllers(session):
        period = periods.get(session, controller.id, "bookkeeping")
        rows = session.execute(
            select(Purchase.id, Purchase.purchased_on).where(
                Purchase.controller_id == controller.id
            )
        )
        for purchase_id, day in rows:
            moment = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
            if period.end(moment) <= now:
                found.append(purchase_id)
    return found


def left_with_nothing(session: Session, now: datetime, person_ids: set[int]) -> list[int]:
    """Of these people (whose purchases just went), those nothing else keeps on file."""
    if not person_ids:
        return []
    stmt = select(Person.id).where(
        Person.id.in_(sorted(person_ids)),
        *no_other_data(now),
        ~exists().where(Subscription.person_id == Person.id),
    )
    return list(session.scalars(stmt))


def old_consent_records(session: Session, now: datetime, months: int) -> list[int]:
    """Consent records of subscriptions withdrawn more than ``months`` ago.

    The proof is no longer needed once nothing relies on the consent.
    """
    cutoff = add_months(now, -months)
    stmt = (
        select(ConsentRecord.id)
        .join(
            Subscription,
            and_(
                Subscription.person_id == ConsentRecord.person_id,
                Subscription.list_id == ConsentRecord.list_id,
            ),
        )
        .where(Subscription.status == Status.UNSUBSCRIBED, Subscription.unsubscribed_at < cutoff)
    )
    return list(session.scalars(stmt))


def not_without_asking(session: Session) -> set[int]:
    """People never deleted automatically: restricted, or with an open request.

    A restriction may be asked for instead of erasure (Art. 18(1)(b)); an open request must
    be answered about the data as it is. The owner decides on them (the dashboard).
    """
    restricted = session.scalars(select(Person.id).where(Person.restricted_at.is_not(None)))
    asking = session.scalars(
        select(DataRequest.person_id).where(
            DataRequest.status == "open", DataRequest.person_id.is_not(None)
        )
    )
    return {*restricted, *asking}


def held(session: Session, now: datetime) -> set[int]:
    """People with a running legal hold recorded by hand (a legal claim): kept, not asked."""
    return set(session.scalars(select(LegalHold.person_id).where(LegalHold.until > now).distinct()))


def closed_requests(session: Session, now: datetime, months: int) -> list[int]:
    """Requests closed (completed or refused) more than ``months`` ago.

    Kept that long as evidence of how each was answered; then they go, as the privacy notice
    says. Open requests are never deleted.
    """
    cutoff = add_months(now, -months)
    return list(
        session.scalars(
            select(DataRequest.id).where(
                DataRequest.status != "open", DataRequest.completed_at < cutoff
            )
        )
    )


def old_breaches(session: Session, now: datetime, months: int) -> list[int]:
    """Breach entries discovered more than ``months`` ago with nothing left owed on them."""
    cutoff = add_months(now, -months)
    settled = ~breaches.OWED
    return list(session.scalars(select(Breach.id).where(Breach.discovered_at < cutoff, settled)))


def old_recipient_tasks(session: Session, now: datetime, months: int) -> list[int]:
    """Recipient tasks ticked off more than ``months`` ago (kept as long as the requests).

    Evidence that a recipient was told, kept as long as the request it answered; a task not
    yet ticked off is never deleted.
    """
    cutoff = add_months(now, -months)
    return list(
        session.scalars(
            select(RecipientTask.id).where(
                RecipientTask.done_at.is_not(None), RecipientTask.done_at < cutoff
            )
        )
    )


#: an uploaded CSV kept between preview and import; one left longer was abandoned
IMPORT_PREVIEW_HOURS = 24


def stale_import_previews(now: datetime) -> list[Path]:
    """Uploaded import files (encrypted, but full of addresses) whose preview was abandoned."""
    folder = Path(current_app.instance_path) / "imports"
    if not folder.is_dir():
        return []
    cutoff = (now - timedelta(hours=IMPORT_PREVIEW_HOURS)).timestamp()
    return [path for path in folder.iterdir() if path.is_file() and path.stat().st_mtime < cutoff]
