"""The retention runner: deletes what outlived its period, lists what needs judgement.

Each rule (crm/privacy/retention_rules.py) selects candidates; the runner deletes them unless it
is a dry run, and fills the report ``crm retention [--dry-run]`` prints. Every deletion is
audited with the rule and the row id, never a name or an address. Periods come from the
practice settings (crm/privacy/practice.py), whose minimums follow the law.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm import controllers
from crm.audit import Actor
from crm.db import delete_file_after_commit
from crm.db import utcnow
from crm.newsletter import retention as newsletter_retention
from crm.newsletter.models import ConsentRecord
from crm.people.models import JournalEntry
from crm.people.models import Person
from crm.people.models import Purchase
from crm.privacy import client_retention
from crm.privacy import erasure
from crm.privacy import log_retention
from crm.privacy import periods
from crm.privacy import portal
from crm.privacy import practice
from crm.privacy import retention_rules as rules
from crm.privacy.models import Breach
from crm.privacy.models import DataRequest
from crm.privacy.models import RecipientTask
from crm.representatives import services as representatives
from crm.representatives.models import Representation
from crm.security import ratelimit
from crm.testimonials import services as testimonials
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


def decisions(session: Session, now: datetime | None = None) -> list[Decision]:
    """Journals past their hold, and clients past their period (not deleted automatically).

    See crm/privacy/client_retention.py for what counts as a client's last activity.
    """
    now = now or utcnow()
    out = []
    held = rules.held(session, now)
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
    asking = rules.not_without_asking(session)
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


def _delete_rows(session: Session, model: type[Any], ids: list[int], rule: str) -> None:
    """Delete rows by id, audited with the rule and the count only."""
    if ids:
        session.execute(delete(model).where(model.id.in_(ids)))
        audit.record(
            session, Actor.system(), "retention.delete", details={"rule": rule, "rows": len(ids)}
        )


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
    silent = rules.marketing_contacts(
        session, now, marketing.months, proof.months, include_active=marketing.include_active
    )
    subscribed = [pid for pid in silent if rules.still_subscribed(session, pid)]
    report.deleted["marketing_contacts"] = len(silent)
    report.deleted["inquiries"] = len(
        found_inquiries := rules.inquiries_per_controller(session, now)
    )
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
            rules.old_consent_records(session, now, proof.months),
        ),
        ("requests", DataRequest, rules.closed_requests(session, now, months)),
        ("breaches", Breach, rules.old_breaches(session, now, months)),
        ("recipient_tasks", RecipientTask, rules.old_recipient_tasks(session, now, months)),
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
    previews = rules.stale_import_previews(now)
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
    held = rules.held(session, now) | rules.not_without_asking(session)
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
    ids = rules.expired_purchases(session, now)
    report.deleted["bookkeeping"] = len(ids)
    if dry_run or not ids:
        return
    buyers = set(session.scalars(select(Purchase.person_id).where(Purchase.id.in_(ids)).distinct()))
    _delete_rows(session, Purchase, ids, "bookkeeping")
    session.flush()
    _delete_people(session, rules.left_with_nothing(session, now, buyers), "bookkeeping")
