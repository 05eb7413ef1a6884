"""Backup and restore: a round trip brings back every row of every table and every file."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select
from sqlalchemy import text

import crm.models  # noqa: F401
from crm.audit import verify_chain
from crm.db import Base
from tests.helpers import post_form
from tests.test_testimonials import _upload
from tests.test_testimonials import jpeg_with_gps


def _snapshot(db) -> dict[str, list[tuple]]:
    with db() as s:
        return {
            name: sorted(map(tuple, s.execute(select(table)).all()), key=repr)
            for name, table in Base.metadata.tables.items()
        }


def test_round_trip_restores_every_table_and_file(app, db, auth_client, tmp_path):
    if app.config["DATABASE_URL"].startswith("postgresql") and not shutil.which("pg_dump"):
        pytest.skip("needs pg_dump for PostgreSQL")
    post_form(auth_client, "/people/new", {"name": "Backa Upp", "personnummer": "811228-9874"})
    with db() as s:
        pid = s.scalar(text("SELECT id FROM person"))
    page = auth_client.get(f"/testimonials/new?person={pid}").get_data(as_text=True)
    assert page

    response = post_form(
        auth_client,
        "/testimonials/new",
        {"person_id": pid, "text": "Bra!", "display_mode": "first_name"},
        page=f"/testimonials/new?person={pid}",
    )
    tid = int(response.headers["Location"].rsplit("/", 1)[-1])
    _upload(auth_client, tid, jpeg_with_gps())
    before = _snapshot(db)
    media_dir = tmp_path / "instance" / "media"
    files_before = {p.name: p.read_bytes() for p in media_dir.iterdir()}

    target = tmp_path / "backup"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["backup", str(target)]).exit_code != 0  # never overwrites

    # things change after the backup
    post_form(auth_client, "/people/new", {"name": "Ny Efter Backup"})
    for p in media_dir.iterdir():
        p.unlink()
    assert _snapshot(db) != before

    app.extensions["crm.db"]["engine"].dispose()
    result = runner.invoke(args=["restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    assert _snapshot(db) == before
    assert {p.name: p.read_bytes() for p in media_dir.iterdir()} == files_before
    with db() as s:
        assert verify_chain(s).ok


def test_damaged_backup_is_refused_before_anything_changes(app, db, auth_client, tmp_path):
    if app.config["DATABASE_URL"].startswith("postgresql") and not shutil.which("pg_dump"):
        pytest.skip("needs pg_dump for PostgreSQL")
    post_form(auth_client, "/people/new", {"name": "Kvar"})
    target = tmp_path / "backup"
    assert app.test_cli_runner().invoke(args=["backup", str(target)]).exit_code == 0
    db_file = next(p for p in target.iterdir() if p.name.startswith("crm."))
    db_file.write_bytes(db_file.read_bytes()[:-10] + b"0123456789")
    result = app.test_cli_runner().invoke(args=["restore", str(target), "--yes"])
    assert result.exit_code != 0 and "damaged" in result.output
    with db() as s:
        assert s.scalar(text("SELECT name FROM person")) == "Kvar"
