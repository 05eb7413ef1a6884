"""The dashboard's charts (issue 16, "Charts worth looking at").

Drawn on the server, with axes and labels, a table as the text alternative, nothing external,
nothing the CSP blocks.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from crm.db import utcnow
from crm.main import charts
from crm.people.models import Person
from crm.privacy.models import DataRequest
from crm.sync.models import SyncRun


def _request(s, person_id: int, received_days_ago: int, due_in_days: int) -> None:
    s.add(
        DataRequest(
            person_id=person_id,
            kind="access",
            channel="email",
            received_at=utcnow() - timedelta(days=received_days_ago),
            due_at=utcnow() + timedelta(days=due_in_days),
        )
    )


def _safe(svg: str) -> None:
    """No script, no inline style (CSP), nothing fetched from elsewhere."""
    assert "<script" not in svg and "style=" not in svg and "href" not in svg
    assert re.findall(r"https?://[^\"]+", svg) == ["http://www.w3.org/2000/svg"]


def test_growth_is_a_line_with_axes_labels_and_a_table(app, db):
    with app.test_request_context(), db() as s:
        chart = charts.growth(s, utcnow(), current=7)
    svg = str(chart.svg)
    _safe(svg)
    assert "<polyline" in svg and svg.count("<circle") == 12
    assert svg.count("<line") == 5  # gridlines at 0, 1/4 ... the top
    assert ">0</text>" in svg and "<desc>" in svg
    assert len(chart.rows) == 12 and chart.rows[-1][1] == "7"


def test_requests_against_their_deadlines_today_marked_overdue_red(app, db):
    with db() as s:
        person = Person(name="Karin")
        s.add(person)
        s.flush()
        _request(s, person.id, 40, -10)  # overdue
        _request(s, person.id, 5, 25)
        s.commit()
    with app.test_request_context(), db() as s:
        chart = charts.deadlines(s, utcnow())
    svg = str(chart.svg)
    _safe(svg)
    assert svg.count("<rect") == 2 and charts.BAD in svg and "stroke-dasharray" in svg
    assert [row[3] for row in chart.rows][0] in ("overdue", "försenad")
    assert "Karin" not in svg  # the chart names kinds and numbers, not people


def test_sync_health_per_provider_in_colours_and_words(app, db):
    reports = [
        {"brevo": {"pending": 0, "failed": 0, "error": ""}},
        {"brevo": {"pending": 3, "failed": 0, "error": ""}, "mailerlite": {"failed": 1}},
    ]
    with db() as s:
        for report in reports:
            s.add(SyncRun(report=json.dumps(report), finished_at=utcnow()))
        s.commit()
    with app.test_request_context(), db() as s:
        chart = charts.sync_health(s)
    svg = str(chart.svg)
    _safe(svg)
    assert svg.count("<rect") == 3 and "MailerLite" in svg and "Brevo" in svg
    states = {row[0]: row[1] for row in chart.rows}
    assert set(states) == {"Brevo", "MailerLite"}
    assert charts.OK in svg and charts.WARN in svg and charts.BAD in svg


def test_the_dashboard_shows_each_chart_with_its_table(auth_client, db):
    page = auth_client.get("/").get_data(as_text=True)
    assert page.count('class="card chart-card"') == 3
    assert page.count('<details class="chart-data">') == 1  # the empty ones say why instead
    assert "Inga öppna begäranden." in page or "No open requests." in page
