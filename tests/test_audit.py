"""The hash-chained audit trail: verification finds altered, removed and truncated rows."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from crm import audit
from crm.audit import Actor
from crm.audit import AuditEvent
from crm.auth.models import User
from crm.newsletter.models import MailingList
from crm.people.models import Person


def _write(db, n: int) -> None:
    with db() as s:
        for i in range(n):
            audit.record(
                s,
                Actor.system(),
                "test.event",
                object_type="thing",
                object_id=i,
                details={"fields": ["name"]},
            )
        s.commit()


def test_intact_chain_verifies(app, db):
    _write(db, 5)
    with db() as s:
        report = audit.verify_chain(s)
    assert report.ok and report.checked == 5


def test_altered_row_is_found(app, db):
    _write(db, 5)
    with db() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(action="test.forged"))
        s.commit()
        report = audit.verify_chain(s)
    assert not report.ok and report.broken_seq == 3 and "altered" in report.reason


def test_removed_row_is_found(app, db):
    _write(db, 5)
    with db() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
        s.commit()
        report = audit.verify_chain(s)
    assert not report.ok and report.broken_seq == 2


def test_removed_newest_row_is_found(app, db):
    _write(db, 5)
    with db() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == 5))
        s.commit()
        report = audit.verify_chain(s)
    assert not report.ok and report.broken_seq == 5


def test_cli_verify_reports_and_exits_non_zero(app, db):
    _write(db, 3)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "3 entries" in ok.output
    with db() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(ip="10.9.9.9"))
        s.commit()
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1 and "entry 2" in broken.output


def test_concurrent_writers_do_not_fork_the_chain(app, db):
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            _write(db, 10)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with db() as s:
        report = audit.verify_chain(s)
        seqs = s.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
    assert report.ok, report
    assert seqs == list(range(1, 41))


def test_an_entry_about_a_row_names_its_table_and_id(app, db, make_person):
    """``obj=`` writes what the calls wrote out by hand: the table name and the id."""
    person_id = make_person()
    with db() as s:
        person = s.get(Person, person_id)
        by_row = audit.record(s, Actor.system(), "test.event", obj=person)
        by_hand = audit.record(
            s, Actor.system(), "test.event", object_type="person", object_id=person_id
        )
        s.commit()
    assert (by_row.object_type, by_row.object_id) == ("person", str(person_id))
    assert (by_row.object_type, by_row.object_id) == (by_hand.object_type, by_hand.object_id)


def test_an_entry_names_its_object_one_way(app, db, make_person):
    person_id = make_person()
    with db() as s, pytest.raises(TypeError):
        audit.record(
            s, Actor.system(), "test.event", obj=s.get(Person, person_id), object_type="person"
        )


def test_a_model_keeps_the_name_its_entries_always_had(app, db, make_person):
    """Entries about accounts and lists were always "user" and "list", not their table names."""
    with db() as s:
        owner = User(email="o@example.se", name="O", role="owner", password_hash="x", locale="sv")
        mlist = MailingList(name="Extra")
        s.add_all([owner, mlist])
        s.flush()
        about_owner = audit.record(s, Actor.system(), "test.event", obj=owner)
        about_list = audit.record(s, Actor.system(), "test.event", obj=mlist)
        s.commit()
    assert (about_owner.object_type, about_owner.object_id) == ("user", str(owner.id))
    assert (about_list.object_type, about_list.object_id) == ("list", str(mlist.id))
