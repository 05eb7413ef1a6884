"""CSV import (web and CLI) and the streamed export."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select

from crm.audit import Actor
from crm.newsletter import importer
from crm.newsletter import mailing_lists
from crm.newsletter import subscribers
from crm.newsletter import suppression
from crm.newsletter.importer import UNDATED_NOTE
from crm.newsletter.models import ConsentRecord
from crm.newsletter.models import Reason
from crm.newsletter.models import Subscription
from crm.people.models import Person
from tests.helpers import csrf_token

CSV = (
    "E-post;Namn;Samtycke\n"
    "anna@example.se;Anna Åberg;paper_form\n"
    "BERTIL@example.se;Bertil Öst;\n"
    "inte-en-adress;X;verbal\n"
    "cecilia@example.se;Cecilia;telepathy\n"
    "\n"
    "unsub@example.se;U;verbal\n"
    "supp@example.se;S;verbal\n"
)


def _run(db, data: bytes, dry_run=False, method="verbal"):
    with db() as s:
        report = importer.run(s, data, default_method=method, actor=Actor.cli(), dry_run=dry_run)
        s.commit() if not dry_run else s.rollback()
    return report


def _prepare_unsubscribed_and_suppressed(db):
    with db() as s:
        person = Person(name="U", email="unsub@example.se")
        s.add(person)
        s.flush()
        s.add(
            Subscription(
                person_id=person.id,
                list_id=mailing_lists.default_list(s).id,
                status="unsubscribed",
                source="manual",
            )
        )
        suppression.suppress(s, "supp@example.se", Reason.OBJECTION)
        s.commit()


def _statuses(db) -> dict[str, str]:
    with db() as s:
        return dict(
            s.execute(
                select(Person.email, Subscription.status).join(
                    Subscription, Subscription.person_id == Person.id
                )
            ).all()
        )


def test_semicolon_utf8_bom_with_errors_and_line_numbers(app, db):
    _prepare_unsubscribed_and_suppressed(db)
    report = _run(db, b"\xef\xbb\xbf" + CSV.encode())
    assert report.created == 2
    assert [(e.line, e.message) for e in report.errors] == [
        (4, "not a valid email address"),
        (5, "unknown consent method"),
    ]
    assert report.skipped_unsubscribed == 1 and report.skipped_suppressed == 1
    statuses = _statuses(db)
    assert statuses == {
        "anna@example.se": "active",
        "bertil@example.se": "active",
        "unsub@example.se": "unsubscribed",
    }
    with db() as s:
        assert (
            s.scalar(select(Person.name).where(Person.email == "anna@example.se")) == "Anna Åberg"
        )


def test_windows_1252_and_comma(app, db):
    data = "email,name\r\nd@example.se,Dörte Ärlig\r\n".encode("cp1252")
    report = _run(db, data)
    assert report.created == 1 and not report.errors
    with db() as s:
        assert s.scalar(select(Person.name)) == "Dörte Ärlig"


def test_reimport_is_idempotent_and_never_revives(app, db):
    _prepare_unsubscribed_and_suppressed(db)
    _run(db, CSV.encode())
    before = _statuses(db)
    again = _run(db, CSV.encode())
    assert again.created == 0 and again.already == 2
    assert _statuses(db) == before
    assert before["unsub@example.se"] == "unsubscribed"
    with db() as s:
        assert (
            s.scalar(
                select(func.count()).select_from(Person).where(Person.email == "supp@example.se")
            )
            == 0
        )


def test_batches_link_every_row_to_its_own_person(app, db, monkeypatch):
    """Across batch boundaries and with people who exist already, rows stay lined up.

    New ids come from MAX() on SQLite and from the sequence on PostgreSQL.
    """
    monkeypatch.setattr(importer, "BATCH", 3)
    with db() as s:
        s.add(Person(name="Finns Redan", email="p4@example.se"))
        s.add(Person(name="Annan", email="someone.else@example.se"))  # takes an id meanwhile
        s.commit()
    rows = "\n".join(f"p{i}@example.se;Namn {i};verbal" for i in range(11))
    report = _run(db, f"email;name;consent_method\n{rows}\n".encode())
    assert report.created == 11 and not report.errors
    with db() as s:
        pairs = s.execute(
            select(Person.email, Person.name, Subscription.id)
            .join(Subscription, Subscription.person_id == Person.id)
            .where(Person.email.like("p%@example.se"))
        ).all()
        assert len(pairs) == 11
        for email, name, _ in pairs:
            number = email.removeprefix("p").removesuffix("@example.se")
            assert name == ("Finns Redan" if number == "4" else f"Namn {number}")
        grants = s.execute(
            select(Person.email, func.count(ConsentRecord.id))
            .join(ConsentRecord, ConsentRecord.person_id == Person.id)
            .group_by(Person.email)
        ).all()
        assert dict(grants) == {f"p{i}@example.se": 1 for i in range(11)}


def test_dry_run_writes_nothing(app, db):
    report = _run(db, CSV.encode(), dry_run=True)
    assert report.created == 4
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 0


def test_file_without_email_column_is_refused(app, db):
    with pytest.raises(importer.ImportFileError):
        _run(db, b"namn;telefon\nA;1\n")
    with pytest.raises(importer.ImportFileError):
        _run(db, b"")


def _preview(auth_client):
    """Upload CSV through the web form: the dry-run preview (the file is kept for the import)."""
    page = auth_client.get("/newsletter/import").get_data(as_text=True)
    return auth_client.post(
        "/newsletter/import",
        data={
            "csrf_token": csrf_token(page),
            "method": "paper_form",
            "file": (io.BytesIO(CSV.encode()), "lista.csv"),
        },
        content_type="multipart/form-data",
    )


def test_web_import_preview_then_confirm(app, auth_client, db):
    preview = _preview(auth_client)
    body = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Förhandsgranskning" in body
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 0

    upload_id = re.search(r'name="upload_id" value="([0-9a-f]+)"', body).group(1)
    # the stored upload is encrypted: no address in clear on disk

    stored = (Path(app.instance_path) / "imports" / upload_id).read_bytes()
    assert b"anna@example.se" not in stored
    done = auth_client.post(
        "/newsletter/import/confirm",
        data={"csrf_token": csrf_token(body), "upload_id": upload_id, "method": "paper_form"},
    )
    assert done.status_code == 200 and len(_statuses(db)) == 4
    assert not (Path(app.instance_path) / "imports" / upload_id).exists()


def test_web_import_rejects_oversized_and_garbage(app, auth_client, db):
    app.config["IMPORT_MAX_BYTES"] = 100
    page = auth_client.get("/newsletter/import").get_data(as_text=True)
    big = auth_client.post(
        "/newsletter/import",
        data={
            "csrf_token": csrf_token(page),
            "method": "verbal",
            "file": (io.BytesIO(b"email\n" + b"a@example.se\n" * 50), "big.csv"),
        },
        content_type="multipart/form-data",
    )
    assert big.status_code == 413
    app.config["IMPORT_MAX_BYTES"] = 10_000
    garbage = auth_client.post(
        "/newsletter/import",
        data={
            "csrf_token": csrf_token(page),
            "method": "verbal",
            "file": (io.BytesIO(b"\x00\x01\x02binary"), "x.csv"),
        },
        content_type="multipart/form-data",
    )
    assert garbage.status_code == 422
    forged = auth_client.post(
        "/newsletter/import/confirm",
        data={"csrf_token": csrf_token(page), "upload_id": "../../etc/passwd", "method": "verbal"},
    )
    assert forged.status_code == 302


def test_cli_import_with_progress(app, db, tmp_path):
    path = tmp_path / "lista.csv"
    path.write_bytes(CSV.encode())
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["import-subscribers", str(path), "--dry-run"])
    assert "dry run" in dry.output and len(_statuses(db)) == 0
    result = runner.invoke(args=["import-subscribers", str(path), "--consent-method", "verbal"])
    assert "new 4" in result.output
    assert "line 4: not a valid email address" in result.output
    assert result.exit_code == 1  # rows with errors: a script notices
    assert len(_statuses(db)) == 4
    # the file gave no consent dates: the proof says so instead of passing off the import time
    with db() as s:
        notes = set(s.scalars(select(ConsentRecord.note)))
    assert notes == {UNDATED_NOTE}


def test_imported_consent_dates_are_kept_without_a_note(app, db, tmp_path):
    path = tmp_path / "daterad.csv"
    path.write_text("email;datum\nd@example.se;2024-03-01\n")
    result = app.test_cli_runner().invoke(
        args=["import-subscribers", str(path), "--consent-method", "paper_form"]
    )
    assert result.exit_code == 0, result.output
    with db() as s:
        record = s.scalar(select(ConsentRecord))
    assert record.note is None and record.occurred_at.date().isoformat() == "2024-03-01"


def test_export_is_streamed_csv(app, auth_client, db):
    _run(db, CSV.encode())
    response = auth_client.get("/newsletter/export.csv?status=active")
    assert response.is_streamed
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == list(subscribers.EXPORT_COLUMNS)
    assert sorted(r[0] for r in rows[1:]) == [
        "anna@example.se",
        "bertil@example.se",
        "supp@example.se",
        "unsub@example.se",
    ]


def test_abandoned_import_previews_are_deleted_by_retention(app, auth_client, db):
    """A preview never confirmed leaves an (encrypted) file of addresses: gone after a day."""
    body = _preview(auth_client).get_data(as_text=True)
    upload_id = re.search(r'name="upload_id" value="([0-9a-f]+)"', body).group(1)
    stored = Path(app.instance_path) / "imports" / upload_id
    runner = app.test_cli_runner()
    dry = ["retention", "--dry-run"]
    assert "import_previews: would delete 0" in runner.invoke(args=dry).output
    day_old = stored.stat().st_mtime - 25 * 3600
    os.utime(stored, (day_old, day_old))
    assert "import_previews: would delete 1" in runner.invoke(args=dry).output
    assert stored.exists()
    assert "import_previews: deleted 1" in runner.invoke(args=["retention"]).output
    assert not stored.exists()
