"""The retention engine, rule by rule, with the clock moved forward (no sleeping)."""

from __future__ import annotations

from datetime import date
from datetime import timedelta

from sqlalchemy import select

from crm.audit import AuditEvent
from crm.db import utcnow
from crm.newsletter import mailing_lists
from crm.newsletter.models import ConsentRecord
from crm.newsletter.models import Subscription
from crm.people.models import ClientCard
from crm.people.models import JournalEntry
from crm.people.models import Person
from crm.privacy import retention
from crm.privacy.data_requests import add_months
from crm.privacy.models import Breach
from crm.privacy.models import DataRequest
from crm.privacy.models import RecipientTask
from tests.helpers import post_form

NOW = utcnow()


def _people(db, **people) -> dict[str, int]:
    """Create people by name: value = (months since last activity, what they have)."""
    ids = {}
    with db() as s:
        default = mailing_lists.default_list(s)
        for name, (months_ago, kind) in people.items():
            when = NOW - timedelta(days=int(months_ago * 30.5))
            person = Person(name=name, email=f"{name}@example.se", created_at=when)
            s.add(person)
            s.flush()
            if kind in ("left", "client_left", "active"):
                s.add(
                    Subscription(
                        person_id=person.id,
                        list_id=default.id,
                        source="manual",
                        status="active" if kind == "active" else "unsubscribed",
                        created_at=when,
                        confirmed_at=when,
                        unsubscribed_at=None if kind == "active" else when,
                    )
                )
                s.add(
                    ConsentRecord(
                        person_id=person.id,
                        list_id=default.id,
                        action="withdraw",
                        method="one_click",
                        occurred_at=when,
                    )
                )
            if kind == "client_left":
                s.add(ClientCard(person_id=person.id, client_since=date(2020, 1, 1)))
            if kind == "request":
                s.add(
                    DataRequest(
                        person_id=person.id,
                        kind="access",
                        channel="email",
                        received_at=NOW,
                        due_at=NOW + timedelta(days=30),
                    )
                )
            if kind == "restricted":
                person.restricted_at = NOW
            ids[name] = person.id
        s.commit()
    return ids


def _alive(db, ids: dict[str, int]) -> set[str]:
    with db() as s:
        return {name for name, pid in ids.items() if s.get(Person, pid) is not None}


def test_marketing_contacts_and_inquiries(app, db):
    ids = _people(
        db,
        left40=(40, "left"),
        left13=(13, "left"),  # past its 12 months, but the withdrawal is owed as proof (36)
        left11=(11, "left"),
        active20=(20, "active"),
        client40=(40, "client_left"),
        inquiry4=(4, "inquiry"),
        inquiry2=(2, "inquiry"),
        asking=(6, "request"),
        held=(6, "restricted"),
    )
    with db() as s:
        dry = retention.run(s, now=NOW, dry_run=True)
        s.rollback()
    assert dry.deleted["marketing_contacts"] == 1 and dry.deleted["inquiries"] == 1
    assert _alive(db, ids) == set(ids)  # a dry run changes nothing
    with db() as s:
        report = retention.run(s, now=NOW)
        s.commit()
    assert _alive(db, ids) == set(ids) - {"left40", "inquiry4"}
    assert report.deleted["consent_records"] == 1  # the client's, withdrawn 40 months ago
    with db() as s:
        details = [
            e.details
            for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "retention.delete"))
        ]
    assert len(details) == 3 and all("example.se" not in d and "left40" not in d for d in details)


def test_decisions_for_old_journals_and_profile_b_clients(app, db, auth_client):
    post_form(auth_client, "/privacy/settings", {"name": "P", "profile": "B"})
    with db() as s:
        a = Person(name="Journal Person")
        b = Person(name="Client Person")
        s.add_all([a, b])
        s.flush()
        s.add(JournalEntry(person_id=a.id, text="x", written_at=NOW - timedelta(days=3700)))
        s.add(ClientCard(person_id=b.id, client_until=(NOW - timedelta(days=1200)).date()))
        s.commit()
        decisions = {(d.person_id, d.reason) for d in retention.decisions(s, NOW)}
    assert decisions == {(a.id, "journal"), (b.id, "client_card")}
    page = auth_client.get("/").get_data(as_text=True)
    assert 'id="decisions"' in page and "tioåriga" in page
    # the subscriber line drawn; no open request and no sync run, which the other cards say
    assert page.count('class="chart"') == 1 and "Ingen synkronisering har körts än." in page
    assert "Inga öppna begäranden." in page


