"""Figures on the owner pages: the subscriber chart (closed months kept) and list totals."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from crm.db import get_session
from crm.db import utcnow
from crm.newsletter import stats
from crm.newsletter.models import MailingList
from crm.newsletter.models import SubscriberMonth
from crm.newsletter.models import Subscription
from crm.people.models import Person


def _chart(page: str) -> list[int]:
    """The points of the subscriber line (the first chart on the page), oldest first."""
    svg = page[page.index('<section class="card chart-card" id="chart-1">') :]
    svg = svg[: svg.index("</svg>")]
    return [int(n) for n in re.findall(r"<title>\d{4}-\d\d: (\d+)</title>", svg)]


def _seed(db) -> None:
    """Five people over the chart's six months.

    A confirmed in month 1; B confirmed in month 2 and gone in month 4; C in month 4; D at
    the start of the current month; E pending and F gone before confirming (never counted).
    """
    starts, _ends = stats.month_bounds(utcnow())
    day = timedelta(days=1)
    with db() as s:
        mailing_list = MailingList(name="Nyhetsbrev", is_default=True)
        s.add(mailing_list)
        rows = [
            ("a", starts[0] + day, None, "active"),
            ("b", starts[1] + day, starts[3] + day, "unsubscribed"),
            ("c", starts[3] + day, None, "active"),
            ("d", starts[5], None, "active"),
            ("e", None, None, "pending"),
            ("f", None, starts[2] + day, "unsubscribed"),  # never confirmed: never active
        ]
        for name, confirmed, left, status in rows:
            person = Person(name=name, email=f"{name}@example.se")
            s.add(
                Subscription(
                    person=person,
                    mailing_list=mailing_list,
                    source="form",
                    status=status,
                    confirmed_at=confirmed,
                    unsubscribed_at=left,
                )
            )
        s.commit()


def test_closed_months_are_kept_and_the_current_month_is_live(auth_client, db):
    _seed(db)
    page = auth_client.get("/").get_data(as_text=True)
    assert _chart(page) == [0] * 6 + [1, 2, 2, 2, 2, 3]  # twelve months, the line
    assert "Ingen synkronisering har körts än." in page  # an empty chart says why
    with db() as s:
        kept = dict(s.execute(select(SubscriberMonth.month, SubscriberMonth.active)).all())
        starts, _ends = stats.month_bounds(utcnow(), 12)
        closed = [0] * 6 + [1, 2, 2, 2, 2]
        assert kept == {stats.month_key(m): n for m, n in zip(starts[:11], closed, strict=True)}
        # person "a" is erased: the months already closed stay as they were, today drops
        a = s.scalar(select(Person).where(Person.email == "a@example.se"))
        s.execute(delete(Subscription).where(Subscription.person_id == a.id))
        s.commit()
    assert _chart(auth_client.get("/").get_data(as_text=True)) == [0] * 6 + [1, 2, 2, 2, 2, 2]


def test_the_nightly_figures_are_recorded_once(app, db):
    _seed(db)
    with db() as s:
        assert stats.record_recent_months(s) == 5
        s.commit()
        assert stats.record_recent_months(s) == 5
        s.commit()
        assert s.scalar(select(func.count()).select_from(SubscriberMonth)) == 5


def test_two_views_racing_to_record_a_month_both_succeed(app, db, monkeypatch):
    _seed(db)
    real_compute = stats._compute

    def compute_while_another_worker_records(session, ends):
        values = real_compute(session, ends)
        monkeypatch.setattr(stats, "_compute", real_compute)
        with app.app_context():  # the other worker: its own session, commits first
            other = get_session()
            stats.record_recent_months(other)
            other.commit()
        return values

    monkeypatch.setattr(stats, "_compute", compute_while_another_worker_records)
    with db() as s:
        assert stats.record_recent_months(s) == 5
        s.commit()
        assert s.scalar(select(func.count()).select_from(SubscriberMonth)) == 5


def test_month_bounds_cross_the_new_year():
    starts, ends = stats.month_bounds(datetime(2027, 2, 14, 9, tzinfo=UTC))
    assert [f"{d:%Y-%m}" for d in starts] == [
        "2026-09",
        "2026-10",
        "2026-11",
        "2026-12",
        "2027-01",
        "2027-02",
    ]
    assert ends[-1] == datetime(2027, 3, 1, tzinfo=UTC) and ends[:-1] == starts[1:]


def test_subscriber_totals_from_the_status_counts_match_a_real_count(auth_client, db):
    """The subscriber list takes its total from the per-status counts when it can."""
    _seed(db)
    with db() as s:
        other = MailingList(name="Kurser")
        s.add(other)
        person = s.scalar(select(Person).where(Person.email == "c@example.se"))
        s.add(Subscription(person=person, mailing_list=other, source="form", status="active"))
        s.commit()
        lists = {m.name: m.id for m in s.scalars(select(MailingList))}
    cases = {
        "": 7,
        "?status=active": 4,
        "?status=pending": 1,
        "?status=bounced": 0,
        f"?list={lists['Kurser']}": 1,
        f"?list={lists['Nyhetsbrev']}&status=active": 3,
        "?source=form&status=active": 4,
        "?q=c": 2,
    }
    for args, expected in cases.items():
        page = auth_client.get(f"/newsletter/{args}").get_data(as_text=True)
        shown = re.search(r"Visar \d+–\d+ av (\d+)", page)
        total = int(shown.group(1)) if shown else 0
        assert total == expected and (shown or "Inget att visa" in page), args


def test_months_are_utc_months_whatever_the_database_time_zone(app, db):
    """A confirmation at 23:30 UTC on a month's last day belongs to that month.

    Even when PostgreSQL's session time zone is already in the next one.
    """
    with db() as s:
        if s.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite stores UTC text and has no session time zone")
        starts, ends = stats.month_bounds(utcnow())
        mailing_list = MailingList(name="Nyhetsbrev", is_default=True)
        late = ends[2] - timedelta(minutes=30)  # 23:30 UTC, last day of month 3
        s.add(
            Subscription(
                person=Person(name="Sen", email="sen@example.se"),
                mailing_list=mailing_list,
                source="form",
                status="active",
                confirmed_at=late,
            )
        )
        s.flush()
        s.execute(text("SET LOCAL TIME ZONE 'Pacific/Kiritimati'"))  # UTC+14
        assert stats._compute(s, ends[:4]) == [0, 0, 1, 1]
        s.rollback()
