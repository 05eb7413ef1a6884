"""Retention periods per controller, stored as data (one row per controller and record kind).

Why per controller: the five seed practices promise different periods for the same kind of
record - Kraftkällan (seed 003) clears "gamla kunder" two years after the last visit, the coach
(seed 004) keeps client data "högst 5 år, räknat från utgången av det år avtalet upphör" - and
one installation may hold two controllers (seed 000). A practice file (``crm practice load``)
sets them with :func:`set_period`; a kind without a row uses the installation's period from the
practice settings, whose minimums follow the law (crm/privacy/practice_catalogue.py).

The keys, for practice files: ``kind`` is one of
:data:`crm.privacy.practice_catalogue.RETENTION_RULES`
(journal, journal_access_log, client_card, bookkeeping, consent_records, marketing_contacts,
inquiries, requests, audit_log); each row has ``months``, ``from_year_end`` (count from the end
of the (fiscal) year in which the period starts), ``year_start_month`` (1 = calendar year; the
fiscal year's first month for bookkeeping), ``automatic`` (client_card: delete without asking
instead of a dashboard decision) and ``include_active`` (marketing_contacts: the period also
ends subscriptions still active, "whether or not the person unsubscribed", seed 000).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import Boolean
from sqlalchemy import CheckConstraint
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from crm import audit
from crm import controllers
from crm.audit import Actor
from crm.db import Base
from crm.i18n import N_
from crm.privacy import practice
from crm.privacy.data_requests import add_months
from crm.privacy.practice import SettingsError
from crm.privacy.practice_catalogue import RETENTION_RULES

#: kinds whose period the law counts from the end of the fiscal year (bokföringslagen 7 kap. 2 §)
YEAR_END_BY_LAW = frozenset({"bookkeeping"})


class RetentionPeriod(Base):
    """One controller's period for one record kind (see the module docstring for the keys)."""

    __tablename__ = "retention_period"

    id: Mapped[int] = mapped_column(primary_key=True)
    controller_id: Mapped[int] = mapped_column(
        ForeignKey("controller.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    months: Mapped[int] = mapped_column(Integer)
    from_year_end: Mapped[bool] = mapped_column(Boolean, default=False)
    year_start_month: Mapped[int] = mapped_column(Integer, default=1)
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    include_active: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        UniqueConstraint("controller_id", "kind", name="uq_retention_period_controller_kind"),
        CheckConstraint("months >= 0 and months <= 1200", name="months_in_range"),
        CheckConstraint("year_start_month between 1 and 12", name="known_month"),
    )


@dataclass(frozen=True)
class Period:
    """A period as the rules use it."""

    kind: str
    months: int
    from_year_end: bool = False
    year_start_month: int = 1
    automatic: bool = False
    include_active: bool = False

    def start_of_count(self, start: datetime) -> datetime:
        """Where the months start: ``start`` itself, or the end of its (fiscal) year."""
        if not self.from_year_end:
            return start
        year = start.year if start.month >= self.year_start_month else start.year - 1
        # the first instant of the next (fiscal) year = the end of this one
        return start.replace(
            year=year + 1, month=self.year_start_month, day=1, hour=0, minute=0, second=0,
            microsecond=0,
        )  # fmt: skip

    def end(self, start: datetime) -> datetime:
        """When something that started (or was last active) at ``start`` has outlived it."""
        return add_months(self.start_of_count(start), self.months)

    def describe(self) -> str:
        """A short English description for ``crm retention --dry-run`` (no personal data)."""
        text = f"{self.months} months"
        if self.from_year_end:
            text += " from the end of the year" if self.year_start_month == 1 else (
                f" from the end of the fiscal year starting in month {self.year_start_month}"
            )  # fmt: skip
        if self.automatic:
            text += ", automatic"
        if self.include_active:
            text += ", active subscriptions too"
        return text


def _default(session: Session, kind: str) -> Period:
    row = practice.load(session, current_app.config["PRACTICE_NAME"])
    return Period(kind, row.retention_months(kind), from_year_end=kind in YEAR_END_BY_LAW)


def get(session: Session, controller_id: int | None, kind: str) -> Period:
    """The controller's period for ``kind`` (the installation's when it set none)."""
    row = None
    if controller_id is not None:
        row = session.scalar(
            select(RetentionPeriod).where(
                RetentionPeriod.controller_id == controller_id, RetentionPeriod.kind == kind
            )
        )
    if row is None:
        return _default(session, kind)
    return Period(
        kind,
        row.months,
        row.from_year_end or kind in YEAR_END_BY_LAW,
        row.year_start_month,
        row.automatic,
        row.include_active,
    )


def longest(session: Session, kind: str) -> Period:
    """The longest period any controller keeps ``kind``, for what the installation shares.

    Such as the one audit trail: a shorter promise cannot cut a longer duty short.
    """
    found = [get(session, c.id, kind) for c in controllers.all_controllers(session)]
    return max(found, key=lambda p: p.months)


def set_period(
    session: Session,
    controller_id: int,
    kind: str,
    months: int,
    *,
    from_year_end: bool = False,
    year_start_month: int = 1,
    automatic: bool = False,
    include_active: bool = False,
    actor: Actor,
) -> RetentionPeriod:
    """Store a controller's period for ``kind``, refusing one shorter than the law's minimum.

    :raises SettingsError: an unknown kind, a period out of range or below the minimum.
    """
    rule = next((r for r in RETENTION_RULES if r.kind == kind), None)
    if rule is None:
        raise SettingsError(N_("Unknown record kind %(kind)s."), kind=kind)
    if months < rule.minimum_months:
        raise SettingsError(
            N_("%(kind)s cannot be shorter than %(months)s months: %(reason)s."),
            kind=rule.label,
            months=rule.minimum_months,
            reason=rule.minimum_reason,
        )
    if months < 0 or months > 1200:
        raise SettingsError(N_("Enter a number of months between 0 and 1200."))
    if not 1 <= year_start_month <= 12:
        raise SettingsError(N_("The year must start in a month from 1 to 12."))
    row = session.scalar(
        select(RetentionPeriod).where(
            RetentionPeriod.controller_id == controller_id, RetentionPeriod.kind == kind
        )
    )
    if row is None:
        row = RetentionPeriod(controller_id=controller_id, kind=kind)
        session.add(row)
    row.months, row.year_start_month = months, year_start_month
    row.from_year_end = from_year_end or kind in YEAR_END_BY_LAW
    row.automatic, row.include_active = automatic, include_active
    session.flush()
    audit.record(
        session,
        actor,
        "privacy.retention_period",
        object_type="controller",
        object_id=controller_id,
        details={"kind": kind, "months": months},
    )
    return row