def test_cli_retention_reports_each_rule(app, db):
    _people(db, inquiry9=(9, "inquiry"))
    result = app.test_cli_runner().invoke(args=["retention", "--dry-run"])
    assert "inquiries: would delete 1" in result.output
    result = app.test_cli_runner().invoke(args=["retention"])
    assert "inquiries: deleted 1" in result.output
    with db() as s:
        assert s.scalar(select(Person)) is None


def test_closed_requests_and_settled_breaches_go_after_their_period(app, db):
    """The privacy notice promises 60 months after closing; open or owed ones always stay."""

    def request(status: str, closed_months_ago: int | None) -> DataRequest:
        closed = add_months(NOW, -closed_months_ago) if closed_months_ago else None
        return DataRequest(
            kind="access", channel="email", status=status, received_at=NOW, due_at=NOW,
            completed_at=closed,
        )  # fmt: skip

    def breach(months_ago: int, risk: str, reported: bool) -> Breach:
        when = add_months(NOW, -months_ago)
        return Breach(
            discovered_at=when, description="x", affected="x", consequences="x", measures="x",
            risk=risk, no_report_reason="x" if risk == "none" else None,
            reported_at=when if reported else None,
        )  # fmt: skip

    with db() as s:
        s.add_all(
            [
                request("completed", 61),
                request("refused", 61),
                request("completed", 59),
                request("open", None),
                breach(61, "none", False),
                breach(61, "risk", True),
                breach(70, "risk", False),  # never reported: owed, stays
                breach(61, "high", True),  # people affected never told: owed, stays
                breach(30, "none", False),
            ]
        )
        s.commit()
        dry = retention.run(s, now=NOW, dry_run=True)
        s.rollback()
    assert (dry.deleted["requests"], dry.deleted["breaches"]) == (2, 2)
    with db() as s:
        retention.run(s, now=NOW)
        s.commit()
        kept = sorted((r.status, r.completed_at is None) for r in s.scalars(select(DataRequest)))
        assert kept == [("completed", False), ("open", True)]
        left = sorted((b.risk, b.reported_at is None) for b in s.scalars(select(Breach)))
        assert left == [("high", False), ("none", True), ("risk", True)]


def test_recipient_tasks_ticked_off_go_with_the_requests_period(app, db):
    """A ticked-off task is evidence kept as long as requests; an open one always stays."""

    def task(done_months_ago: int | None) -> RecipientTask:
        done = add_months(NOW, -done_months_ago) if done_months_ago else None
        return RecipientTask(
            recipient="Fortnox", action="erase", subject=None if done else "x <x@example.se>",
            due_at=NOW, done_at=done,
        )  # fmt: skip

    with db() as s:
        s.add_all([task(61), task(59), task(None), task(None)])
        s.commit()
        retention.run(s, now=NOW)
        s.commit()
        left = sorted(t.done_at is None for t in s.scalars(select(RecipientTask)))
    assert left == [False, True, True]


def test_automatic_client_card_deletion_spares_restricted_and_asking_people(app, db):
    """Restricted people and people with an open request stay, as decisions; others go.

    Art. 18(1)(b): a restriction can be asked for instead of erasure; an open request must be
    answered about the data as it is.
    """
    from crm import controllers
    from crm.audit import Actor
    from crm.people.models import Visit
    from crm.privacy import periods

    with db() as s:
        periods.set_period(
            s, controllers.first(s).id, "client_card", 24, automatic=True, actor=Actor.cli()
        )
        ids = {}
        for name in ("gone", "restricted", "asking"):
            person = Person(name=name, email=f"{name}@example.se")
            s.add(person)
            s.flush()
            s.add(ClientCard(person_id=person.id))
            s.add(Visit(person_id=person.id, visited_on=(NOW - timedelta(days=800)).date()))
            ids[name] = person.id
        s.get(Person, ids["restricted"]).restricted_at = NOW
        s.add(
            DataRequest(
                person_id=ids["asking"], kind="access", channel="email", received_at=NOW,
                due_at=NOW + timedelta(days=30),
            )
        )  # fmt: skip
        s.commit()
        report = retention.run(s, now=NOW)
        s.commit()
    assert report.deleted["client_cards"] == 1
    assert _alive(db, ids) == {"restricted", "asking"}
    assert {(d.person_id, d.reason) for d in report.decisions} == {
        (ids["restricted"], "client_card"),
        (ids["asking"], "client_card"),
    }
