"""The owner's view of subscribers.

The filtered list, counts per status, a person's consent timeline and the CSV export.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import union
from sqlalchemy.orm import Session
from sqlalchemy.orm import joinedload

from crm import paging
from crm.i18n import N_
from crm.newsletter.models import ConsentRecord
from crm.newsletter.models import MailingList
from crm.newsletter.models import Subscription
from crm.people.models import Person


@dataclass
class SubscriberFilter:
    """Filters of the owner's subscriber list."""

    status: str = ""
    list_id: int | None = None
    source: str = ""
    query: str = ""


def _filtered(f: SubscriberFilter) -> Any:
    stmt = select(Subscription).join(Person, Person.id == Subscription.person_id)
    if f.status:
        stmt = stmt.where(Subscription.status == f.status)
    if f.list_id:
        stmt = stmt.where(Subscription.list_id == f.list_id)
    if f.source:
        stmt = stmt.where(Subscription.source == f.source)
    if f.query.strip():
        key = f.query.strip().lower()
        # One indexed range per column, united: an OR across columns would scan every row.
        matches = union(
            *[
                select(Person.id).where(col >= key, col < key + "\U0010ffff")
                for col in (Person.email, Person.name_key, Person.surname_key)
            ]
        )
        stmt = stmt.where(Subscription.person_id.in_(select(matches.subquery().c.id)))

    return stmt


#: how the subscribers can be ordered (the first is the default)
SORTS = paging.options(
    ("-created", N_("Newest first"), [Subscription.created_at], True),
    ("email", N_("Email"), [Person.email], False),
    ("status", N_("Status"), [Subscription.status], False),
    ("created", N_("Oldest first"), [Subscription.created_at], False),
)


def subscribers(
    session: Session,
    f: SubscriberFilter,
    pager: paging.Pager,
    counts: dict[str, int] | None = None,
) -> tuple[list[Subscription], paging.Pager]:
    """Return one page of subscriptions matching ``f`` and the pager with their total.

    ``counts`` (from :func:`status_counts` for ``f.list_id``), when the page has them
    anyway, give the total of an unsearched list without counting every row again.
    """
    stmt = _filtered(f)
    if counts is not None and not f.query.strip() and not f.source:
        total = counts.get(f.status, 0) if f.status else sum(counts.values())
    elif f.query.strip():
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    else:  # no search: count the subscriptions alone, without the join
        count = select(func.count()).select_from(Subscription)
        if stmt.whereclause is not None:
            count = count.where(stmt.whereclause)
        total = session.scalar(count) or 0
    pager = pager.with_total(total)
    stmt = stmt.options(joinedload(Subscription.person), joinedload(Subscription.mailing_list))
    rows = session.scalars(pager.window(pager.order(stmt, Subscription.id))).all()
    return list(rows), pager


def status_counts(session: Session, list_id: int | None = None) -> dict[str, int]:
    """Return how many subscriptions have each status.

    Grouped by list and status, the order of ``ix_subscription_list_status``, so the database
    walks that index instead of sorting every subscription (24 -> 8 ms at 100,000 on SQLite).
    """
    stmt = select(Subscription.status, func.count()).group_by(
        Subscription.list_id, Subscription.status
    )
    if list_id:
        stmt = stmt.where(Subscription.list_id == list_id)
    counts: dict[str, int] = {}
    for status, n in session.execute(stmt):
        counts[status] = counts.get(status, 0) + n
    return counts


def timeline(session: Session, person_id: int) -> list[ConsentRecord]:
    """Return a person's consent records, oldest first."""
    stmt = (
        select(ConsentRecord)
        .where(ConsentRecord.person_id == person_id)
        .order_by(ConsentRecord.occurred_at, ConsentRecord.id)
    )
    return list(session.scalars(stmt))


EXPORT_COLUMNS = (
    "email",
    "name",
    "list",
    "status",
    "source",
    "legal_basis",
    "subscribed_at",
    "confirmed_at",
    "unsubscribed_at",
)


def export_rows(session: Session, f: SubscriberFilter) -> Iterator[tuple[str, ...]]:
    """Yield subscriber rows for CSV, streaming from the database in batches."""
    stmt = (
        select(
            Person.email,
            Person.name,
            MailingList.name,
            Subscription.status,
            Subscription.source,
            Subscription.legal_basis,
            Subscription.created_at,
            Subscription.confirmed_at,
            Subscription.unsubscribed_at,
        )
        .select_from(Subscription)
        .join(Person, Person.id == Subscription.person_id)
        .join(MailingList, MailingList.id == Subscription.list_id)
        .order_by(Subscription.id)
    )
    sub_filter = _filtered(f).whereclause
    if sub_filter is not None:
        stmt = stmt.where(sub_filter)
    for row in session.execute(stmt.execution_options(yield_per=2000)):
        yield tuple(
            "" if v is None else v.isoformat() if isinstance(v, datetime) else str(v) for v in row
        )
