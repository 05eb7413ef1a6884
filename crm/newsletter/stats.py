"""Subscriber counts over time, for the dashboard's chart.

A closed month's figure (active subscriptions at its end) is computed once and kept in
``subscriber_month``; only the current month is counted live. Computing a month means two
grouped passes over every subscription, which at 100,000 subscriptions cost more than the
whole dashboard may (Scale issue: p95 <= 50 ms).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.db import insert_ignoring_duplicates
from crm.db import utcnow
from crm.newsletter.models import Status
from crm.newsletter.models import SubscriberMonth
from crm.newsletter.models import Subscription

#: how many months the dashboard's chart shows, the current one included
MONTHS = 6


def month_bounds(now: datetime, months: int = MONTHS) -> tuple[list[datetime], list[datetime]]:
    """The starts and ends of the last ``months`` calendar months, the current one last."""
    index = now.year * 12 + now.month - 1
    firsts = [
        datetime(i // 12, i % 12 + 1, 1, tzinfo=now.tzinfo)
        for i in range(index - months + 1, index + 2)
    ]
    return firsts[:-1], firsts[1:]


def month_key(start: datetime) -> str:
    """The stored key of the month that begins at ``start``."""
    return f"{start:%Y-%m}"


def active_now(session: Session) -> int:
    """Active subscriptions right now (the current month's bar and the headline figure)."""
    query = select(func.count()).select_from(Subscription)
    return session.scalar(query.where(Subscription.status == Status.ACTIVE)) or 0


def _per_month(session: Session, column: Any) -> dict[tuple[int, int], int]:
    """How many confirmed subscriptions have ``column`` in each UTC (year, month).

    One grouped pass. Only confirmed subscriptions count: a sign-up that was never confirmed
    and then left was never active. SQLite keeps times as UTC ISO text, so the month is its
    first seven characters (strftime would cost six times as much); PostgreSQL formats its
    timestamps in UTC, whatever the server's time zone.
    """
    if session.get_bind().dialect.name == "sqlite":
        month = func.substr(column, 1, 7)
    else:
        month = func.to_char(func.timezone("UTC", column), "YYYY-MM")
    rows = session.execute(
        select(month, func.count())
        .where(column.is_not(None), Subscription.confirmed_at.is_not(None))
        .group_by(month)
    )
    return {(int(key[:4]), int(key[5:7])): n for key, n in rows}


def _compute(session: Session, ends: list[datetime]) -> list[int]:
    """Active subscriptions at each month end: confirmations so far minus unsubscribes so far."""
    confirmed = _per_month(session, Subscription.confirmed_at)
    left = _per_month(session, Subscription.unsubscribed_at)

    def before(counts: dict[tuple[int, int], int], end: datetime) -> int:
        return sum(n for (y, m), n in counts.items() if (y, m) < (end.year, end.month))

    return [before(confirmed, end) - before(left, end) for end in ends]


def record_closed_months(
    session: Session, starts: list[datetime], ends: list[datetime], now: datetime
) -> dict[str, int]:
    """Compute and keep the figures of the closed months among ``starts`` that lack one.

    Returns every closed month's figure by key. Two requests racing to record the same month
    both succeed (the insert ignores duplicates); the caller commits.
    """
    closed = {month_key(s): e for s, e in zip(starts, ends, strict=True) if e <= now}
    known = dict(
        session.execute(
            select(SubscriberMonth.month, SubscriberMonth.active).where(
                SubscriberMonth.month.in_(closed)
            )
        ).all()
    )
    missing = [key for key in closed if key not in known]
    if missing:
        values = _compute(session, [closed[key] for key in missing])
        for key, value in zip(missing, values, strict=True):
            insert_ignoring_duplicates(
                session,
                SubscriberMonth.__table__,
                {"month": key, "active": value, "recorded_at": utcnow()},
            )
            known[key] = value
    return known


def record_recent_months(session: Session, now: datetime | None = None) -> int:
    """Keep the figures of the chart's closed months (the nightly job); returns how many."""
    now = now or utcnow()
    return len(record_closed_months(session, *month_bounds(now), now))


def active_at_month_ends(
    session: Session,
    starts: list[datetime],
    ends: list[datetime],
    now: datetime | None = None,
    current: int | None = None,
) -> list[int]:
    """Active subscriptions at the end of each month.

    The current month's figure is ``current``, counted here when the caller has not.
    """
    closed = record_closed_months(session, starts, ends, now or utcnow())
    values = []
    for start in starts:
        key = month_key(start)
        if key in closed:
            values.append(closed[key])
            continue
        if current is None:
            current = active_now(session)
        values.append(current)
    return values
