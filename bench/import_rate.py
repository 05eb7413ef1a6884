"""Import of 100,000 CSV rows, next to raw SQLite executemany in the same run.

Goal (Newsletter issue): >= 20,000 rows/s. The baseline is what SQLite itself manages when
Python hands it the same rows with executemany into an indexed table, so the ratio shows how
much the import's own work (parsing, validation, suppression hashing, three tables, audit)
costs on this machine.

    .venv/bin/python bench/import_rate.py [ROWS]
"""

from __future__ import annotations

import sqlite3
import sys
import time

from _common import bench_app
from _common import tmpdir

from crm.audit import Actor
from crm.db import get_session
from crm.newsletter import importer


def make_csv(rows: int) -> bytes:
    lines = ["email;name;consent_method"]
    lines += [f"person{i}@example.se;Person Nummer {i};verbal" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def baseline(rows: int, path: str) -> float:
    """Rows per second for plain executemany into an indexed two-column table."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT UNIQUE, name TEXT)")
    data = [(f"person{i}@example.se", f"Person Nummer {i}") for i in range(rows)]
    start = time.perf_counter()
    conn.executemany("INSERT INTO t (email, name) VALUES (?, ?)", data)
    conn.commit()
    elapsed = time.perf_counter() - start
    conn.close()
    return rows / elapsed


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    tmp = tmpdir()
    app = bench_app(tmp)
    data = make_csv(rows)
    with app.app_context():
        db = get_session()
        start = time.perf_counter()
        report = importer.run(db, data, default_method="verbal", actor=Actor.cli())
        db.commit()
        elapsed = time.perf_counter() - start
    assert report.created == rows, report
    rate = rows / elapsed
    base = baseline(rows, str(tmp / "baseline.sqlite3"))
    print(f"database: {app.config['DATABASE_URL'].split(':')[0]}")
    print(f"import:   {rows} rows in {elapsed:.2f} s = {rate:,.0f} rows/s (goal >= 20,000)")
    print(f"baseline: raw sqlite3 executemany = {base:,.0f} rows/s")
    print(f"ratio:    import / baseline = {rate / base:.3f}")


if __name__ == "__main__":
    main()
