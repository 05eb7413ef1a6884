"""Processing activities as data, one list per controller (issue 15 part 1).

Why: the policy, the Art. 30 record (page and CSV), the export summary (Art. 15) and the
sign-up's Art. 13 text used to be four templates over fixed purposes, true for none of the five
seed practices. Now each controller keeps a list of activities (purpose, data categories, Art. 6
basis and Art. 9 condition, recipients, retention, source) and :func:`effective` renders it
once for all four readers, so they cannot disagree.

The list is pre-filled from what the practice uses (:func:`defaults`: a switched-off newsletter,
testimonials or journal does not appear) and edited by the owner (crm/privacy/activity_views.py)
or loaded from a practice file through the service API:

- :func:`list_for_controller` (the rows), :func:`effective` (what is published),
- :func:`add`, :func:`update`, :func:`remove`, :func:`replace_for_controller`,
- :func:`default_for` (a standard activity's generated texts, to start a file entry from),
- :func:`set_features` (which of newsletter, testimonials, journal the practice uses).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace

from flask_babel import gettext as _
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm import controllers
from crm.audit import Actor
from crm.controllers import Controller
from crm.db import utcnow
from crm.errors import DomainError
from crm.i18n import N_
from crm.privacy import practice
from crm.privacy.activity_defaults import MAIL
from crm.privacy.activity_defaults import ActivityData
from crm.privacy.activity_defaults import default_for
from crm.privacy.activity_defaults import defaults
from crm.privacy.activity_defaults import processors_in_use
from crm.privacy.models import ProcessingActivity
from crm.privacy.practice_catalogue import KNOWN_PROCESSORS
from crm.privacy.practice_catalogue import Processor

#: Art. 6(1) bases (GDPR Art. 6(1)(a)-(f))
BASES = {
    "consent": N_("Art. 6(1)(a) consent"),
    "contract": N_("Art. 6(1)(b) contract"),
    "legal_obligation": N_("Art. 6(1)(c) legal obligation"),
    "vital_interests": N_("Art. 6(1)(d) vital interests"),
    "public_task": N_("Art. 6(1)(e) task in the public interest"),
    "legitimate_interest": N_("Art. 6(1)(f) legitimate interest"),
}
#: Art. 9(2) conditions for health data (legal requirements 1.23-1.24)
HEALTH_BASES = {
    "": N_("No health data"),
    "explicit_consent": N_("Art. 9(2)(a) explicit consent"),
    "health_care": N_("Art. 9(2)(h) health care"),
    "legal_claims": N_("Art. 9(2)(f) legal claims"),
}


class ActivityError(DomainError):
    """An activity was refused; the message is an English msgid (may carry params)."""


@dataclass(frozen=True)
class Activity:
    """One activity as published: every text rendered, as Art. 30(1)(a)-(g) wants it."""

    name: str
    purposes: str
    legal_basis: str
    subjects: str
    data: str
    recipients: str
    transfers: str
    retention: str
    source: str = ""
    key: str = ""
    id: int | None = None
    basis: str = ""
    health_basis: str = ""
    recipient_names: tuple[str, ...] = field(default_factory=tuple)


__all__ = ["MAIL", "ActivityData", "default_for", "defaults", "processors_in_use"]


# --- reading ------------------------------------------------------------------------------------


def ensure(session: Session, controller: Controller) -> None:
    """Pre-fill a controller's list the first time it is read (never again once it has rows)."""
    exists = session.scalar(
        select(ProcessingActivity.id).where(ProcessingActivity.controller_id == controller.id)
    )
    if exists is not None:
        return
    for position, data in enumerate(defaults(session, controller), start=1):
        session.add(_new_row(controller, data, position, follows=True))
    session.flush()


def list_for_controller(session: Session, controller: Controller) -> list[ProcessingActivity]:
    """A controller's current activities, in order (pre-filled on first use)."""
    ensure(session, controller)
    return list(
        session.scalars(
            select(ProcessingActivity)
            .where(
                ProcessingActivity.controller_id == controller.id,
                ProcessingActivity.removed_at.is_(None),
            )
            .order_by(ProcessingActivity.position, ProcessingActivity.id)
        )
    )


def data_of(session: Session, controller: Controller, row: ProcessingActivity) -> ActivityData:
    """What an activity states now: generated while it follows the settings, else stored."""
    if row.follows_settings:
        generated = default_for(session, controller, row.key)
        if generated is not None:
            return generated
    return ActivityData(
        key=row.key,
        name=row.name,
        purpose=row.purpose,
        legal_basis=row.legal_basis,
        data_categories=row.data_categories,
        subjects=row.subjects,
        basis_detail=row.basis_detail,
        health_basis=row.health_basis,
        recipients=tuple(x for x in row.recipients.splitlines() if x.strip()),
        transfers=row.transfers,
        retention=row.retention,
        source=row.source,
    )


