"""Time for an unsubscribe and an erasure to reach every provider behind a backlog of upserts.

Goal (issue 13, "Outbox lanes"): with each provider's published rate limits switched on in
the local fakes (tests/fakes.py ``limits``: MailerLite 120/min and 5 imports/min, Mailchimp
10 connections, Brevo 10/s on /contacts), N pending upserts per provider followed by one
unsubscribe and one erasure are confirmed at every provider at most 1.5 times as late as the
same two operations with no backlog (the baseline, measured in the same run), and within the
first minute of the first sync run.

Each scenario starts from a fresh database and fresh fakes: two subscribers are synced, N
more are imported (the backlog), one of the two unsubscribes and the other is erased, then
one sync run starts and the fakes are polled until every provider shows the unsubscribe and
has forgotten the erased address. Real time, real HTTP on 127.0.0.1; median of ROUNDS,
after one unmeasured warm-up run.

    .venv/bin/python bench/propagation.py [N] [ROUNDS]      # 10000 3; e.g. 1000 1 for CI
"""

from __future__ import annotations

import gc
import statistics
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from _common import bench_app
from _common import tmpdir

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm.audit import Actor  # noqa: E402
from crm.db import get_session  # noqa: E402
from crm.newsletter import common as newsletter_common  # noqa: E402
from crm.newsletter import importer  # noqa: E402
from crm.newsletter import unsubscribing  # noqa: E402
from crm.newsletter.models import Method  # noqa: E402
from crm.privacy import forget  # noqa: E402
from crm.sync import runner  # noqa: E402
from tests.fakes import serve  # noqa: E402

PROVIDERS = ("mailerlite", "mailchimp", "brevo")
UNSUB, ERASED = "u@example.se", "e@example.se"
#: upsert time per provider in the measured run (the legal operations come before it)
BUDGET = 20


def _import(db, emails: list[str]) -> None:
    csv = "email;name\n" + "".join(f"{e};{e.split('@')[0]}\n" for e in emails)
    importer.run(db, csv.encode(), default_method="verbal", actor=Actor.cli())
    db.commit()


def scenario(backlog: int) -> dict[str, float]:
    """One fresh run; seconds from the sync's start until each operation is everywhere."""
    with ExitStack() as stack:
        fakes = {name: stack.enter_context(serve(name)) for name in PROVIDERS}
        app = bench_app(tmpdir())
        for name, fake in fakes.items():
            fake.limits = True
            prefix = name.upper()
            app.config[f"{prefix}_API_KEY"] = "key-us1"
            app.config[f"{prefix}_{'GROUP_ID' if name == 'mailerlite' else 'LIST_ID'}"] = "7"
            app.config[f"{prefix}_BASE_URL"] = fake.url
        app.config["SYNC_PUSH_SECONDS"] = BUDGET
        with app.app_context():
            db = get_session()
            _import(db, [UNSUB, ERASED])
            assert runner.run_sync(db).ok
            _import(db, [f"b{i}@example.se" for i in range(backlog)])
            unsubscribing.unsubscribe(
                db, newsletter_common.find_person(db, UNSUB), Method.ONE_CLICK, Actor.cli()
            )
            assert (
                forget.forget(db, newsletter_common.find_person(db, ERASED), Actor.cli())
                == "erased"
            )
            db.commit()
            if db.get_bind().dialect.name == "sqlite":
                # the setup's writes sit in the WAL; a checkpoint inside the measured run
                # would be the import's cost, not the sync's (cron runs long after imports)
                db.connection().exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                db.commit()
            report: list[runner.SyncReport] = []

            def run() -> None:
                with app.app_context():
                    report.append(runner.run_sync(get_session()))

            seen: dict[str, float] = {}
            thread = threading.Thread(target=run)
            gc.collect()  # the backlog's import leaves garbage: not the sync's to collect
            start = time.perf_counter()
            thread.start()
            while len(seen) < 2 and thread.is_alive():
                now = time.perf_counter() - start
                if "unsubscribe" not in seen and all(
                    f.status(UNSUB) == "unsubscribed" for f in fakes.values()
                ):
                    seen["unsubscribe"] = now
                if "erasure" not in seen and all(ERASED in f.forgotten for f in fakes.values()):
                    seen["erasure"] = now
                time.sleep(0.001)
            thread.join()
            seen["run"] = time.perf_counter() - start
            r = report[0].providers
            seen["upserts sent"] = sum(p.pushed for p in r.values()) - 2 * len(r)
            seen["failed"] = sum(p.failed for p in r.values())
            seen["refused 429"] = sum(sum(f.throttled.values()) for f in fakes.values())
            return seen


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    results: dict[str, list[dict[str, float]]] = {"baseline": [], "backlog": []}
    scenario(0)  # unmeasured: the process's first run pays for imports and statement caches
    for _ in range(rounds):
        results["baseline"].append(scenario(0))
        results["backlog"].append(scenario(n))
    print(f"{n} pending upserts per provider, published limits on, {rounds} round(s), median:")
    medians = {}
    for name, runs in results.items():
        medians[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        m = medians[name]
        print(
            f"  {name:8s} unsubscribe {m['unsubscribe'] * 1000:7.0f} ms  erasure "
            f"{m['erasure'] * 1000:7.0f} ms  (whole run {m['run']:.1f} s, upserts sent "
            f"{m['upserts sent']:.0f}, failed {m['failed']:.0f}, 429s {m['refused 429']:.0f})"
        )
    for op in ("unsubscribe", "erasure"):
        ratio = medians["backlog"][op] / medians["baseline"][op]
        within = medians["backlog"][op] < 60
        print(
            f"  {op:11s} ratio {ratio:.2f} (goal <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'});"
            f" within the first minute: {'yes' if within else 'NO'}"
        )


if __name__ == "__main__":
    main()
