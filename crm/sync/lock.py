"""One sync at a time: a second run exits at once and says so.

SQLite: an exclusive ``flock`` on instance/sync.lock. PostgreSQL: a session advisory lock.
Both are released by the operating system or the server when the process dies, so a run
killed with SIGKILL never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import current_app
from sqlalchemy import text

from crm.db import engine
from crm.fsutil import private_dir
from crm.fsutil import private_fd

ADVISORY_KEY = 0x63726D73  # "crms"


class SyncAlreadyRunning(RuntimeError):
    """Another sync holds the lock."""


@contextmanager
def sync_lock() -> Iterator[None]:
    """Hold the sync lock for the block, or raise :class:`SyncAlreadyRunning` at once."""
    eng = engine()
    if eng.dialect.name == "postgresql":
        with eng.connect() as conn:
            if not conn.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}
            ).scalar():
                raise SyncAlreadyRunning("another sync is running")
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
        return
    path = Path(current_app.instance_path) / "sync.lock"
    private_dir(path.parent)
    fd = private_fd(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise SyncAlreadyRunning("another sync is running") from err
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
