"""The retention engine: what has outlived its period is deleted; what needs judgement is listed.

Each rule selects candidates with a query and deletes them unless it is a dry run. Every
deletion is audited with the rule and the row id, never a name or an address. Periods come
from the practice settings (crm/privacy/practice.py), whose minimums follow the law.
"""

from __future__ import annotations

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
from crm.people.models import Purchase
from crm.people.models import Visit
from crm.privacy import breaches
from crm.privacy import client_retention
from crm.privacy import erasure
from crm.privacy import log_retention
from crm.privacy import periods
from crm.privacy import portal
from crm.privacy import practice
from crm.privacy.data_requests import add_months
from crm.privacy.models import Breach
from crm.privacy.models import DataRequest
from crm.privacy.models import LegalHold
from crm.privacy.models import RecipientTask
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
    #: audit rows stripped of personal data but kept in the chain (crm/privacy/log_retention.py)
    stripped: int = 0
    #: each rule's period in words (no personal data), for ``crm retention --dry-run``
    periods: dict[str, str] = field(default_factory=dict)


def _no_other_data(now: datetime) -> list:
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
        *_no_other_data(now),
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


def _still_subscribed(session: Session, person_id: int) -> bool:
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
        *_no_other_data(now),
        ~exists().where(Subscription.person_id == Person.id),
        Person.created_at < cutoff,
        or_(Person.last_contact_at.is_(None), Person.last_contact_at < cutoff),
    )
    if controller_id is not None:
        stmt = stmt.where(Person.controller_id == controller_id)
    return list(session.scalars(stmt))


def _inquiries_per_controller(session: Session, now: datetime) -> list[int]:
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
        *_no_other_data(now),
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


def _not_without_asking(session: Session) -> set[int]:
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


def _held(session: Session, now: datetime) -> set[int]:
    """People with a running legal hold recorded by hand (a legal claim): kept, not asked."""
    return set(session.scalars(select(LegalHold.person_id).where(LegalHold.until > now).distinct()))


def decisions(session: Session, now: datetime | None = None) -> list[Decision]:
    """Journals past their hold, and clients past their period (not deleted automatically).

    See crm/privacy/client_retention.py for what counts as a client's last activity.
    """
    now = now or utcnow()
    out = []
    held = _held(session, now)
    newest = (
        select(JournalEntry.person_id, Person.controller_id, func.max(JournalEntry.written_at))
        .join(Person, Person.id == JournalEntry.person_id)
        .group_by(JournalEntry.person_id, Person.controller_id)
    )
    for person_id, controller_id, written in session.execute(newest):
        if written.tzinfo is None:  # an aggregate skips the column type's processing
            written = written.replace(tzinfo=UTC)
        end = periods.get(session, controller_id, "journal").end(written)
        if end <= now:
            out.append(Decision(person_id, "journal", end))
    asking = _not_without_asking(session)
    for client in client_retention.inactive(session, now):
        if client.person_id in held:
            continue  # kept for a recorded legal claim
        if not client.automatic or client.person_id in asking:
            out.append(Decision(client.person_id, "client_card", client.since))
    return out


