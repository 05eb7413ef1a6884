"""The sync: per provider, pull -> apply locally -> push the outbox -> store the cursor.

Crash-safe by construction: events are stored before they are applied, each batch of outbox
operations is committed as soon as the provider answered, and every provider operation is
idempotent - so a run killed at any point loses nothing and the next one carries on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta

from flask import current_app
from flask import has_request_context
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

import integrations
from crm import audit
from crm import provider_settings
from crm.audit import Actor
from crm.db import utcnow
from crm.outbox import OutboxOp
from crm.privacy import erasure
from crm.sync import events
from crm.sync import push
from crm.sync.models import ProviderState
from crm.sync.models import SyncRun
from crm.sync.report import ProviderReport
from crm.sync.report import SyncReport
from integrations.base import ProviderAdapter
from integrations.errors import IntegrationError
from integrations.errors import OperationNotSupported

#: Pull windows overlap by this much: offset-paged listings can skip rows that change mid-scan.
OVERLAP = timedelta(hours=24)


def adapters(session: Session) -> list[ProviderAdapter]:
    """Adapters for every provider configured, or entered on the integrations page."""
    cfg = current_app.config
    return integrations.enabled_adapters(
        provider_settings.effective_config(session, cfg),
        timeout=float(cfg["SYNC_TIMEOUT"]),
        max_retries=int(cfg["SYNC_MAX_RETRIES"]),
    )


def _pending(session: Session, provider: str) -> int:
    return (
        session.scalar(
            select(func.count()).where(OutboxOp.provider == provider, OutboxOp.status == "pending")
        )
        or 0
    )


def pull(
    session: Session,
    adapter: ProviderAdapter,
    report: ProviderReport,
    progress: Callable[[str], None],
) -> None:
    """Fetch a provider's changes since its cursor (minus the overlap), store and apply them."""
    state = session.get(ProviderState, adapter.name) or ProviderState(provider=adapter.name)
    session.add(state)
    started = utcnow()
    try:
        since = state.cursor - OVERLAP if state.cursor else None
        progress(
            f"{adapter.name}: pulling changes" + (f" since {since:%Y-%m-%d %H:%M}" if since else "")
        )
        report.pulled = len(events.store_events(session, adapter.fetch_events(since), "pull"))
        report.applied = events.apply_events(session, adapter.name)
        state.cursor = started
        session.commit()
        progress(f"{adapter.name}: {report.pulled} new events, {report.applied} applied")
    except OperationNotSupported:
        # e.g. Paloma lists no opt-outs: nothing is pulled and the cursor stays; the README
        # and the integrations page say how to bring them in by hand
        session.rollback()
        progress(f"{adapter.name}: changes cannot be pulled through its API (see README)")
    except IntegrationError as err:
        session.rollback()
        report.error = str(err)
        progress(f"{adapter.name}: pull FAILED: {err}")


def run_sync(
    session: Session,
    *,
    trigger: str = "cli",
    progress: Callable[[str], None] = lambda _line: None,
    only: str | None = None,
) -> SyncReport:
    """Run every configured provider (or ``only`` one), store and return the report.

    All pulls come first, then all pushes: an unsubscribe made at the provider processed last
    still reaches the providers processed before it in the same run. The caller holds the
    lock (:func:`crm.sync.lock.sync_lock`).
    """
    if not has_request_context():
        # Signed unsubscribe links are built for every pushed contact: one context for all.
        with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
            return run_sync(session, trigger=trigger, progress=progress, only=only)
    run = SyncRun(trigger=trigger)
    session.add(run)
    session.commit()
    report = SyncReport()
    active = [a for a in adapters(session) if not only or a.name == only]
    try:
        for adapter in active:
            report.providers[adapter.name] = ProviderReport()
            pull(session, adapter, report.providers[adapter.name], progress)
        push.deliver(
            session,
            active,
            report.providers,
            progress,
            budget=float(current_app.config["SYNC_PUSH_SECONDS"]),
        )
        for adapter in active:
            report.providers[adapter.name].pending = _pending(session, adapter.name)
            report.providers[adapter.name].calls = adapter.calls
    finally:
        for adapter in active:
            adapter.close()
    # erasure requests whose providers all confirmed are complete now
    erasure.complete_waiting(session)
    run.finished_at = utcnow()
    report.duration = (run.finished_at - run.started_at).total_seconds()
    run.ok = report.ok
    run.report = json.dumps({name: asdict(r) for name, r in report.providers.items()})
    audit.record(
        session,
        Actor.system(),
        "sync.run",
        obj=run,
        details={"ok": run.ok, "providers": sorted(report.providers)},
    )
    session.commit()
    return report


def format_report(report: SyncReport) -> list[str]:
    """Human lines for stdout and the page."""
    lines = []
    for name, r in report.providers.items():
        line = (
            f"{name}: pulled {r.pulled}, applied {r.applied}, pushed {r.pushed}, "
            f"failed {r.failed}, pending {r.pending}, calls {r.calls}"
        ) + (f", manual {r.manual}" if r.manual else "")
        if r.deferred:
            line += f", {r.deferred} left for the next run (rate limit)"
        lines.append(line + (f" - ERROR {r.error}" if r.error else ""))
    lines.append(f"{'OK' if report.ok else 'NOT DONE'} in {report.duration:.1f} s")
    return lines
