"""Purchases (bokföringslagen): the owner records them; the bookkeeping hold and rule follow.

The hold and the period come from the recorded purchase dates, never from a typed date:
kept until the end of the seventh year after the fiscal year of the newest purchase.
"""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime

import pytest
from sqlalchemy import select

from crm.audit import Actor
from crm.audit import AuditEvent
from crm.people import purchases
from crm.people.models import Person
from crm.people.models import Purchase
from crm.people.services import PersonError
from crm.privacy import erasure
from crm.privacy import periods
from crm.privacy import retention
from tests.helpers import login
from tests.helpers import post_form


def _person(db, name: str = "Kund Kundsson", email: str | None = "kund@example.se") -> int:
    with db() as s:
        person = Person(name=name, email=email)
        s.add(person)
        s.commit()
        return person.id


def _buy(db, person_id: int, day: date, amount: str = "450") -> None:
    with db() as s:
        purchases.add_purchase(
            s, s.get(Person, person_id), purchases.PurchaseData(day, amount, "K-1"), Actor.cli()
        )
        s.commit()


@pytest.mark.parametrize(
    ("typed", "ore"),
    [("450", 45000), ("450,5", 45050), ("1 250,00 kr", 125000), ("99.99", 9999), ("0", 0)],
)
def test_amounts_are_read_as_kronor(typed, ore):
    assert purchases.parse_amount(typed) == ore


@pytest.mark.parametrize("typed", ["", "abc", "-5", "1,234", "12.3.4"])
def test_a_bad_amount_is_refused(typed):
    with pytest.raises(PersonError):
        purchases.parse_amount(typed)


def test_the_owner_records_a_purchase_on_the_client_card(app, db, auth_client):
    pid = _person(db)
    page = f"/people/{pid}"
    response = post_form(
        auth_client,
        f"/people/{pid}/purchases",
        {
            "purchase-purchased_on": "2026-03-02",
            "purchase-amount": "kr 12",  # not an amount: the page comes back as typed
            "purchase-reference": "F-2026-17",
            "purchase-products": "Arnikasalva",
        },
        page=page,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Ange beloppet i kronor" in html
    assert 'value="F-2026-17"' in html and "Arnikasalva" in html
    response = post_form(
        auth_client,
        f"/people/{pid}/purchases",
        {
            "purchase-purchased_on": "2026-03-02",
            "purchase-amount": "1 250,50",
            "purchase-reference": "F-2026-17",
            "purchase-products": "Arnikasalva",
        },
        page=page,
    )
    assert response.status_code == 302
    html = auth_client.get(page).get_data(as_text=True)
    assert "1\u00a0250,50\u00a0kr" in html and "F-2026-17" in html and "Arnikasalva" in html
    with db() as s:
        bought = s.scalar(select(Purchase))
        assert bought.amount_ore == 125050 and bought.purchased_on == date(2026, 3, 2)
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "person.purchase_add"))
        assert "Arnika" not in event.details and "125050" not in event.details


def test_only_roles_with_the_purchases_permission_see_and_record_purchases(
    app, client, db, make_user
):
    """The matrix (crm/security/roles.py): the owner and the bookkeeper; not a practitioner."""
    from crm.security.roles import PermissionDenied

    pid = _person(db)
    practitioner = make_user("behandlare@example.se", role="practitioner")
    login(client, app, practitioner)
    html = client.get(f"/people/{pid}").get_data(as_text=True)
    assert 'id="purchases"' not in html
    response = post_form(
        client,
        f"/people/{pid}/purchases",
        {"purchase-purchased_on": "2026-03-02", "purchase-amount": "450"},
        page=f"/people/{pid}",
    )
    assert response.status_code == 403
    with db() as s, pytest.raises(PermissionDenied):
        purchases.add_purchase(
            s,
            s.get(Person, pid),
            purchases.PurchaseData(date(2026, 3, 2), "450"),
            Actor("user", practitioner.id, role="practitioner"),
        )
    with db() as s:
        assert s.scalar(select(Purchase)) is None


def test_cli_purchase_add(app, db):
    pid = _person(db)
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["purchase", "add", "--person", str(pid), "--date", "2025-12-30", "--amount", "300"]
    )
    assert result.exit_code == 0, result.output
    bad = runner.invoke(
        args=["purchase", "add", "--person", str(pid), "--date", "2999-01-01", "--amount", "3"]
    )
    assert bad.exit_code == 1 and "future" in bad.output
    with db() as s:
        assert [p.amount_ore for p in s.scalars(select(Purchase))] == [30000]


