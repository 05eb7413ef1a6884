"""Exports at full size: subscriber CSV peak RSS, and one person's access export.

1. Seeds 100,000 subscribers (bench/seed.py), then starts a fresh Python process that logs in
   and streams ``/newsletter/export.csv`` through the WSGI app, sampling its resident memory
   after every chunk. The baseline is the same process's RSS just before the export (app
   loaded, logged in). Goal (Scale issue): peak RSS <= 150 MB.
2. Gives one person 1,000 related rows (400 encrypted journal entries, 300 consent records,
   300 audit events) and times ``export.build`` (the zip the owner downloads), against the
   export of a person with no related rows. Goal: <= 200 ms.

    .venv/bin/python bench/exports.py
    CRM_BENCH_DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/exports.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import bench_app
from _common import bench_env
from _common import create_owner
from _common import login
from _common import tmpdir
from seed import seed

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm import audit  # noqa: E402
from crm.audit import Actor  # noqa: E402
from crm.db import get_session  # noqa: E402
from crm.db import utcnow  # noqa: E402
from crm.newsletter.models import ConsentRecord  # noqa: E402
from crm.people.models import JournalEntry  # noqa: E402
from crm.people.models import Person  # noqa: E402
from crm.privacy import export  # noqa: E402

RUNS = 20
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """Resident memory of this process now (not the peak so far, which seeding would skew)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def child_stream_csv() -> None:
    """Run in a fresh process: log in, stream the export, print RSS figures as JSON."""
    from crm import create_app

    app = create_app({"BASE_URL": "http://127.0.0.1", "REQUIRE_MFA": False})
    client = app.test_client()
    login(client)
    assert client.get("/newsletter/").status_code == 200
    before = rss_mb()
    peak, size, lines = before, 0, 0
    start = time.perf_counter()
    response = client.get("/newsletter/export.csv", buffered=False)
    assert response.status_code == 200, response.status_code
    for chunk in response.response:
        size += len(chunk)
        lines += chunk.count("\n" if isinstance(chunk, str) else b"\n")
        peak = max(peak, rss_mb())
    response.close()
    seconds = time.perf_counter() - start
    print(json.dumps({"before": before, "peak": peak, "bytes": size, "lines": lines, "s": seconds}))


def add_related_rows(app) -> tuple[int, int]:
    """One person with 1,000 related rows and one with none; returns their ids."""
    with app.app_context():
        db = get_session()
        busy = Person(name="Mätt Person", email="matt@example.se")
        empty = Person(name="Tom Person", email="tom@example.se")
        db.add_all([busy, empty])
        db.flush()
        now = utcnow()
        db.add_all(
            JournalEntry(person_id=busy.id, written_at=now, text=f"Anteckning {i}: " + "x" * 200)
            for i in range(400)
        )
        db.add_all(
            ConsentRecord(person_id=busy.id, action="grant", method="form", occurred_at=now)
            for _ in range(300)
        )
        for i in range(300):
            audit.record(
                db,
                Actor.cli(),
                "person.update",
                object_type="person",
                object_id=busy.id,
                details={"n": i},
            )
        db.commit()
        return busy.id, empty.id


def time_access_export(app, person_id: int) -> float:
    """p95 milliseconds of building one person's export zip."""
    times = []
    with app.test_request_context():
        db = get_session()
        person = db.get(Person, person_id)
        for _ in range(RUNS):
            start = time.perf_counter()
            export.build(db, person)
            times.append((time.perf_counter() - start) * 1000)
            db.expire_all()
    return statistics.quantiles(times, n=20)[18]


def main() -> None:
    tmp = tmpdir()
    app = bench_app(tmp)
    seed(app)
    create_owner(app)
    env = {**os.environ, **bench_env(tmp)}
    out = subprocess.run(
        [sys.executable, __file__, "--child"], env=env, capture_output=True, text=True, check=True
    )
    csv = json.loads(out.stdout.strip().splitlines()[-1])
    busy, empty = add_related_rows(app)
    base_ms = time_access_export(app, empty)
    busy_ms = time_access_export(app, busy)
    print(f"database: {app.config['DATABASE_URL'].split(':')[0]}")
    print(
        f"subscriber CSV: {csv['lines'] - 1} rows, {csv['bytes'] / 2**20:.1f} MB in "
        f"{csv['s']:.1f} s; RSS before {csv['before']:.0f} MB, peak {csv['peak']:.0f} MB "
        f"(ratio {csv['peak'] / csv['before']:.2f}); "
        f"{'ok' if csv['peak'] <= 150 else 'OVER GOAL'} (goal <= 150 MB)"
    )
    print(
        f"access export p95 of {RUNS}: 0 related rows {base_ms:.1f} ms, 1,000 related rows "
        f"{busy_ms:.1f} ms (ratio {busy_ms / base_ms:.1f}); "
        f"{'ok' if busy_ms <= 200 else 'OVER GOAL'} (goal <= 200 ms)"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        child_stream_csv()
    else:
        main()
