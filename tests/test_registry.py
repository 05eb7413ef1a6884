"""The person registry (crm/privacy/registry.py) is complete: no person-linked table escapes.

Walks ``Base.metadata``: every table with a foreign key to ``person`` (directly or through a
table that has one) must be claimed by a feature's holder, read by a real export and emptied
of the person by a real erasure. A new table that refers to a person fails here until its
feature declares it in its ``personal_data.py`` and ``sample_person`` below gives it a row.
"""

from __future__ import annotations

import ast
import io
import json
import re
import zipfile
from datetime import date
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy.orm import Session

import crm.models  # noqa: F401
from crm import controllers
from crm.audit import Actor
from crm.db import Base
from crm.db import get_session
from crm.db import utcnow
from crm.newsletter import mailing_lists
from crm.newsletter import subscribing
from crm.outbox import Op
from crm.outbox import ProviderLink
from crm.outbox import enqueue
from crm.people import care as people_care
from crm.people import health
from crm.people import purchases
from crm.people import services as people
from crm.people.models import Person
from crm.privacy import data_requests
from crm.privacy import erasure
from crm.privacy import export
from crm.privacy import portal
from crm.privacy import registry
from crm.privacy.export import SCHEMA
from crm.privacy.models import LegalHold
from crm.privacy.models import RecipientTask
from crm.representatives import services as representatives
from crm.testimonials import publications
from crm.testimonials import services as testimonials
from tests.test_testimonials import jpeg_with_gps

EMAIL = "sara.sample@example.se"
NAME = "Sara Samplesson"
PHONE = "070-7654321"
PERSONNUMMER = "811228-9874"


def sample_person(s: Session) -> int:
    """A person with a row in every person-linked table, made through the features' services.

    In an app context; returns the person's id. Nothing blocks a full erasure: the legal hold
    has ended and the one manual publication was taken down.
    """
    actor = Actor.cli()
    person = people.create_person(
        s,
        people.PersonData(name=NAME, email=EMAIL, phone=PHONE, personnummer=PERSONNUMMER),
        actor,
    )
    health.grant(s, person, "signed_form", actor)  # Art. 9(2)(a): before any health note
    people_care.update_client_card(
        s, person, people_care.ClientCardData(None, None, "Sömnproblem", "explicit_consent"), actor
    )
    people_care.add_visit(s, person, date.today(), "Första besöket", actor)
    # the journal exists only under profile A; written while the practice was licensed, and
    # back under its profile afterwards (profile B holds no journal: the erasure is full)
    controller = controllers.get(s, person.controller_id)
    profile, controller.profile = controller.profile, "A"
    people_care.add_journal_entry(s, person, "Första samtalet.", actor)
    controller.profile = profile
    people.record_identity_check(s, person, "id_document", actor)  # "ID shown", first visit
    # bought long enough ago that the bookkeeping hold has ended (the erasure below is full)
    purchases.add_purchase(
        s, person, purchases.PurchaseData(date(2012, 3, 1), "450,50", "F-1", "Massageolja"), actor
    )
    subscribing.add_manual(
        s,
        email=EMAIL,
        name=NAME,
        list_id=mailing_lists.default_list(s).id,
        method="verbal",
        note=f"Sa ja i telefon ({NAME})",
        actor=actor,
    )
    t = testimonials.create(s, person, f"Tack! /{NAME}", "full_name", actor)
    testimonials.add_media(s, t, jpeg_with_gps(), actor)
    consent = testimonials.request_consent(s, t, actor)
    testimonials.give_consent(
        s,
        t,
        consent.content_hash,
        testimonials.ConsentChoice(["social"], ["text", "image"], "10.0.0.1", "Firefox"),
        actor,
    )
    pub = publications.add_publication(
        s, t, "social", f"Instagram, {NAME}", "https://instagram.com/p/x", None, actor
    )
    publications.tick_removed(s, pub, actor)
    data_requests.open_request(s, person, "access", "email", utcnow(), actor)
    # a request filed through the privacy portal, confirmed: linked to the person by address

    filing = portal.file(s, portal.Filing("erasure", EMAIL, NAME, f"Radera {NAME}"))
    portal.confirm(s, filing, actor)
    s.add(
        LegalHold(
            person_id=person.id,
            kind="bookkeeping",
            until=utcnow() - timedelta(days=1),
            note=f"Faktura till {NAME}",
        )
    )

    guardian = people.create_person(s, people.PersonData(name="Gun Guardian"), actor)
    representatives.add(
        s,
        person,
        guardian,
        representatives.MandateData("guardian", date(2020, 1, 1), None, "FB 6 kap. 11 §"),
        actor,
    )
    s.add(ProviderLink(person_id=person.id, provider="mailchimp", status="active"))
    # a recipient without an adapter, told of a restriction and ticked off
    s.add(
        RecipientTask(
            recipient="Fortnox",
            action="restrict",
            person_id=person.id,
            due_at=utcnow(),
            done_at=utcnow(),
        )
    )
    enqueue(s, Op.UPSERT, person.id, EMAIL, ["mailchimp"])
    s.flush()
    return person.id