def test_erasure_keeps_purchases_until_the_seventh_year_after_the_fiscal_year(app, db):
    pid = _person(db)
    _buy(db, pid, date(2024, 5, 10))
    _buy(db, pid, date(2025, 11, 3))
    with db() as s:
        person = s.get(Person, pid)
        the_plan = erasure.execute(s, person, Actor.cli())
        s.commit()
        (kept,) = the_plan.keep
        # the newest purchase is in fiscal year 2025: kept through 2032, gone 2033-01-01
        assert kept.what == "bookkeeping" and kept.until == datetime(2033, 1, 1, tzinfo=UTC)
        person = s.get(Person, pid)
        assert person.email is None and person.name == "Kund Kundsson"
        assert len(person.purchases) == 2
    # the day before the end nothing goes; on the day the person and the purchases go
    with db() as s:
        report = retention.run(s, now=datetime(2032, 12, 31, 23, tzinfo=UTC))
        s.commit()
        assert s.get(Person, pid) is not None and report.deleted["bookkeeping"] == 1
    with db() as s:
        report = retention.run(s, now=datetime(2033, 1, 1, 0, 1, tzinfo=UTC))
        s.commit()
        assert s.get(Person, pid) is None and report.deleted["ended_holds"] == 1


def test_a_fiscal_year_other_than_the_calendar_year(app, db):
    from crm import controllers

    pid = _person(db)
    _buy(db, pid, date(2025, 3, 10))
    with db() as s:
        periods.set_period(
            s, controllers.first(s).id, "bookkeeping", 84, year_start_month=5, actor=Actor.cli()
        )
        s.commit()
        # fiscal year 2024-05-01 .. 2025-04-30: kept until 2032-05-01
        assert periods.get(s, controllers.first(s).id, "bookkeeping").end(
            datetime(2025, 3, 10, 12, tzinfo=UTC)
        ) == datetime(2032, 5, 1, tzinfo=UTC)
        with pytest.raises(Exception, match="cannot be shorter"):
            periods.set_period(s, controllers.first(s).id, "bookkeeping", 60, actor=Actor.cli())


def test_when_the_period_ends_a_customer_with_nothing_else_goes(app, db):
    buyer = _person(db)
    client = _person(db, "Klient Klientsson", "klient@example.se")
    _buy(db, buyer, date(2018, 6, 1))
    _buy(db, client, date(2018, 6, 1))
    _buy(db, client, date(2025, 6, 1))  # still within its period: the client stays
    with db() as s:
        dry = retention.run(s, now=datetime(2026, 2, 1, tzinfo=UTC), dry_run=True)
        s.rollback()
        assert dry.deleted["bookkeeping"] == 2 and s.get(Person, buyer) is not None
    with db() as s:
        retention.run(s, now=datetime(2026, 2, 1, tzinfo=UTC))
        s.commit()
        assert s.get(Person, buyer) is None
        kept = s.get(Person, client)
        assert [p.purchased_on for p in kept.purchases] == [date(2025, 6, 1)]


def test_a_customer_is_not_an_inquiry(app, db):
    """A person with only a purchase is bookkeeping, not an inquiry deleted after 3 months."""
    pid = _person(db)
    only_asked = _person(db, "Frågvis", "fraga@example.se")
    with db() as s:
        for person_id in (pid, only_asked):
            s.get(Person, person_id).created_at = datetime(2025, 1, 10, tzinfo=UTC)
        s.commit()
    _buy(db, pid, date(2025, 1, 10))
    with db() as s:
        retention.run(s, now=datetime(2026, 1, 1, tzinfo=UTC))
        s.commit()
        assert s.get(Person, pid) is not None and s.get(Person, only_asked) is None


def test_the_bookkeeper_sees_a_years_purchases_and_nothing_else(app, client, db, make_user):
    pid = _person(db, "Bo Bokförd", "bo@example.se")
    _buy(db, pid, date(2025, 3, 1), "100")
    _buy(db, pid, date(2025, 11, 2), "250,50")
    _buy(db, pid, date(2024, 6, 1), "999")
    bookkeeper = make_user("ekonomi@example.se", role="bookkeeping")
    login(client, app, bookkeeper)
    html = client.get("/people/purchases?year=2025").get_data(as_text=True)
    assert "Bo Bokförd" in html and "350,50\u00a0kr" in html and "999,00" not in html
    assert "bo@example.se" not in html
    assert '<a href="/people/purchases">Köp</a>' in html  # the bookkeeper's one menu item
    assert client.get(f"/people/{pid}").status_code == 403  # no contact details, no card
    assert client.get("/people/purchases?year=abc").status_code == 200  # this year instead
