"""The nightly job: ``crm sync`` followed by ``crm retention``, for cron or a systemd timer.

It also keeps the subscriber figure of each month that has closed, for the dashboard, and
exports the audit checkpoint (file and/or owners' mail, see crm/privacy/checkpoint.py).

Exits 0 only when the sync left nothing pending, retention ran and the audit checkpoint was
verified and delivered; 75 when another sync is already running; 1 otherwise. The output is
the same report ``crm sync`` prints, followed by the checkpoint.
"""

from __future__ import annotations

import sys

from crm import create_app
from crm.db import get_session
from crm.newsletter import stats as newsletter_stats
from crm.privacy import checkpoint as audit_checkpoint
from crm.privacy import retention
from crm.sync import lock
from crm.sync import runner


def main() -> int:
    """Run the sync, then retention; return the process exit code."""
    app = create_app()
    with app.app_context():
        db = get_session()
        try:
            with lock.sync_lock():
                report = runner.run_sync(
                    db, trigger="nightly", progress=lambda line: print(line, file=sys.stderr)
                )
        except lock.SyncAlreadyRunning:
            print(
                "Another sync is running; this one exits without doing anything.", file=sys.stderr
            )
            return 75
        for line in runner.format_report(report):
            print(line)
        kept = retention.run(db)
        db.commit()
        newsletter_stats.record_recent_months(db)
        db.commit()
        print(
            "retention: "
            + ", ".join(f"{rule} {n}" for rule, n in kept.deleted.items())
            + f"; decisions waiting {len(kept.decisions)}"
        )
        exported = audit_checkpoint.export(db)
        db.rollback()  # verifying reads only; nothing to keep
        if exported.broken:
            print(f"audit trail BROKEN: {exported.broken}", file=sys.stderr)
        else:
            assert exported.checkpoint is not None
            print(f"audit checkpoint: {exported.checkpoint.line()}")
        for problem in exported.problems:
            print(f"audit checkpoint: {problem}", file=sys.stderr)
        if exported.warning:
            print(f"audit checkpoint: {exported.warning}", file=sys.stderr)
        return 0 if report.ok and exported.ok else 1


if __name__ == "__main__":
    sys.exit(main())