def linked_rows(s: Session, person_id: int) -> dict[str, int]:
    """How many rows of each person-linked table point at the person, directly or in a chain."""
    tables = registry.person_tables(Base.metadata)
    ids: dict[str, set[Any]] = {registry.PERSON_TABLE: {person_id}}
    grew = True
    while grew:
        grew = False
        for name in tables:
            table = Base.metadata.tables[name]
            (key,) = table.primary_key.columns
            for fk in table.foreign_keys:
                parent = fk.column.table.name
                if parent == name or not ids.get(parent):
                    continue
                found = set(s.scalars(select(key).where(fk.parent.in_(sorted(ids[parent])))).all())
                if not found <= ids.get(name, set()):
                    ids[name] = ids.get(name, set()) | found
                    grew = True
    live = {name: len(ids.get(name, set())) for name in tables}
    live[registry.PERSON_TABLE] = len(
        s.scalars(select(Person.id).where(Person.id == person_id)).all()
    )
    return live


def test_every_person_linked_table_is_claimed_exported_and_erased(app, db):
    metadata_tables = registry.person_tables(Base.metadata)
    assert registry.unclaimed(Base.metadata) == set(), (
        "tables that refer to a person but no feature's personal_data.py claims"
    )
    schema = json.loads(SCHEMA.read_text())
    for holder in registry.holders():
        assert set(holder.sections) <= set(schema["properties"]), holder.name
        assert set(holder.unexported) <= set(holder.tables), holder.name
    with app.app_context():
        s = get_session()
        pid = sample_person(s)
        s.commit()
        before = linked_rows(s, pid)
        empty = sorted(name for name in metadata_tables if not before[name])
        assert empty == [], f"sample_person() must give these tables a row: {empty}"

        read: set[str] = set()

        def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            read.update(name for name in metadata_tables if re.search(rf"\b{name}\b", statement))

        engine = s.get_bind()
        event.listen(engine, "before_cursor_execute", _seen)
        try:
            s.expire_all()
            archive = zipfile.ZipFile(io.BytesIO(export.build(s, s.get(Person, pid))))
        finally:
            event.remove(engine, "before_cursor_execute", _seen)
        data = json.loads(archive.read("data.json"))
        for holder in registry.holders():
            for section in holder.sections:
                assert data[section], f"{holder.name}: section {section} is empty"
            silent = set(holder.tables) - read - set(holder.unexported)
            assert silent == set(), f"{holder.name}: tables the export never reads: {silent}"
        assert any(name.startswith("media/") for name in archive.namelist())

        the_plan = erasure.execute(s, s.get(Person, pid), Actor.cli())
        s.commit()
        assert the_plan.full
        after = linked_rows(s, pid)
        left = {name: n for name, n in after.items() if n}
        assert left == {}, f"rows still pointing at the erased person: {left}"


def test_export_and_erasure_import_no_feature():
    """They walk the registry: only the kernel, privacy itself and the hub's model."""
    allowed = ("crm.audit", "crm.db", "crm.outbox", "crm.privacy", "crm.people.models")
    features = (
        "crm.auth",
        "crm.main",
        "crm.newsletter",
        "crm.people",
        "crm.sync",
        "crm.testimonials",
    )
    root = Path(__file__).resolve().parent.parent / "crm" / "privacy"
    for name in ("export.py", "erasure.py", "registry.py"):
        tree = ast.parse((root / name).read_text())
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        } | {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        wrong = sorted(
            module
            for module in imported
            if module.startswith(features) and not module.startswith(allowed)
        )
        assert wrong == [], f"crm/privacy/{name} imports {wrong}"
