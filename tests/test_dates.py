"""Dates read the same in both languages: ISO or "2 december 2026" (issue 16 defect 10)."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import date
from datetime import datetime
from pathlib import Path

from flask_babel import force_locale

from crm.i18n import format_day
from crm.i18n import format_moment
from crm.people.models import Person

ROOT = Path(__file__).resolve().parent.parent
#: a date formatted by hand, or by Babel's locale formats (English "short" is US: 12/2/26)
BY_HAND = re.compile(r"\|\s*(dateformat|datetimeformat|timeformat)\b|strftime|format_date\(")
US_OR_SLASHED = re.compile(r"%[mdy]/%[mdy]")


def test_no_template_formats_a_date_by_hand() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "templates").rglob("*"))
        if path.is_file()
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if BY_HAND.search(line)
    ]
    assert found == []


def test_no_code_writes_a_slashed_date() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "crm").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if US_OR_SLASHED.search(line)
    ]
    assert found == []


def test_the_filters_in_both_languages(app) -> None:
    moment = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)  # already 3 December in Stockholm
    with app.test_request_context():
        for locale, month in (("sv", "december"), ("en", "December")):
            with force_locale(locale):
                assert format_day(moment) == "2026-12-03"
                assert format_moment(moment) == "2026-12-03 00:30"
                assert format_day(date(2026, 12, 2), "long") == f"2 {month} 2026"
                assert format_day(None) == ""


def test_the_english_interface_shows_iso_dates(app, auth_client, db, owner):
    with db() as s:
        from crm.auth.models import User

        s.get(User, owner.id).locale = "en"
        person = Person(name="Karin Klient", email="karin@example.se")
        s.add(person)
        s.commit()
        pid, added = person.id, person.created_at
    html = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    assert 'lang="en"' in html
    with app.test_request_context():
        assert format_moment(added) in html
    assert not re.search(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b", html)
