"""Each seed practice's retention periods, enforced on a database moved forward in time.

The five policies in ../shared/seeds state periods; each test configures the periods as data
(crm/privacy/periods.py, what a practice file sets), writes rows with the clock set back
(tests/timetravel.py: the rows, audit entries included, carry the times they would have had),
then runs ``crm retention``'s engine with the clock moved to just before and just after each
period ends. Where a seed promises what the software cannot do, the test says so.
"""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime

from sqlalchemy import select

from crm import audit
from crm import controllers
from crm.audit import Actor
from crm.audit import AuditEvent
from crm.newsletter.models import ConsentRecord
from crm.newsletter.models import MailingList
from crm.newsletter.models import Subscription
from crm.people import care as people_care
from crm.people import purchases
from crm.people.models import ClientCard
from crm.people.models import Person
from crm.privacy import periods
from crm.privacy import retention
from tests.timetravel import frozen


def at(year: int, month: int = 1, day: int = 1, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def _controller(db, name: str, profile: str = "B", profession: str = "") -> int:
    with db() as s:
        first = controllers.first(s)
        if first.name:
            first = controllers.Controller(id=controllers.next_id(s))
            s.add(first)
        first.name, first.profile, first.profession = name, profile, profession
        s.commit()
        return first.id


def _period(db, controller_id: int, kind: str, months: int, **options) -> None:
    with db() as s:
        periods.set_period(s, controller_id, kind, months, actor=Actor.cli(), **options)
        s.commit()


def _run(db, monkeypatch, when: datetime, dry_run: bool = False) -> retention.RetentionReport:
    with frozen(monkeypatch, when), db() as s:
        report = retention.run(s, now=when, dry_run=dry_run)
        s.rollback() if dry_run else s.commit()
        return report


def _alive(db, *ids: int) -> list[bool]:
    with db() as s:
        return [s.get(Person, pid) is not None for pid in ids]


def _person(db, monkeypatch, when: datetime, name: str, controller_id: int, **fields) -> int:
    with frozen(monkeypatch, when), db() as s:
        person = Person(name=name, controller_id=controller_id, created_at=when, **fields)
        s.add(person)
        s.commit()
        return person.id


def _subscriber(db, monkeypatch, when: datetime, name: str, left: datetime | None = None) -> int:
    """A newsletter subscriber who signed up at ``when`` (and left at ``left``)."""
    with frozen(monkeypatch, when), db() as s:
        default = s.scalar(select(MailingList).where(MailingList.is_default.is_(True)))
        if default is None:
            default = MailingList(name="Nyhetsbrev", is_default=True, created_at=when)
            s.add(default)
        person = Person(name=name, email=f"{name.lower()}@example.se", created_at=when)
        s.add(person)
        s.flush()
        s.add(
            Subscription(
                person_id=person.id,
                list_id=default.id,
                source="form",
                status="unsubscribed" if left else "active",
                created_at=when,
                confirmed_at=when,
                unsubscribed_at=left,
            )
        )
        s.add(
            ConsentRecord(
                person_id=person.id, list_id=default.id, action="confirm", method="double_opt_in",
                occurred_at=when,
            )
        )  # fmt: skip
        if left:
            s.add(
                ConsentRecord(
                    person_id=person.id, list_id=default.id, action="withdraw",
                    method="one_click", occurred_at=left,
                )
            )  # fmt: skip
        s.commit()
        return person.id


def _journal(db, monkeypatch, when: datetime, person_id: int) -> None:
    with frozen(monkeypatch, when), db() as s:
        people_care.add_journal_entry(s, s.get(Person, person_id), "Samtal.", Actor.cli())
        s.commit()


def _view(db, monkeypatch, when: datetime, person_id: int | None, action: str) -> int:
    with frozen(monkeypatch, when), db() as s:
        event = audit.record(
            s,
            Actor("user", 1, "192.0.2.1"),
            action,
            object_type="person" if person_id else None,
            object_id=person_id,
        )
        s.commit()
        return event.seq


def _visit(db, monkeypatch, when: datetime, person_id: int) -> None:
    with frozen(monkeypatch, when), db() as s:
        people_care.add_visit(s, s.get(Person, person_id), when.date(), None, Actor.cli())
        s.commit()


def _buy(db, monkeypatch, when: datetime, person_id: int, products: str = "") -> None:
    with frozen(monkeypatch, when), db() as s:
        data = purchases.PurchaseData(when.date(), "450", "K-1", products)
        purchases.add_purchase(s, s.get(Person, person_id), data, Actor.cli())
        s.commit()


def _decisions(db, monkeypatch, when: datetime) -> set[tuple[int, str]]:
    with frozen(monkeypatch, when), db() as s:
        return {(d.person_id, d.reason) for d in retention.decisions(s, when)}


def _audit_ok(db) -> bool:
    with db() as s:
        return audit.verify_chain(s).ok


def test_seed_000_kbt_verkstan_2018(app, db, monkeypatch):
    """Two controllers, profile A (psykoterapeut).

    Promised: the journal "i minst 10 år"; marketing data "12 månader efter den senast
    kontakten"; journal access logs five years (HSLF-FS 2016:40, the profile A duty) and
    other logs twelve months.
    """
    verkstan = _controller(db, "Kbt-verkstan", "A", "psykoterapeut")
    romme = _controller(db, "Kbt i Romme", "A", "psykoterapeut")
    for controller_id in (verkstan, romme):
        # "whether or not the person unsubscribed": the subscription ends with the period too;
        # the proof of consent is kept as long as the data, not longer
        _period(db, controller_id, "marketing_contacts", 12, include_active=True)
        _period(db, controller_id, "consent_records", 12)
    patient = _person(db, monkeypatch, at(2019, 3), "Patient", romme)
    _journal(db, monkeypatch, at(2019, 3, 4), patient)
    view = _view(db, monkeypatch, at(2019, 3, 4), patient, "person.view")
    login = _view(db, monkeypatch, at(2019, 3, 5), None, "auth.login")
    quiet = _subscriber(db, monkeypatch, at(2019, 1), "Tyst")
    left = _subscriber(db, monkeypatch, at(2019, 1), "Slutat", left=at(2019, 2))
    recent = _subscriber(db, monkeypatch, at(2019, 9), "Ny")

    # 2020-03-10: the first two silent past 12 months; the newest not yet
    report = _run(db, monkeypatch, at(2020, 3, 10))
    assert report.deleted["marketing_contacts"] == 2
    assert _alive(db, quiet, left, recent, patient) == [False, False, True, True]
    # twelve months on, the login is stripped; the patient view is kept in full
    with db() as s:
        rows = {e.seq: e for e in s.scalars(select(AuditEvent))}
    assert rows[login].redacted_tag is not None and rows[login].ip is None
    assert rows[view].object_id == str(patient) and rows[view].ip == "192.0.2.1"
    assert _audit_ok(db)

    # five years after the view: it goes behind the anchor, and the chain still verifies
    _run(db, monkeypatch, at(2024, 3, 3))
    with db() as s:
        assert s.scalar(select(AuditEvent).where(AuditEvent.seq == view)) is not None
    _run(db, monkeypatch, at(2024, 3, 5))
    with db() as s:
        assert s.scalar(select(AuditEvent).where(AuditEvent.seq == view)) is None
    assert _audit_ok(db)

    # the journal: a decision after ten years, not before; never deleted by itself
    assert (patient, "journal") not in _decisions(db, monkeypatch, at(2029, 3, 3))
    assert (patient, "journal") in _decisions(db, monkeypatch, at(2029, 3, 5))
    _run(db, monkeypatch, at(2030, 1, 1))
    assert _alive(db, patient) == [True]


def test_seed_001_kbt_verkstan_2024(app, db, monkeypatch):
    """One controller with a web shop (Kbtverkstanbutik.se).

    Promised: the journal "i 10 år"; marketing "12 månader efter den senast kontakten"; the
    shop's purchases under bokföringslagen (the policy names "bokförings- och skattelagstiftning").
    """
    verkstan = _controller(db, "Kbt-verkstan", "A", "psykoterapeut")
    _period(db, verkstan, "marketing_contacts", 12, include_active=True)
    _period(db, verkstan, "consent_records", 12)
    buyer = _person(db, monkeypatch, at(2024, 4), "Köpare", verkstan, email="kop@example.se")
    _buy(db, monkeypatch, at(2024, 4, 2), buyer, "Självhjälpsbok")
    subscriber = _subscriber(db, monkeypatch, at(2024, 4), "Prenumerant")

    # 2025-05: the subscriber is past 12 months; the buyer is bookkeeping, not marketing
    _run(db, monkeypatch, at(2025, 5, 1))
    assert _alive(db, buyer, subscriber) == [True, False]
    # bought in fiscal year 2024: kept through 2031, gone on 2032-01-01
    assert _run(db, monkeypatch, at(2031, 12, 31)).deleted["bookkeeping"] == 0
    assert _alive(db, buyer) == [True]
    assert _run(db, monkeypatch, at(2032, 1, 1, 1)).deleted["bookkeeping"] == 1
    assert _alive(db, buyer) == [False]


def test_seed_002_sjalvkraft(app, db, monkeypatch):
    """Profile B (Självkraft).

    Promised: purchase data "sparas i 7 år enligt bokföringslagen"; the newsletter until one
    clicks to leave (then the installation's marketing period). The written journal is kept
    "i låst säkerhetsskåp" - on paper, which no software enforces.
    """
    sjalvkraft = _controller(db, "Självkraft", "B")
    client = _person(db, monkeypatch, at(2019, 2), "Klient", sjalvkraft, email="k@example.se")
    _buy(db, monkeypatch, at(2019, 2, 18), client)
    stays = _subscriber(db, monkeypatch, at(2019, 2), "Kvar")
    leaves = _subscriber(db, monkeypatch, at(2019, 2), "Lamnar", left=at(2019, 6))

    # the erasure on request keeps the purchase (and the name) for bookkeeping
    with frozen(monkeypatch, at(2020, 1, 10)), db() as s:
        from crm.privacy import erasure

        plan = erasure.execute(s, s.get(Person, client), Actor.cli())
        s.commit()
    assert [k.what for k in plan.keep] == ["bookkeeping"]
    assert plan.keep[0].until == at(2027, 1, 1, 0)  # "7 år": through the 7th year after 2019

    # an active subscriber is never deleted for silence (the controller did not choose that);
    # the one who left goes once the consent records are no longer owed (36 months)
    _run(db, monkeypatch, at(2022, 6, 2))
    assert _alive(db, stays, leaves) == [True, False]
    _run(db, monkeypatch, at(2026, 12, 31))
    assert _alive(db, client) == [True]
    _run(db, monkeypatch, at(2027, 1, 1, 1))
    assert _alive(db, client, stays) == [False, True]


def test_seed_003_kraftkallan(app, db, monkeypatch):
    """Profile B, birth date only (Kraftkällan).

    Promised: "gamla kunder rensas bort efter 2 år" (counted
    from the last visit: the card is shredded, so automatic); "fakturor och kvitton: sparas i
    sju år enligt bokföringslagen"; products sold are noted on the card.

    Not enforceable by software: "inga personuppgifter registreras digitalt" - Kraftkällan
    keeps paper cards in a binder. The test shows what the same periods mean here.
    """
    kraft = _controller(db, "Kraftkällan i Hallstavik", "B")
    _period(db, kraft, "client_card", 24, automatic=True)
    old = _person(db, monkeypatch, at(2022, 1), "Gammal", kraft, email="g@example.se")
    with frozen(monkeypatch, at(2022, 1, 5)), db() as s:
        s.add(ClientCard(person_id=old, client_since=date(2022, 1, 5)))
        s.commit()
    _visit(db, monkeypatch, at(2022, 1, 5), old)
    _buy(db, monkeypatch, at(2022, 3, 7), old, "Massageolja")  # a purchase is activity too
    regular = _person(db, monkeypatch, at(2022, 1), "Stamkund", kraft, email="s@example.se")
    _visit(db, monkeypatch, at(2022, 1, 5), regular)
    _visit(db, monkeypatch, at(2023, 6, 1), regular)

    dry = _run(db, monkeypatch, at(2024, 3, 8), dry_run=True)
    assert dry.deleted["client_cards"] == 1
    assert "24 months, automatic" in dry.periods["client_cards"]
    assert _run(db, monkeypatch, at(2024, 3, 6)).deleted["client_cards"] == 0
    assert _run(db, monkeypatch, at(2024, 3, 8)).deleted["client_cards"] == 1
    with db() as s:
        person = s.get(Person, old)
        # the card, visits and contact details are gone; the receipt stays for the books
        assert person.client_card is None and person.visits == [] and person.email is None
        assert [p.products for p in person.purchases] == ["Massageolja"]
    assert _alive(db, regular) == [True]
    assert _decisions(db, monkeypatch, at(2024, 3, 8)) == set()  # automatic: nothing to ask
    # the regular's last visit was 2023-06-01: two years on, the card goes (nothing held)
    assert _run(db, monkeypatch, at(2025, 5, 31)).deleted["client_cards"] == 0
    assert _run(db, monkeypatch, at(2025, 6, 2)).deleted["client_cards"] == 1
    assert _alive(db, regular) == [False]
    # the receipt is kept through the 7th year after 2022, then nothing is left
    _run(db, monkeypatch, at(2029, 12, 31))
    assert _alive(db, old) == [True]
    _run(db, monkeypatch, at(2030, 1, 1, 1))
    assert _alive(db, old) == [False]


def test_seed_004_coach(app, db, monkeypatch):
    """Profile B coach.

    Promised: client data "högst 5 år, räknat från utgången av det år
    avtalet upphör" (the owner decides; "normalt"); a contact that led to no agreement "i
    högst tre månader".
    """
    coach = _controller(db, "Coachen", "B")
    _period(db, coach, "client_card", 60, from_year_end=True)
    _period(db, coach, "inquiries", 3)
    client = _person(db, monkeypatch, at(2019, 1), "Klient", coach, email="c@example.se")
    with frozen(monkeypatch, at(2019, 1, 2)), db() as s:
        s.add(ClientCard(person_id=client, client_since=date(2019, 1, 2)))
        s.get(ClientCard, s.scalar(select(ClientCard.id))).client_until = date(2020, 6, 30)
        s.commit()
    asked = _person(db, monkeypatch, at(2025, 9, 1), "Fragade", coach, email="f@example.se")
    asked_later = _person(db, monkeypatch, at(2025, 10, 15), "Sen", coach, email="s@example.se")

    # the agreement ended in 2020: five years from the end of 2020 is 2026-01-01
    assert _decisions(db, monkeypatch, at(2025, 12, 31)) == set()
    assert _decisions(db, monkeypatch, at(2026, 1, 1, 1)) == {(client, "client_card")}
    # the owner decides: the retention run itself deletes no client here
    report = _run(db, monkeypatch, at(2026, 1, 1, 1))
    assert report.deleted["client_cards"] == 0 and _alive(db, client) == [True]
    # the inquiries: three months after the contact
    assert report.deleted["inquiries"] == 1
    assert _alive(db, asked, asked_later) == [False, True]
    dry = _run(db, monkeypatch, at(2026, 1, 16), dry_run=True)
    assert dry.deleted["inquiries"] == 1 and dry.periods["inquiries"] == "3 months"


def test_dry_run_lists_every_rule_with_its_period_and_no_personal_data(app, db, monkeypatch):
    kraft = _controller(db, "Kraftkällan", "B")
    _period(db, kraft, "client_card", 24, automatic=True)
    _person(db, monkeypatch, at(2020, 1), "Hemlig Person", kraft, email="hemlig@example.se")
    result = app.test_cli_runner().invoke(args=["retention", "--dry-run"])
    out = result.output
    assert result.exit_code == 0, out
    for rule in (
        "marketing_contacts",
        "inquiries",
        "consent_records",
        "requests",
        "client_cards",
        "bookkeeping",
        "audit_log",
        "audit_log_stripped",
    ):
        assert f"{rule}: would " in out, rule
    assert "inquiries: would delete 1 (3 months)" in out
    assert "client_cards: would delete 0 (24 months, automatic)" in out
    assert "bookkeeping: would delete 0 (84 months from the end of the year)" in out
    assert "Hemlig" not in out and "hemlig@" not in out
    with db() as s:  # a dry run deletes nothing
        assert s.scalar(select(Person.id).where(Person.name == "Hemlig Person")) is not None
