"""Backups: a consistent online copy of the database plus the (already encrypted) media files.

SQLite is copied with SQLite's online backup API, which gives a consistent snapshot while the
app keeps running. PostgreSQL is dumped with ``pg_dump --format=custom`` (and restored with
``pg_restore --clean``) when those tools are installed; otherwise the command says how.
Encryption keys are never part of a backup: the copy is useless without CRM_ENCRYPTION_KEY,
which must be kept somewhere else. A manifest with checksums lets restore refuse a damaged
backup before touching anything. Everything is written owner-only (crm/fsutil.py): the backup
folder 0700, its files 0600, and so is whatever a restore writes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL
from sqlalchemy.engine import make_url

from crm import fsutil
from crm.db import utcnow

MANIFEST = "manifest.json"


class BackupError(RuntimeError):
    """The backup or restore could not be done; nothing was changed."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A SQLAlchemy URL as libpq wants it (pg_dump does not know "+psycopg"), and its environment.

    The password goes into ``PGPASSWORD`` in the child's environment, never into argv: a
    command line is readable by every user of the machine (``ps``, /proc/PID/cmdline), while
    /proc/PID/environ is readable only by the process's owner. libpq reads ``PGPASSWORD``
    (https://www.postgresql.org/docs/current/libpq-envars.html) when the URL has no password.
    """
    parsed = make_url(url)
    password = parsed.password
    query = dict(parsed.query)
    if password is None and "password" in query:  # postgresql://host/db?password=...
        password = str(query.pop("password"))
    conninfo = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=query,
    )
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return conninfo.render_as_string(hide_password=False), env


def _sqlite_path(database_url: str) -> str:
    """The file of a SQLite URL (``sqlite://`` names none: nothing to back up or restore)."""
    path = make_url(database_url).database
    if not path:
        raise BackupError("the SQLite database URL names no file")
    return path


def backup(database_url: str, instance_path: Path, target: Path) -> dict:
    """Write a backup into ``target`` (a new directory); return its manifest."""
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty")
    fsutil.private_dir(target)
    if database_url.startswith("sqlite"):
        source = sqlite3.connect(_sqlite_path(database_url))
        fsutil.create_private(target / "crm.sqlite3")  # SQLite keeps an existing file's mode
        dest = sqlite3.connect(target / "crm.sqlite3")
        with dest:
            source.backup(dest)
        dest.close()
        source.close()
        db_file = "crm.sqlite3"
    else:
        if not shutil.which("pg_dump"):
            raise BackupError(
                "pg_dump is not installed; run: pg_dump --format=custom "
                '--file=crm.dump "$DATABASE_URL"'
            )
        conninfo, env = _libpq(database_url)
        fsutil.create_private(target / "crm.dump")  # pg_dump truncates it, keeping the mode
        subprocess.run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                f"--file={target / 'crm.dump'}",
                conninfo,
            ],
            check=True,
            capture_output=True,
            env=env,
        )
        db_file = "crm.dump"
    media = instance_path / "media"
    if media.exists():
        fsutil.copy_tree_private(media, target / "media")
    files = (
        [db_file]
        + sorted(str(p.relative_to(target)) for p in (target / "media").rglob("*") if p.is_file())
        if (target / "media").exists()
        else [db_file]
    )
    fsutil.tighten_tree(target)  # whatever pg_dump or a copied file brought along
    manifest = {
        "created_at": utcnow().isoformat(),
        "database": db_file,
        "files": {name: _sha256(target / name) for name in files},
    }
    fsutil.create_private(target / MANIFEST, json.dumps(manifest, indent=2).encode())
    return manifest


def verify(source: Path) -> dict:
    """Check a backup's files against its manifest; return the manifest."""
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as err:
        raise BackupError(f"{source} has no readable {MANIFEST}") from err
    for name, digest in manifest["files"].items():
        path = source / name
        if not path.exists() or _sha256(path) != digest:
            raise BackupError(f"{name} is missing or damaged")
    return manifest


def restore(database_url: str, instance_path: Path, source: Path) -> None:
    """Replace the database and media with a verified backup (stop the app first)."""
    manifest = verify(source)
    if database_url.startswith("sqlite"):
        if manifest["database"] != "crm.sqlite3":
            raise BackupError("this backup is of a PostgreSQL database")
        target_path = Path(_sqlite_path(database_url))
        fsutil.prepare_sqlite_file(target_path)
        src = sqlite3.connect(source / "crm.sqlite3")
        dest = sqlite3.connect(target_path)
        with dest:
            src.backup(dest)
        dest.close()
        src.close()
    else:
        if manifest["database"] != "crm.dump":
            raise BackupError("this backup is of a SQLite database")
        if not shutil.which("pg_restore"):
            raise BackupError(
                "pg_restore is not installed; run: pg_restore --clean "
                '--if-exists --no-owner --dbname="$DATABASE_URL" crm.dump'
            )
        conninfo, env = _libpq(database_url)
        subprocess.run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                f"--dbname={conninfo}",
                str(source / "crm.dump"),
            ],
            check=True,
            capture_output=True,
            env=env,
        )
    media = instance_path / "media"
    if (source / "media").exists():
        if media.exists():
            shutil.rmtree(media)
        fsutil.copy_tree_private(source / "media", media)
