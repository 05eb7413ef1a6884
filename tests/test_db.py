"""The database kernel: SQLite pragmas, UTC datetimes, and the audit page's filters."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from crm import db as crm_db
from crm.db import UTCDateTime
from tests.helpers import post_form


def test_sqlite_runs_with_wal_foreign_keys_and_busy_timeout(app, db):
    with db() as s:
        if s.bind.dialect.name != "sqlite":
            pytest.skip("SQLite only")
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert s.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_foreign_keys_are_enforced_on_both_databases(app, db):
    with db() as s:
        with pytest.raises(IntegrityError):
            s.execute(
                text(
                    "INSERT INTO visit (person_id, visited_on, created_at) "
                    "VALUES (424242, '2026-01-01', '2026-01-01 00:00:00+00')"
                )
            )
            s.flush()
        s.rollback()


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1), None)


def test_audit_page_filters(app, auth_client):
    post_form(auth_client, "/people/new", {"name": "Filtrerad"})
    page = auth_client.get("/audit?action=person.").get_data(as_text=True).split("<table")[1]
    assert "Person tillagd" in page and "Loggade in" not in page
    page = auth_client.get("/audit?action=auth.&since=2000-01-01&until=2100-01-01")
    assert "Loggade in" in page.get_data(as_text=True).split("<table")[1]
    assert auth_client.get("/audit?since=garbage&page=x&actor=abc").status_code == 200


def test_sqlite_writers_queue_on_the_writer_lock(tmp_path, monkeypatch):
    """A second writer waits for the first and then proceeds; one that waits too long fails."""
    monkeypatch.setattr(crm_db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    engine = crm_db.make_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    first = engine.raw_connection()
    first.cursor().execute("INSERT INTO t VALUES (1)")  # holds the writer lock, uncommitted
    second = engine.raw_connection()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        second.cursor().execute("INSERT INTO t VALUES (2)")
    second.rollback()
    done = threading.Event()

    def write() -> None:
        third = engine.raw_connection()
        third.cursor().execute("INSERT INTO t VALUES (3)")
        third.commit()
        third.close()
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    assert not done.wait(0.05)  # waiting for the first writer
    first.commit()
    thread.join(5)
    assert done.is_set()
    first.close()
    second.close()
    with engine.connect() as conn:
        assert sorted(r[0] for r in conn.exec_driver_sql("SELECT n FROM t")) == [1, 3]
    engine.dispose()
