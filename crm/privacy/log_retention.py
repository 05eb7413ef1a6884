"""Retention of the audit trail: journal access logs five years, other logs twelve months.

Why two periods in one chain: a profile A practice must keep its journal access logs at least
five years (HSLF-FS 2016:40 4 kap. 9 §, legal requirements section 5), while its other logs -
logins, settings, newsletter actions - are kept twelve months by default (Art. 5(1)(e)). The
audit trail is one keyed hash chain (crm/audit.py), so rows cannot simply be picked out:

- everything older than the longer period goes behind a keyed anchor (:func:`crm.audit.prune`),
  or, when no journal access row needs the older rows, everything older than the shorter one;
- ordinary rows between the two periods are stripped of what points at a person
  (:func:`crm.audit.redact`) and keep their place in the chain.

Either way ``crm audit verify`` still passes afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlalchemy import String
from sqlalchemy import and_
from sqlalchemy import cast
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm.audit import AuditEvent
from crm.controllers import Controller
from crm.people.models import Person
from crm.privacy.data_requests import add_months

#: audited actions that read or write a patient's journal data: the access log of
#: patientdatalagen 4 kap. 3 § (a person's page shows their journal; reveals, entries, exports)
JOURNAL_ACCESS_ACTIONS = (
    "person.view",
    "person.reveal_health_notes",
    "person.reveal_personnummer",
    "person.journal_entry",
    "privacy.export",
    "privacy.export_download",
)


@dataclass(frozen=True)
class LogPlan:
    """What the log rules do now: rows deleted behind the anchor, rows stripped."""

    prune_before: datetime
    pruned: int
    stripped_seqs: list[int]


def _journal_access() -> ColumnElement[bool]:
    """A row is journal access unless it is about a person of a profile B controller.

    A person erased since is counted as a patient: the law's minimum wins over our default.
    """
    profile_b_person = exists().where(
        and_(
            cast(Person.id, String) == AuditEvent.object_id,
            Person.controller_id == Controller.id,
            Controller.profile == "B",
        )
    )
    return and_(
        AuditEvent.action.in_(JOURNAL_ACCESS_ACTIONS),
        AuditEvent.object_type == "person",
        ~profile_b_person,
    )


def plan(session: Session, now: datetime, log_months: int, journal_log_months: int) -> LogPlan:
    """Work out the anchor's place and the rows to strip (nothing is changed)."""
    log_cutoff = add_months(now, -log_months)
    licensed = session.scalar(select(func.count()).where(Controller.profile == "A")) or 0
    prune_before = log_cutoff
    if licensed:
        journal_cutoff = min(add_months(now, -journal_log_months), log_cutoff)
        # the oldest journal access row still inside its period holds the prefix back
        oldest_kept = session.scalar(
            select(func.min(AuditEvent.occurred_at)).where(
                AuditEvent.occurred_at >= journal_cutoff,
                AuditEvent.occurred_at < log_cutoff,
                _journal_access(),
            )
        )
        if oldest_kept is not None:
            if oldest_kept.tzinfo is None:  # an aggregate may skip the column type on SQLite
                oldest_kept = oldest_kept.replace(tzinfo=UTC)
            prune_before = max(journal_cutoff, oldest_kept)
    head = session.scalar(select(func.max(AuditEvent.seq))) or 0
    pruned = (
        session.scalar(
            select(func.count()).where(AuditEvent.occurred_at < prune_before, AuditEvent.seq < head)
        )
        or 0
    )
    stripped: list[int] = []
    if prune_before < log_cutoff:
        stripped = list(
            session.scalars(
                select(AuditEvent.seq).where(
                    AuditEvent.occurred_at >= prune_before,
                    AuditEvent.occurred_at < log_cutoff,
                    AuditEvent.redacted_tag.is_(None),
                    AuditEvent.key_id.is_not(None),
                    AuditEvent.seq < head,
                    ~_journal_access(),
                )
            )
        )
    return LogPlan(prune_before, pruned, stripped)


def apply(session: Session, the_plan: LogPlan) -> tuple[int, int]:
    """Prune and strip as planned; returns (rows deleted, rows stripped).

    :raises crm.audit.ChainBroken: the chain does not verify; nothing was changed (retention
        never hides tampering behind a fresh anchor).
    """
    stripped = audit.redact(session, the_plan.stripped_seqs) if the_plan.stripped_seqs else 0
    pruned = audit.prune(session, the_plan.prune_before) if the_plan.pruned else 0
    return pruned, stripped