def _erase_by_rule(session: Session, person_ids: list[int], rule: str) -> int:
    """Erase people through the erasure engine: holds keep what the law keeps.

    Providers are told, as on request. One that cannot be erased yet (a manual publication
    still up) is left for the next run.
    """
    count = 0
    for person_id in person_ids:
        person = session.get(Person, person_id)
        if person is None:
            continue
        try:
            with session.begin_nested():
                erasure.execute(session, person, Actor.system(), via=f"retention:{rule}")
        except erasure.ErasureBlocked:
            continue
        count += 1
    return count


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
    newsletter_controller = controllers.newsletter_id(session.connection())
    marketing = periods.get(session, newsletter_controller, "marketing_contacts")
    proof = periods.get(session, newsletter_controller, "consent_records")
    report.periods["marketing_contacts"] = marketing.describe()
    report.periods["inquiries"] = _describe_per_controller(session, "inquiries")
    silent = marketing_contacts(
        session, now, marketing.months, proof.months, include_active=marketing.include_active
    )
    subscribed = [pid for pid in silent if _still_subscribed(session, pid)]
    report.deleted["marketing_contacts"] = len(silent)
    report.deleted["inquiries"] = len(found_inquiries := _inquiries_per_controller(session, now))
    if not dry_run:
        _erase_by_rule(session, subscribed, "marketing_contacts")
        _delete_people(
            session, [pid for pid in silent if pid not in subscribed], "marketing_contacts"
        )
        _delete_people(session, found_inquiries, "inquiries")
    months = row.retention_months("requests")
    report.periods["consent_records"] = proof.describe()
    for rule, model, ids in (
        (
            "consent_records",
            ConsentRecord,
            old_consent_records(session, now, proof.months),
        ),
        ("requests", DataRequest, closed_requests(session, now, months)),
        ("breaches", Breach, old_breaches(session, now, months)),
        ("recipient_tasks", RecipientTask, old_recipient_tasks(session, now, months)),
    ):
        report.deleted[rule] = len(ids)
        if not dry_run:
            _delete_rows(session, model, ids, rule)
    for rule in ("requests", "breaches", "recipient_tasks"):
        report.periods[rule] = f"{months} months after closing"
    _client_cards(session, now, report, dry_run)
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
        # before the bookkeeping rule: an erased person's hold is read from their purchases
        report.deleted["ended_holds"] = erasure.purge_expired_holds(session, now)
        ratelimit.purge(session, timedelta(days=2), now)
    _bookkeeping(session, now, report, dry_run)
    # after the rules above: files they queue are not orphans yet (their rows are updated)
    report.deleted["orphan_media_files"] = testimonials.purge_orphan_files(session, now, dry_run)
    logs = log_retention.plan(
        session,
        now,
        periods.longest(session, "audit_log").months,
        periods.longest(session, "journal_access_log").months,
    )
    report.periods["audit_log"] = periods.longest(session, "audit_log").describe()
    report.periods["audit_log_stripped"] = (
        "journal access logs " + periods.longest(session, "journal_access_log").describe()
    )
    if dry_run:
        report.deleted["audit_log"], report.stripped = logs.pruned, len(logs.stripped_seqs)
    else:
        report.deleted["audit_log"], report.stripped = log_retention.apply(session, logs)
    report.decisions = decisions(session, now)
    return report


def _describe_per_controller(session: Session, kind: str) -> str:
    texts = sorted(
        {periods.get(session, c.id, kind).describe() for c in controllers.all_controllers(session)}
    )
    return "; ".join(texts)


def _client_cards(session: Session, now: datetime, report: RetentionReport, dry_run: bool) -> None:
    """Clients past their period whose controller chose automatic deletion are erased."""
    report.periods["client_cards"] = _describe_per_controller(session, "client_card")
    held = _held(session, now) | _not_without_asking(session)
    due = [
        c.person_id
        for c in client_retention.inactive(session, now)
        if c.automatic and c.person_id not in held
    ]
    report.deleted["client_cards"] = (
        len(due) if dry_run else _erase_by_rule(session, due, "client_cards")
    )


def _bookkeeping(session: Session, now: datetime, report: RetentionReport, dry_run: bool) -> None:
    """Purchases past the bookkeeping period go; so does a person nothing else keeps."""
    report.periods["bookkeeping"] = _describe_per_controller(session, "bookkeeping")
    ids = expired_purchases(session, now)
    report.deleted["bookkeeping"] = len(ids)
    if dry_run or not ids:
        return
    buyers = set(session.scalars(select(Purchase.person_id).where(Purchase.id.in_(ids)).distinct()))
    _delete_rows(session, Purchase, ids, "bookkeeping")
    session.flush()
    _delete_people(session, left_with_nothing(session, now, buyers), "bookkeeping")
