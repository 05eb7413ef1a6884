"""The dashboard's charts, drawn on the server as SVG (no scripts, nothing external, CSP-safe).

Three questions an owner asks between clients: is the newsletter growing (a line over twelve
months, with axes), which requests are due when (a timeline against today), and is each mail
provider keeping up (the last runs per provider). Each chart carries its figures as a table
too, the text alternative for a screen reader and for anyone who wants the numbers. Only
presentation attributes are used (``fill``, ``font-size``): the CSP forbids inline styles.
The drawing is sized for a phone (a 300-unit-wide viewBox scales to the card) so that the
labels stay readable at 390 px.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

import integrations
from crm.db import utcnow
from crm.i18n import format_day
from crm.newsletter import labels as kind_labels
from crm.newsletter import stats
from crm.privacy.models import DataRequest
from crm.sync.models import SyncRun

WIDTH = 300
#: room for the y axis labels (left) and the x axis labels (bottom)
LEFT, RIGHT, TOP, BOTTOM = 30, 8, 14, 30
TEXT, MUTED, LINE, ACCENT = "#1d2330", "#5a6272", "#d7dbe2", "#1f5f8b"
OK, WARN, BAD = "#1e6b37", "#8a5300", "#a4262c"
#: how many months the growth line shows, the current one included
MONTHS = 12
#: how many open requests the timeline shows (the most urgent)
TIMELINE_ROWS = 8
#: how many runs the sync chart shows per provider
RUNS = 10


@dataclass(frozen=True)
class Chart:
    """A titled chart with its figures as a table (the text alternative)."""

    title: str
    svg: Markup
    #: said instead of the chart when there is nothing to draw yet
    empty: str = ""
    #: the table: column headings and rows of cells
    headers: Sequence[str] = ()
    rows: Sequence[Sequence[str]] = field(default_factory=list)
    #: one sentence saying what the chart shows (the svg's <desc>, and above the table)
    summary: str = ""


def _svg(height: int, title: str, summary: str, body: list[str]) -> Markup:
    """Wrap drawing commands in an accessible <svg> (role img, <title> and <desc>)."""
    return Markup(
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img" class="chart" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f"<desc>{escape(summary)}</desc>" + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "middle", fill: str = MUTED) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" text-anchor="{anchor}" '
        f'fill="{fill}">{escape(text)}</text>'
    )


def nice_top(value: int) -> int:
    """A round upper end for a y axis: 1, 2, 5 or 10 times a power of ten, at least 4."""
    top = max(4, value)
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step * 4 >= top:
                return m * step * 4
        step *= 10


def growth(session: Session, now: datetime, current: int | None) -> Chart:
    """Active subscriptions at the end of each of the last twelve months, as a line."""
    starts, ends = stats.month_bounds(now, MONTHS)
    values = stats.active_at_month_ends(session, starts, ends, now, current=current)
    title = _("Subscribers, last 12 months")
    summary = _(
        "Active subscriptions at the end of each month: %(first)s in %(start)s, %(last)s now.",
        first=values[0],
        start=f"{starts[0]:%Y-%m}",
        last=values[-1],
    )
    height = 180
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    top = nice_top(max(values))
    step = plot_w / (len(values) - 1)

    def x(i: int) -> float:
        return LEFT + i * step

    def y(v: int) -> float:
        return TOP + plot_h * (1 - v / top)

    body = []
    for tick in range(0, top + 1, top // 4):  # gridlines and y labels
        body.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="{LINE}" stroke-width="1"/>'
        )
        body.append(_text(LEFT - 4, y(tick) + 3, str(tick), "end"))
    for i, start in enumerate(starts):  # x labels: every month, the year under January
        body.append(_text(x(i), height - BOTTOM + 14, format_date(start, "LLLLL")))
        if start.month == 1 or i == 0:
            body.append(_text(x(i), height - 2, f"{start:%Y}"))
    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    body.append(f'<polyline points="{points}" fill="none" stroke="{ACCENT}" stroke-width="2.5"/>')
    for i, v in enumerate(values):
        label = f"{starts[i]:%Y-%m}: {v}"
        body.append(
            f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{ACCENT}">'
            f"<title>{escape(label)}</title></circle>"
        )
    body.append(_text(x(len(values) - 1), y(values[-1]) - 7, str(values[-1]), "end", TEXT))
    return Chart(
        title,
        _svg(height, title, summary, body),
        headers=(_("Month"), _("Active subscriptions")),
        rows=[[f"{s:%Y-%m}", str(v)] for s, v in zip(starts, values, strict=True)],
        summary=summary,
    )


def deadlines(session: Session, now: datetime) -> Chart:
    """Open requests as bars from received to due, against a line for today."""
    rows = list(
        session.scalars(
            select(DataRequest)
            .where(DataRequest.status == "open")
            .order_by(DataRequest.due_at, DataRequest.id)
            .limit(TIMELINE_ROWS)
        )
    )
    title = _("Open requests and their deadlines")
    if not rows:
        return Chart(title, Markup(""), _("No open requests."))
    overdue = sum(r.due_at < now for r in rows)
    summary = ngettext(
        "%(num)s open request, %(late)s of them past its deadline. The line marks today.",
        "%(num)s open requests, %(late)s of them past their deadline. The line marks today.",
        len(rows),
        late=overdue,
    )
    bar, gap = 16, 8
    height = TOP + len(rows) * (bar + gap) + BOTTOM
    first = min(min(r.received_at for r in rows), now - timedelta(days=3))
    last = max(max(r.due_at for r in rows), now + timedelta(days=3))
    span = (last - first).total_seconds()
    label_w = 96
    plot_w = WIDTH - label_w - RIGHT

    def x(when: datetime) -> float:
        return label_w + plot_w * (when - first).total_seconds() / span

    body = []
    for i, r in enumerate(rows):
        top = TOP + i * (bar + gap)
        late = r.due_at < now
        colour = BAD if late else (WARN if r.due_at - now < timedelta(days=7) else ACCENT)
        kind = str(kind_labels.REQUEST_KIND.get(r.kind, r.kind))
        body.append(_text(label_w - 6, top + bar - 4, f"{kind[:14]} #{r.id}", "end", TEXT))
        start, end = x(r.received_at), x(r.due_at)
        info = _(
            "%(kind)s #%(id)s: received %(received)s, due %(due)s",
            kind=kind,
            id=r.id,
            received=format_day(r.received_at),
            due=format_day(r.due_at),
        )
        body.append(
            f'<rect x="{start:.1f}" y="{top}" width="{max(2.0, end - start):.1f}" '
            f'height="{bar}" rx="3" fill="{colour}"><title>{escape(info)}</title></rect>'
        )
    today = x(now)
    body.append(
        f'<line x1="{today:.1f}" x2="{today:.1f}" y1="{TOP - 6}" y2="{height - BOTTOM + 2}" '
        f'stroke="{TEXT}" stroke-width="1.5" stroke-dasharray="3 2"/>'
    )
    body.append(_text(today, height - BOTTOM + 14, _("today"), "middle", TEXT))
    body.append(_text(label_w, height - 2, format_day(first), "start"))
    body.append(_text(WIDTH - RIGHT, height - 2, format_day(last), "end"))
    table = [
        [
            f"{kind_labels.REQUEST_KIND.get(r.kind, r.kind)} #{r.id}",
            format_day(r.received_at),
            format_day(r.due_at),
            _("overdue")
            if r.due_at < now
            else ngettext("%(num)s day left", "%(num)s days left", (r.due_at - now).days),
        ]
        for r in rows
    ]
    return Chart(
        title,
        _svg(height, title, summary, body),
        headers=(_("Request"), _("Received"), _("Due"), _("State")),
        rows=table,
        summary=summary,
    )


def sync_health(session: Session) -> Chart:
    """Each provider's last runs: green all sent, amber work left, red failures."""
    runs = list(session.scalars(select(SyncRun).order_by(SyncRun.id.desc()).limit(RUNS)))[::-1]
    title = _("Sync per mail provider")
    reports = [(r, json.loads(r.report or "{}")) for r in runs]
    providers = sorted({name for _r, report in reports for name in report})
    if not providers:
        return Chart(title, Markup(""), _("No sync has run yet."))
    summary = _(
        "The last %(n)s runs for each provider: green when everything was sent, amber when "
        "work was left for the next run, red when something failed.",
        n=len(runs),
    )
    cell, gap, label_w = 16, 4, 84
    height = TOP + len(providers) * (cell + gap) + BOTTOM
    body, table = [], []
    for i, name in enumerate(providers):
        top = TOP + i * (cell + gap)
        body.append(
            _text(label_w - 6, top + cell - 6, integrations.display_name(name), "end", TEXT)
        )
        last: dict[str, int | str] = {}
        for j, (run, report) in enumerate(reports):
            rep = report.get(name)
            if rep is None:
                continue
            last = rep
            state, colour = _state(rep)
            info = f"{format_day(run.started_at)}: {state}"
            body.append(
                f'<rect x="{label_w + j * (cell + gap)}" y="{top}" width="{cell}" '
                f'height="{cell}" rx="3" fill="{colour}"><title>{escape(info)}</title></rect>'
            )
        table.append(
            [
                integrations.display_name(name),
                _state(last)[0] if last else "",
                str(last.get("pending", 0)),
                str(last.get("failed", 0)),
            ]
        )
    body.append(_text(label_w + len(reports) * (cell + gap) - gap, height - 8, _("newest"), "end"))
    if len(reports) > 3:  # with fewer cells the two words would overlap
        body.append(_text(label_w, height - 8, _("older"), "start"))
    return Chart(
        title,
        _svg(height, title, summary, body),
        headers=(_("Provider"), _("Last run"), _("Waiting"), _("Failed")),
        rows=table,
        summary=summary,
    )


def _state(rep: dict[str, int | str]) -> tuple[str, str]:
    """A provider's result in one run, in words and as a colour."""
    if rep.get("error") or int(rep.get("failed", 0) or 0):
        return _("failed"), BAD
    if int(rep.get("pending", 0) or 0):
        return _("work left"), WARN
    return _("all sent"), OK


def build(
    session: Session, now: datetime | None = None, subscribers: int | None = None
) -> list[Chart]:
    """The dashboard's charts. ``subscribers``: the number active now, when already counted."""
    now = now or utcnow()
    return [growth(session, now, subscribers), deadlines(session, now), sync_health(session)]
