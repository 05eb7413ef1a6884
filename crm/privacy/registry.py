"""The person registry: each feature declares, in one place, what it holds about a person.

Why: export (Art. 15/20) and erasure (Art. 17) used to import every feature and list its
tables by hand, so a new table that refers to a person was silently missing from both - a
GDPR fault no test would catch. Now each feature has a ``crm/<feature>/personal_data.py``
that calls :func:`register` once with a :class:`PersonDataHolder`: the tables it claims, its
sections of the export, what erasure deletes or anonymises, the legal holds it imposes, the
recipients it may have told and anything that must be done by hand before an erasure.
``crm/privacy/export.py`` and ``crm/privacy/erasure.py`` walk :func:`holders` and import no
feature. ``crm/models.py`` imports every ``personal_data`` module, so the registry is complete
whenever the metadata is; ``tests/test_registry.py`` walks ``Base.metadata`` and fails when a
table reaching ``person`` through foreign keys is claimed by no holder, or is claimed but
missing from a real export or left behind by a real erasure.

Modelled on indico's ``signals.users.anonymized`` (each module cleans up its own data when a
user is anonymised) and anymail's one-module-per-provider layout. Kernel-like: this module
imports no feature, so every feature (and the kernel's own tables, through ``crm/sync``) can
register without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.orm import Session

#: The data subject's table: the hub every holder's tables reach through foreign keys.
PERSON_TABLE = "person"


@dataclass(frozen=True)
class Kept:
    """Something an erasure keeps, and why, until when (GDPR Art. 17(3))."""

    what: str
    why: str
    until: datetime


@dataclass
class ExportContext:
    """What an export section may add besides its JSON: files for the zip's ``media/``."""

    files: list[tuple[str, bytes]] = field(default_factory=list)

    def add_file(self, name: str, content: bytes) -> None:
        """Put a file (e.g. ``media/testimonial-3-7.jpeg``) into the export zip."""
        self.files.append((name, content))


@dataclass
class ErasureContext:
    """The facts a holder needs to plan and carry out its part of an erasure.

    Built by the privacy feature from the practice settings, so that holders need not import
    it (people/ imports no other feature).
    """

    now: datetime
    #: the practice's profile: "A" (licensed profession, journal duty) or "B" (GDPR only)
    profile: str
    #: ``start`` plus the practice's retention period for a record kind (e.g. "journal")
    retention_until: Callable[[str, datetime], datetime]
    #: the person's address as it was before the erasure began (None for people without one)
    email: str | None = None
    #: what the plan keeps; filled before any holder's ``erase`` runs
    keep: list[Kept] = field(default_factory=list)

    @property
    def full(self) -> bool:
        """Nothing is held: the person row itself goes."""
        return not self.keep

    def keeps(self, what: str) -> bool:
        """Whether a hold of this kind (``journal``, ``bookkeeping`` ...) is in force."""
        return any(k.what == what for k in self.keep)


@dataclass(frozen=True)
class PersonDataHolder:
    """What one feature holds about a person, and how export and erasure handle it.

    Every callable is optional; a holder that declares a table must still say how the table's
    rows leave an erasure (``erase``, or ``ON DELETE CASCADE`` / ``SET NULL`` from ``person``,
    which the registry test checks for real).
    """

    #: the feature, e.g. "newsletter"
    name: str
    #: every table of the feature that reaches ``person`` through foreign keys (or, like
    #: ``provider_event``, refers to a person by address only)
    tables: tuple[str, ...]
    #: the sections of ``data.json`` this holder fills (each a property of export_schema.json)
    sections: tuple[str, ...] = ()
    #: ``export(session, person, ctx) -> {section: value}`` for every name in ``sections``
    export: Callable[[Session, Any, ExportContext], Mapping[str, Any]] | None = None
    #: claimed tables the export deliberately leaves out, each with the reason (reviewed: the
    #: registry test accepts a table the export never reads only if it is listed here)
    unexported: Mapping[str, str] = field(default_factory=dict)
    #: plan labels of what an erasure deletes, e.g. ("newsletter", "consent_records")
    deletes: tuple[str, ...] = ()
    #: labels that a hold spares: {"client_card": "journal"} - kept while the journal is
    spared_by: Mapping[str, str] = field(default_factory=dict)
    #: ``holds(session, person, ctx) -> [Kept]``: every hold, expired ones included (the plan
    #: keeps those still running; retention uses the rest to tell a hold that ended)
    holds: Callable[[Session, Any, ErasureContext], list[Kept]] | None = None
    #: ``recipients(session, person_id) -> provider names`` told to erase the address
    recipients: Callable[[Session, int], Iterable[str]] | None = None
    #: ``blockers(session, person_id) -> [...]``: what must be done by hand first (a post
    #: still up in a manual place); an erasure waits while any is left (Art. 17(2))
    blockers: Callable[[Session, int], list[Any]] | None = None
    #: ``erase(session, person, ctx)``: delete or anonymise this holder's data; runs in the
    #: erasure's transaction, after the outbox was told (``ctx.email`` still has the address)
    erase: Callable[[Session, Any, ErasureContext], None] | None = None


_HOLDERS: dict[str, PersonDataHolder] = {}


def register(holder: PersonDataHolder) -> PersonDataHolder:
    """Add (or, on re-import, replace) a feature's holder; returns it.

    :raises ValueError: another holder already claims one of its tables.
    """
    for other in _HOLDERS.values():
        if other.name != holder.name and set(other.tables) & set(holder.tables):
            shared = sorted(set(other.tables) & set(holder.tables))
            raise ValueError(f"{holder.name}: tables {shared} are claimed by {other.name}")
    _HOLDERS[holder.name] = holder
    return holder


def holders() -> list[PersonDataHolder]:
    """Every registered holder, by name (a stable order, whatever the import order was)."""
    return sorted(_HOLDERS.values(), key=lambda h: h.name)


def erasure_order() -> list[PersonDataHolder]:
    """The holders in the order an erasure runs them: the one claiming ``person`` last.

    It may delete the person row, so every other holder cleans up first (files on disk, rows
    found by the person's id or address).
    """
    return sorted(holders(), key=lambda h: PERSON_TABLE in h.tables)


def claimed() -> dict[str, str]:
    """Table name -> the holder that claims it."""
    return {table: h.name for h in _HOLDERS.values() for table in h.tables}


def person_tables(metadata: MetaData) -> set[str]:
    """Tables with a foreign key to ``person``, directly or through a table that has one."""
    found = {PERSON_TABLE}
    grew = True
    while grew:
        grew = False
        for table in metadata.tables.values():
            if table.name in found:
                continue
            if any(fk.column.table.name in found for fk in table.foreign_keys):
                found.add(table.name)
                grew = True
    return found


def unclaimed(metadata: MetaData) -> set[str]:
    """Person-linked tables that no holder claims (each one a gap in export and erasure)."""
    return person_tables(metadata) - set(claimed())
