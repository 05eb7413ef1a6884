"""The retention engine: what has outlived its period is deleted; what needs judgement is listed.

Each rule selects candidates with a query and deletes them unless it is a dry run. Every
deletion is audited with the rule and the row id, never a name or an address. Periods come
from the practice settings (crm/privacy/settings.py), whose minimums follow the law.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement
from sqlalchemy import and_
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm import Session

from crm import audit
from crm import controllers
from crm.audit import Actor
from crm.db import delete_file_after_commit
from crm.db import utcnow
from crm.newsletter import retention as newsletter_retention
from crm.newsletter.models import ConsentRecord
from crm.newsletter.models import Status
from crm.newsletter.models import Subscription
from crm.people.models import ClientCard
from crm.people.models import JournalEntry
from crm.people.models import Person
from crm.people.models import Visit
from crm.privacy import breaches
from crm.privacy import erasure
from crm.privacy import portal
from crm.privacy import settings as practice
from crm.privacy.models import Breach
from crm.privacy.models import DataRequest
from crm.privacy.models import LegalHold
from crm.privacy.models import RecipientTask
from crm.privacy.requests import add_months
from crm.representatives import services as representatives
from crm.representatives.models import Representation
from crm.security import ratelimit
from crm.testimonials import services as testimonials
from crm.testimonials.models import Testimonial
from crm.testimonials.models import TestimonialMedia


@dataclass(frozen=True)
class Decision:
    """Something whose period ended but that the owner must decide on (a journal, a client)."""

    person_id: int
    reason: str
    since: datetime


@dataclass
class RetentionReport:
    """Counts per rule, and the decisions for the dashboard."""

    deleted: dict[str, int] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)


def _no_other_data(now: datetime) -> list:
    """Conditions: the person is nothing but a contact (no care, testimonial, request, hold)."""
    pid = Person.id
    return [
        ~exists().where(ClientCard.person_id == pid),
        ~exists().where(Visit.person_id == pid),
        ~exists().where(JournalEntry.person_id == pid),
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
    session: Session, now: datetime, months: int, proof_months: int = 0
) -> list[int]:
    """People known only from a newsletter they left, silent for ``months``.

    Not while their consent records are still owed as proof (``proof_months`` after the
    withdrawal, the consent-record period): deleting the person would delete the records
    with it, and a withdrawal must stay provable for that long (GDPR Art. 7(1), 5(2)).
    """
    cutoff = add_months(now, -months)
    proof_cutoff = add_months(now, -proof_months)
    stmt = select(Person.id).where(
        *_no_other_data(now),
        ~exists().where(
            and_(ConsentRecord.person_id == Person.id, ConsentRecord.occurred_at >= proof_cutoff)
        ),
        ~exists().where(
            and_(Subscription.person_id == Person.id, Subscription.unsubscribed_at >= proof_cutoff)
        ),
        exists().where(Subscription.person_id == Person.id),
        ~exists().where(
            and_(
                Subscription.person_id == Person.id,
                Subscription.status.in_([Status.ACTIVE, Status.PENDING]),
            )
        ),
        _last_activity(Person.id) < cutoff,
        or_(Person.last_contact_at.is_(None), Person.last_contact_at < cutoff),
    )
    return list(session.scalars(stmt))


def inquiries(session: Session, now: datetime, months: int) -> list[int]:
    """People who only got in touch (nothing else on file), after ``months``."""
    cutoff = add_months(now, -months)
    stmt = select(Person.id).where(
        *_no_other_data(now),
        ~exists().where(Subscription.person_id == Person.id),
        Person.created_at < cutoff,
        or_(Person.last_contact_at.is_(None), Person.last_contact_at < cutoff),
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


def decisions(session: Session, now: datetime | None = None) -> list[Decision]:
    """Journals past their ten-year hold and profile B clients past their period."""
    now = now or utcnow()
    row = practice.load(session, current_app.config["PRACTICE_NAME"])
    out = []
    newest = select(JournalEntry.person_id, func.max(JournalEntry.written_at)).group_by(
        JournalEntry.person_id
    )
    for person_id, written in session.execute(newest):
        if written.tzinfo is None:  # an aggregate skips the column type's processing
            written = written.replace(tzinfo=UTC)
        end = add_months(written, row.retention_months("journal"))
        if end <= now:
            out.append(Decision(person_id, "journal", end))
    licensed = {c.id for c in controllers.all_controllers(session) if c.profile == "A"}
    months = row.retention_months("client_card")
    # profile B only: a licensed controller's client card follows its journal
    for card in session.scalars(
        select(ClientCard).where(
            ClientCard.client_until.is_not(None), ClientCard.controller_id.not_in(licensed)
        )
    ):
        if card.client_until is None:  # filtered above; tells the type checker
            continue
        end = add_months(
            datetime.combine(card.client_until, datetime.min.time(), tzinfo=now.tzinfo), months
        )
        if end <= now:
            out.append(Decision(card.person_id, "client_card", end))
    return out


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


def _delete_rows(session: Session, model: type[Any], ids: list[int], rule: str) -> None:
    """Delete rows by id, audited with the rule and the count only."""
    if ids:
        session.execute(delete(model).where(model.id.in_(ids)))
        audit.record(
            session, Actor.system(), "retention.delete", details={"rule": rule, "rows": len(ids)}
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


def _delete_people(session: Session, ids: list[int], rule: str) -> None:
    for person_id in ids:
        person = session.get(Person, person_id)
        if person is not None:
            session.delete(person)
            audit.record(
                session,
                Actor.system(),
                "retention.delete",
                object_type="person",
                object_id=person_id,
                details={"rule": rule},
            )


def run(session: Session, *, now: datetime | None = None, dry_run: bool = False) -> RetentionReport:
    """Apply every rule (or, with ``dry_run``, only count); the caller commits."""
    now = now or utcnow()
    row = practice.load(session, current_app.config["PRACTICE_NAME"])
    report = RetentionReport()
    people_rules: list[tuple[str, Callable[[], list[int]]]] = [
        (
            "marketing_contacts",
            lambda: marketing_contacts(
                session,
                now,
                row.retention_months("marketing_contacts"),
                row.retention_months("consent_records"),
            ),
        ),
        ("inquiries", lambda: inquiries(session, now, row.retention_months("inquiries"))),
    ]
    for rule, select_ids in people_rules:
        ids = select_ids()
        report.deleted[rule] = len(ids)
        if not dry_run:
            _delete_people(session, ids, rule)
    months = row.retention_months("requests")
    for rule, model, ids in (
        (
            "consent_records",
            ConsentRecord,
            old_consent_records(session, now, row.retention_months("consent_records")),
        ),
        ("requests", DataRequest, closed_requests(session, now, months)),
        ("breaches", Breach, old_breaches(session, now, months)),
        ("recipient_tasks", RecipientTask, old_recipient_tasks(session, now, months)),
    ):
        report.deleted[rule] = len(ids)
        if not dry_run:
            _delete_rows(session, model, ids, rule)
    links, representatives_ids = representatives.ended(session, now.date())
    report.deleted["representatives"] = len(representatives_ids)
    if not dry_run:
        _delete_rows(session, Representation, links, "representatives")
        session.flush()
        for person_id in representatives_ids:
            representatives.remove_if_only_representative(session, person_id, Actor.system())
    previews = stale_import_previews(now)
    report.deleted["import_previews"] = len(previews)
    if not dry_run:
        for path in previews:
            delete_file_after_commit(session, path)
    report.deleted["unconfirmed_signups"] = newsletter_retention.purge_unconfirmed(
        session, now, dry_run=dry_run
    )
    report.deleted["unconfirmed_portal_requests"] = portal.purge_unconfirmed(
        session, now, dry_run=dry_run
    )
    if dry_run:
        report.deleted["testimonial_media"] = (
            session.scalar(
                select(func.count()).where(
                    TestimonialMedia.deleted_at.is_(None), TestimonialMedia.delete_after <= now
                )
            )
            or 0
        )
    else:
        report.deleted["testimonial_media"] = testimonials.purge_due_media(session, now)
        report.deleted["ended_holds"] = erasure.purge_expired_holds(session, now)
        ratelimit.purge(session, timedelta(days=2), now)
    # after the rules above: files they queue are not orphans yet (their rows are updated)
    report.deleted["orphan_media_files"] = testimonials.purge_orphan_files(session, now, dry_run)
    report.decisions = decisions(session, now)
    return report
