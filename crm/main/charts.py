"""Small charts for the dashboard, drawn on the server as SVG (no scripts, nothing external)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from markupsafe import Markup
from markupsafe import escape
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.db import utcnow
from crm.i18n import format_day
from crm.newsletter import stats
from crm.privacy.models import DataRequest
from crm.sync.models import SyncRun

WIDTH, HEIGHT, PAD = 320, 120, 18


@dataclass(frozen=True)
class Chart:
    """A titled bar chart."""

    title: str
    svg: Markup
    #: said instead of the chart when there is nothing to draw yet
    empty: str = ""


def bars(
    values: list[int], labels: list[str], title: str, colours: list[str] | None = None
) -> Markup:
    """An accessible SVG bar chart (a title and one <title> per bar for screen readers)."""
    top = max(values + [1])
    step = (WIDTH - 2 * PAD) / max(1, len(values))
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        h = (HEIGHT - 2 * PAD) * value / top
        x = PAD + i * step + step * 0.15
        y = HEIGHT - PAD - h
        fill = (colours or [])[i] if colours else "#1f5f8b"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" '
            f'fill="{fill}"><title>{escape(label)}: {value}</title></rect>'
        )
        parts.append(
            f'<text x="{x + step * 0.35:.1f}" y="{HEIGHT - 4}" font-size="9" '
            f'text-anchor="middle" fill="#5a6272">{escape(label)}</text>'
        )
        parts.append(
            f'<text x="{x + step * 0.35:.1f}" y="{y - 3:.1f}" font-size="9" '
            f'text-anchor="middle" fill="#1d2330">{value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def build(
    session: Session, now: datetime | None = None, subscribers: int | None = None
) -> list[Chart]:
    """Subscribers over time, requests handled, sync health.

    ``subscribers`` is the number active right now, when the caller has counted it.
    """
    now = now or utcnow()
    starts, ends = stats.month_bounds(now)
    labels = [f"{d:%Y-%m}" for d in starts]  # ISO, like every date (crm/i18n.py)
    active = stats.active_at_month_ends(session, starts, ends, now, current=subscribers)
    handled = [
        session.scalar(
            select(func.count()).where(
                DataRequest.completed_at >= start, DataRequest.completed_at < end
            )
        )
        or 0
        for start, end in zip(starts, ends, strict=True)
    ]
    runs = list(session.scalars(select(SyncRun).order_by(SyncRun.id.desc()).limit(10)))[::-1]
    pending = [sum(p.get("pending", 0) for p in json.loads(r.report).values()) for r in runs]
    return [
        Chart(_("Subscribers"), bars(active, labels, _("Subscribers"))),
        Chart(_("Requests handled"), bars(handled, labels, _("Requests handled"))),
        Chart(
            _("Sync: operations left after each run"),
            bars(
                pending,
                [format_day(r.started_at) for r in runs],
                _("Sync: operations left after each run"),
                ["#1e6b37" if r.ok else "#a4262c" for r in runs],
            ),
            "" if runs else _("No sync has run yet."),
        ),
    ]