def basis_text(basis: str, detail: str, health: str) -> str:
    """An activity's basis in words, e.g. "Art. 6.1 c rättslig förpliktelse (bokföringslagen)"."""
    text = _(BASES[basis]) if basis in BASES else basis
    if detail.strip():
        text += f" ({detail.strip()})"
    if health:
        text += "; " + (_(HEALTH_BASES[health]) if health in HEALTH_BASES else health)
    return text


def render(data: ActivityData, procs: list[Processor], *, row_id: int | None = None) -> Activity:
    """One activity's published texts.

    Transfers come from the processor register unless the activity states them itself.
    """
    names = list(data.recipients)
    if data.key == "newsletter":
        # the CRM sends addresses to every configured provider: always a recipient
        names += [p.name for p in procs if p.name in MAIL and p.name not in names]
    # a recipient named like a known processor is that processor, ticked in the settings or not
    by_name = {p.name.lower(): p for p in (*KNOWN_PROCESSORS, *procs)}
    matched = [by_name[n.lower()] for n in names if n.lower() in by_name]
    shown = [f"{n} ({by_name[n.lower()].purpose})" if n.lower() in by_name else n for n in names]
    outside = [
        f"{p.name}: {p.safeguards or _('safeguards to be documented')}"
        for p in matched
        if p.outside_eea
    ]
    transfers = data.transfers.strip() or "; ".join(outside)
    return Activity(
        id=row_id,
        key=data.key,
        name=data.name,
        purposes=data.purpose,
        legal_basis=basis_text(data.legal_basis, data.basis_detail, data.health_basis),
        basis=data.legal_basis,
        health_basis=data.health_basis,
        subjects=data.subjects,
        data=data.data_categories,
        recipients="; ".join(shown) or _("None"),
        recipient_names=tuple(names),
        transfers=transfers or _("None: all data stays in the EU/EEA"),
        retention=data.retention,
        source=data.source.strip() or _("You, or we when we meet you."),
    )


def effective(session: Session, controller: Controller) -> list[Activity]:
    """What the policy, the record, the export summary and the sign-up text all publish."""
    procs = processors_in_use(practice.load(session))
    return [
        render(data_of(session, controller, row), procs, row_id=row.id)
        for row in list_for_controller(session, controller)
    ]


def newsletter_notice(session: Session) -> tuple[Controller, Activity] | None:
    """The newsletter's controller and activity, for the sign-up's Art. 13 text."""
    controller = controllers.get(session, controllers.newsletter_id(session.connection()))
    found = next((a for a in effective(session, controller) if a.key == "newsletter"), None)
    return (controller, found) if found is not None else None


# --- changing -----------------------------------------------------------------------------------


def check(session: Session, controller: Controller, data: ActivityData) -> ActivityData:
    """Validate an activity, returning it trimmed; the error names the field's problem."""
    data = replace(
        data,
        name=data.name.strip()[:200],
        purpose=data.purpose.strip(),
        recipients=tuple(r.strip()[:200] for r in data.recipients if r.strip()),
    )
    if not data.name:
        raise ActivityError(N_("Enter a name for the activity."))
    if not data.purpose:
        raise ActivityError(N_("Enter the purpose of the activity."))
    if data.legal_basis not in BASES:
        raise ActivityError(N_("Choose the legal basis (GDPR Art. 6)."))
    if data.health_basis not in HEALTH_BASES:
        raise ActivityError(N_("Choose the condition for health data (GDPR Art. 9)."))
    if data.legal_basis == "legitimate_interest" and not data.basis_detail.strip():
        # Art. 13(1)(d): the legitimate interests pursued must be stated
        raise ActivityError(N_("Say which legitimate interest the activity serves."))
    if data.health_basis == "health_care" and controller.profile != "A":
        raise ActivityError(
            N_(
                "Health care (Art. 9(2)(h)) is a basis only for licensed care under "
                "patientdatalagen (profile A in the settings). Choose explicit consent."
            )
        )
    if not data.retention.strip():
        raise ActivityError(N_("Say how long the data is kept."))
    return data


def _new_row(
    controller: Controller, data: ActivityData, position: int, *, follows: bool = False
) -> ProcessingActivity:
    row = ProcessingActivity(controller_id=controller.id, position=position, key=data.key)
    _store(row, data)
    row.follows_settings = follows
    return row


def _store(row: ProcessingActivity, data: ActivityData) -> None:
    row.name = data.name
    row.purpose = data.purpose
    row.legal_basis = data.legal_basis
    row.basis_detail = data.basis_detail.strip()
    row.health_basis = data.health_basis
    row.data_categories = data.data_categories.strip()
    row.subjects = data.subjects.strip()
    row.recipients = "\n".join(data.recipients)
    row.transfers = data.transfers.strip()
    row.retention = data.retention.strip()
    row.source = data.source.strip()
    row.follows_settings = False
    row.updated_at = utcnow()


