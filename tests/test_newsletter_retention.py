"""Retention of newsletter data: stale unconfirmed sign-ups are purged, nothing else."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func
from sqlalchemy import select

from crm.audit import Actor
from crm.db import get_session
from crm.db import utcnow
from crm.newsletter import common as newsletter_common
from crm.newsletter.models import Subscription
from crm.people.models import JournalEntry
from crm.people.models import Person
from crm.privacy import forget as privacy_forget
from tests.helpers import count_rows
from tests.helpers import signup
from tests.helpers import subscribe_confirmed


def test_purge_unconfirmed_signups(app, client, db, inbox):
    signup(client, "stale@example.se")
    signup(client, "fresh@example.se")
    with db() as s:
        stale = s.scalar(
            select(Subscription).join(Person).where(Person.email == "stale@example.se")
        )
        stale.created_at = utcnow() - timedelta(days=15)
        s.commit()
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["retention", "--dry-run"])
    assert "unconfirmed_signups: would delete 1" in dry.output and count_rows(db, Person) == 2
    result = runner.invoke(args=["retention"])
    assert result.exit_code == 0, result.output
    with db() as s:
        assert s.scalars(select(Person.email)).all() == ["fresh@example.se"]


def test_purging_a_stale_signup_keeps_a_patient_and_their_journal(app, client, db, inbox):
    """A patient who signs up on the website and never confirms keeps everything else."""
    signup(client, "patient@example.se")
    with db() as s:
        sub = s.scalar(
            select(Subscription).join(Person).where(Person.email == "patient@example.se")
        )
        sub.created_at = utcnow() - timedelta(days=15)
        s.add(JournalEntry(person_id=sub.person_id, text="Samtal 1", written_at=utcnow()))
        s.commit()
    result = app.test_cli_runner().invoke(args=["retention"])
    assert result.exit_code == 0, result.output
    with db() as s:
        assert s.scalars(select(Person.email)).all() == ["patient@example.se"]
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == 1
        assert s.scalar(select(func.count()).select_from(Subscription)) == 0  # only the sign-up
    # a patient (journal, no client card) who asks to be forgotten gets a request, not an
    # immediate erasure: the owner decides what the journal hold keeps
    subscribe_confirmed(client, inbox, "patient@example.se")
    with app.app_context():
        session = get_session()
        patient = newsletter_common.find_person(session, "patient@example.se")
        assert privacy_forget.forget(session, patient, Actor("public")) == "requested"
