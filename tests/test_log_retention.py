"""Audit log retention: journal access logs five years, other logs twelve months, one chain.

Rows are written with the clock moved back (tests/timetravel.py), so they carry real chain
hashes and tags; retention runs years later, and ``crm audit verify`` must still pass.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy import update

from crm import audit
from crm.audit import Actor
from crm.audit import AuditEvent
from crm.db import utcnow
from crm.people.models import Person
from crm.privacy import retention
from crm.privacy.data_requests import add_months
from tests.timetravel import frozen

NOW = utcnow()


def _profile(db, profile: str) -> None:
    from crm import controllers

    with db() as s:
        first = controllers.first(s)
        first.profile, first.profession = profile, "psykolog" if profile == "A" else ""
        s.commit()


def _write(db, monkeypatch, months_ago: int, action: str, person_id: int | None = None) -> int:
    with frozen(monkeypatch, add_months(NOW, -months_ago)), db() as s:
        event = audit.record(
            s,
            Actor("user", user_id=1, ip="192.0.2.7"),
            action,
            object_type="person" if person_id else None,
            object_id=person_id,
            details={"fields": ["name"]},
        )
        s.commit()
        return event.seq


def _run(app, db, dry_run: bool = False):
    with db() as s:
        report = retention.run(s, now=NOW, dry_run=dry_run)
        s.rollback() if dry_run else s.commit()
    return report


def _seqs(db) -> dict[int, AuditEvent]:
    with db() as s:
        return {e.seq: e for e in s.scalars(select(AuditEvent))}


def test_profile_a_keeps_journal_access_five_years_and_strips_other_logs_after_twelve_months(
    app, db, monkeypatch
):
    _profile(db, "A")
    with db() as s:
        patient = Person(name="Patient")
        s.add(patient)
        s.commit()
        pid = patient.id
    old_view = _write(db, monkeypatch, 70, "person.view", pid)  # past five years
    old_login = _write(db, monkeypatch, 65, "auth.login")
    view = _write(db, monkeypatch, 40, "person.view", pid)  # inside five years
    login = _write(db, monkeypatch, 30, "auth.login")  # past twelve months
    reveal = _write(db, monkeypatch, 20, "person.reveal_health_notes", pid)
    recent = _write(db, monkeypatch, 2, "auth.login")

    dry = _run(app, db, dry_run=True)
    assert dry.deleted["audit_log"] == 2 and dry.stripped == 1  # old_view, old_login; login
    assert old_view in _seqs(db)  # a dry run changes nothing

    _run(app, db)
    rows = _seqs(db)
    assert old_view not in rows and old_login not in rows
    assert {view, login, reveal, recent} <= set(rows)
    assert rows[view].object_id == str(pid) and rows[view].ip == "192.0.2.7"
    stripped = rows[login]
    assert stripped.redacted_tag and stripped.ip is None and stripped.actor_user_id is None
    assert stripped.details == "{}" and stripped.action == "auth.login"  # the kind stays
    assert rows[recent].ip == "192.0.2.7"
    with db() as s:
        report = audit.verify_chain(s)
    assert report.ok, report
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output

    # a second run has nothing more to do, and the chain still verifies
    again = _run(app, db)
    assert again.deleted["audit_log"] == 0 and again.stripped == 0
    with db() as s:
        assert audit.verify_chain(s).ok


def test_profile_b_keeps_every_log_twelve_months(app, db, monkeypatch):
    _profile(db, "B")
    with db() as s:
        client = Person(name="Client")
        s.add(client)
        s.commit()
        pid = client.id
    _write(db, monkeypatch, 40, "person.view", pid)
    _write(db, monkeypatch, 13, "auth.login")
    kept = _write(db, monkeypatch, 11, "person.view", pid)
    report = _run(app, db)
    assert report.deleted["audit_log"] >= 2 and report.stripped == 0
    rows = _seqs(db)
    assert min(rows) == kept and rows[kept].object_id == str(pid)
    with db() as s:
        assert audit.verify_chain(s).ok


def test_a_stripped_row_cannot_be_forged_or_altered_without_the_key(app, db, monkeypatch):
    _profile(db, "A")
    _write(db, monkeypatch, 40, "person.view", 999)  # an erased patient: journal access
    login = _write(db, monkeypatch, 30, "auth.login")
    other = _write(db, monkeypatch, 29, "auth.login")
    _run(app, db)
    with db() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == login).values(action="x.forged"))
        s.commit()
        report = audit.verify_chain(s)
    assert not report.ok and report.broken_seq == login and "stripped row" in report.reason
    with db() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == login).values(action="auth.login"))
        # stripping a row by hand: the content no longer matches and there is no keyed mark
        s.execute(update(AuditEvent).where(AuditEvent.seq == other).values(ip=None))
        s.commit()
        report = audit.verify_chain(s)
    assert not report.ok and report.broken_seq == other


def test_key_rotation_retags_stripped_rows(app, db, monkeypatch, database_url):
    import base64

    from crm import create_app
    from tests.conftest import TEST_KEY
    from tests.conftest import app_config as config

    other_key = base64.urlsafe_b64encode(b"n" * 32).decode()

    _profile(db, "A")
    _write(db, monkeypatch, 40, "person.view", 999)
    _write(db, monkeypatch, 30, "auth.login")
    _write(db, monkeypatch, 1, "auth.login")
    assert _run(app, db).stripped == 1
    rotating = create_app(config(database_url, ENCRYPTION_KEY=f"{other_key},{TEST_KEY}"))
    rotating.instance_path = app.instance_path
    result = rotating.test_cli_runner().invoke(args=["rotate-keys"])
    assert result.exit_code == 0, result.output
    only_new = create_app(config(database_url, ENCRYPTION_KEY=other_key))
    only_new.instance_path = app.instance_path
    result = only_new.test_cli_runner().invoke(args=["audit", "verify"])
    rotating.extensions["crm.db"]["engine"].dispose()
    only_new.extensions["crm.db"]["engine"].dispose()
    assert result.exit_code == 0, result.output


def test_dry_run_lists_the_log_rules(app, db, monkeypatch):
    _write(db, monkeypatch, 13, "auth.login")
    result = app.test_cli_runner().invoke(args=["retention", "--dry-run"])
    assert "audit_log: would delete" in result.output
    assert "audit_log_stripped: would strip 0" in result.output