def _next_position(session: Session, controller: Controller) -> int:
    found = session.scalar(
        select(func.max(ProcessingActivity.position)).where(
            ProcessingActivity.controller_id == controller.id
        )
    )
    return (found or 0) + 1


def _audit(session: Session, actor: Actor, action: str, row: ProcessingActivity) -> None:
    audit.record(
        session,
        actor,
        action,
        obj=row,
        details={"controller": row.controller_id, "key": row.key or None},
    )


def add(
    session: Session, controller: Controller, data: ActivityData, actor: Actor
) -> ProcessingActivity:
    """Add an activity at the end of a controller's list."""
    ensure(session, controller)
    data = check(session, controller, data)
    row = _new_row(controller, data, _next_position(session, controller))
    session.add(row)
    session.flush()
    _audit(session, actor, "privacy.activity_add", row)
    return row


def get(session: Session, activity_id: int) -> ProcessingActivity | None:
    """A current (not removed) activity by id."""
    row = session.get(ProcessingActivity, activity_id)
    return row if row is not None and row.removed_at is None else None


def update(
    session: Session, row: ProcessingActivity, data: ActivityData, actor: Actor
) -> ProcessingActivity:
    """Store the owner's texts; the activity no longer follows the settings."""
    controller = controllers.get(session, row.controller_id)
    data = check(session, controller, replace(data, key=row.key))
    _store(row, data)
    session.flush()
    _audit(session, actor, "privacy.activity_edit", row)
    return row


def remove(session: Session, row: ProcessingActivity, actor: Actor) -> None:
    """Take an activity off the list (kept as a removed row; see the model's docstring)."""
    row.removed_at = utcnow()
    session.flush()
    _audit(session, actor, "privacy.activity_remove", row)


def replace_for_controller(
    session: Session,
    controller: Controller,
    activities: Sequence[ActivityData],
    actor: Actor,
) -> list[ProcessingActivity]:
    """Make a controller's list exactly ``activities`` (a practice file's load).

    Idempotent: loading the same list again changes nothing and audits nothing. Every entry is
    validated first, so a bad entry leaves the list untouched; the error names the entry.
    """
    clean = []
    for number, data in enumerate(activities, start=1):
        try:
            clean.append(check(session, controller, data))
        except ActivityError as err:
            raise ActivityError(
                N_("Activity %(number)s (%(name)s): %(error)s"),
                number=number,
                name=data.name,
                error=_(str(err), **err.params),
            ) from err
    current = list_for_controller(session, controller)
    if [_comparable(data_of(session, controller, r)) for r in current] == [
        _comparable(d) for d in clean
    ] and not any(r.follows_settings for r in current):
        return current
    now = utcnow()
    for row in current:
        row.removed_at = now
    position = _next_position(session, controller)
    rows = [_new_row(controller, d, position + i) for i, d in enumerate(clean)]
    session.add_all(rows)
    session.flush()
    audit.record(
        session, actor, "privacy.activities_replace", obj=controller, details={"count": len(rows)}
    )
    return rows


def _comparable(data: ActivityData) -> ActivityData:
    return replace(
        data,
        basis_detail=data.basis_detail.strip(),
        data_categories=data.data_categories.strip(),
        subjects=data.subjects.strip(),
        transfers=data.transfers.strip(),
        retention=data.retention.strip(),
        source=data.source.strip(),
    )


def set_features(session: Session, features: dict[str, bool], actor: Actor) -> None:
    """Say which features the practice uses (a practice file's ``features``), then follow.

    Keys not given keep their value; unknown keys are refused, naming the key.
    """
    known = {key for key, _label in practice.FEATURES}
    unknown = sorted(set(features) - known)
    if unknown:
        raise ActivityError(N_("Unknown feature: %(name)s."), name=", ".join(unknown))
    row = practice.load(session)
    stored = json.loads(row.features or "{}")
    wanted = {**stored, **{k: bool(v) for k, v in features.items()}}
    if wanted != stored:
        row.features = json.dumps(dict(sorted(wanted.items())))
        session.flush()
        audit.record(session, actor, "privacy.settings", details={"fields": ["features"]})
    sync_features(session, actor)


def sync_features(session: Session, actor: Actor) -> None:
    """Follow the settings: a feature switched off loses its activity.

    One switched on (or the newsletter moving to another controller) gets the pre-filled one.
    """
    for controller in controllers.all_controllers(session):
        rows = list_for_controller(session, controller)
        for key in ("newsletter", "testimonials"):
            wanted = default_for(session, controller, key)
            present = [r for r in rows if r.key == key]
            if wanted is None:
                for row in present:
                    remove(session, row, actor)
            elif not present:
                row = _new_row(
                    controller, wanted, _next_position(session, controller), follows=True
                )
                session.add(row)
                session.flush()
                _audit(session, actor, "privacy.activity_add", row)
