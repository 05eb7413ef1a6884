"""The practice's own facts: processors and retention; who each controller is (crm/controllers.py).

One row. The privacy policy (/integritetspolicy) and the record of processing activities
(Art. 30) are generated from it, so what is published always matches what is configured.
The fixed lists it chooses from (professions, known processors, record kinds and their legal
minimums) are crm/privacy/practice_catalogue.py.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Integer
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import object_session
from stdnum.exceptions import ValidationError
from stdnum.se import orgnr
from stdnum.se import personnummer

from crm import audit
from crm import controllers
from crm import features
from crm.audit import Actor
from crm.controllers import Controller
from crm.controllers import IdNumberMode
from crm.db import Base
from crm.db import insert_ignoring_duplicates
from crm.errors import DomainError
from crm.i18n import N_
from crm.privacy.practice_catalogue import PROFESSIONS
from crm.privacy.practice_catalogue import RETENTION_RULES
from crm.privacy.practice_catalogue import Processor

#: The switchable features the activities follow: key, label (crm/features.py enforces them).
FEATURES = features.FEATURES


class SettingsError(DomainError):
    """A setting was refused; the message is an English msgid (may carry a %(reason)s)."""


class SettingsErrors(SettingsError):
    """Several settings were refused at once: ``problems`` pairs a form field with its error.

    Why all at once: the settings page shows every error at its field in one answer instead
    of one per save (issue 16 defect 6).
    """

    def __init__(self, problems: list[tuple[str, SettingsError]]) -> None:
        first = problems[0][1]
        super().__init__(str(first), **first.params)
        self.problems = problems


#: The controller's own facts, kept on the controller (crm/controllers.py) since seed 000; the
#: settings row reads and writes them on the installation's first controller, so code written
#: for one controller (``settings.load(s).profile``) keeps meaning "the practice".
CONTROLLER_FIELDS = (
    "name",
    "org_number",
    "address",
    "contact_name",
    "contact_email",
    "profile",
    "profession",
)


def _first_controller_field(field: str) -> property:
    def getter(self: PracticeSettings) -> Any:
        return getattr(self.first_controller(), field)

    def setter(self: PracticeSettings, value: Any) -> None:
        setattr(self.first_controller(), field, value)

    return property(getter, setter, doc=f"The first controller's {field}.")


class PracticeSettings(Base):
    """The single settings row: what the installation shares (processors, retention periods).

    Who the controller is lives on :class:`crm.controllers.Controller`, one row per controller.
    """

    __tablename__ = "practice_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: JSON list of processors
    processors: Mapped[str] = mapped_column(Text, default="[]")
    #: JSON {kind: months}
    retention: Mapped[str] = mapped_column(Text, default="{}")
    #: JSON {feature: bool}: what the practice uses (see FEATURES); missing = the default
    features: Mapped[str] = mapped_column(Text, default="{}")

    name = _first_controller_field("name")
    org_number = _first_controller_field("org_number")
    address = _first_controller_field("address")
    contact_name = _first_controller_field("contact_name")
    contact_email = _first_controller_field("contact_email")
    profile = _first_controller_field("profile")
    profession = _first_controller_field("profession")

    def first_controller(self) -> Controller:
        """The installation's first controller (the practice, when there is only one)."""
        session = object_session(self)
        assert session is not None
        return controllers.first(session)

    def processor_list(self) -> list[Processor]:
        """The processors as objects."""
        return [Processor(**p) for p in json.loads(self.processors or "[]")]

    def uses(self, feature: str) -> bool:
        """Whether the practice uses a feature (newsletter, testimonials, journal).

        A feature not in use has no processing activity (crm/privacy/activities.py), so the
        policy does not promise or mention it. The journal defaults to on under profile A
        (patientdatalagen's journal duty) and off under profile B.
        """
        # the same rule as the switches that close the feature's routes (crm/features.py)
        return features.decide(self.features, feature, lambda: self.first_controller().profile)

    def retention_months(self, kind: str) -> int:
        """The configured period for a record kind (the default when not set)."""
        rule = next(r for r in RETENTION_RULES if r.kind == kind)
        return int(json.loads(self.retention or "{}").get(kind, rule.default_months))


def load(session: Session, default_name: str = "") -> PracticeSettings:
    """The settings row, created with defaults the first time (and the first controller)."""
    row = session.get(PracticeSettings, 1)
    if row is None:
        # ON CONFLICT DO NOTHING: two first page views at once both succeed (the dashboard
        # commits on GET, so this row is kept, not rolled back as before)
        insert_ignoring_duplicates(
            session,
            PracticeSettings.__table__,
            {"id": 1, "processors": "[]", "retention": "{}", "features": "{}"},
        )
        row = session.get(PracticeSettings, 1)
        assert row is not None
    first = controllers.first(session)
    if not first.name and default_name:
        first.name = default_name
    return row


def check_retention(values: dict[str, int]) -> dict[str, int]:
    """Refuse a period shorter than the legal minimum, saying which law requires more."""
    clean = {}
    problems: list[tuple[str, SettingsError]] = []
    for rule in RETENTION_RULES:
        months = int(values.get(rule.kind, rule.default_months))
        if months < rule.minimum_months:
            problems.append(
                (
                    f"ret-{rule.kind}",
                    SettingsError(
                        N_("%(kind)s cannot be shorter than %(months)s months: %(reason)s."),
                        kind=rule.label,
                        months=rule.minimum_months,
                        reason=rule.minimum_reason,
                    ),
                )
            )
        elif months < 0 or months > 1200:
            problems.append(
                (
                    f"ret-{rule.kind}",
                    SettingsError(N_("Enter a number of months between 0 and 1200.")),
                )
            )
        clean[rule.kind] = months
    if problems:
        raise SettingsErrors(problems)
    return clean


def save(
    session: Session,
    row: PracticeSettings,
    *,
    processors: list[Processor],
    retention: dict[str, int],
    actor: Actor,
    controller: Controller | None = None,
    features: dict[str, bool] | None = None,
    audited: bool = True,
    **facts: Any,
) -> None:
    """Validate and store the installation's settings and, given ``facts``, a controller's.

    ``facts`` are :func:`save_controller`'s keywords (the first controller when ``controller``
    is None). Audited with the changed field names, unless the caller audits the change as a
    whole (``audited=False``: a practice file load).
    """
    problems: list[tuple[str, SettingsError]] = []
    try:
        kept = check_retention(retention)
    except SettingsErrors as err:
        problems += err.problems
    changed = []
    if facts:
        try:
            changed += save_controller(
                session,
                controller or controllers.first(session),
                actor=actor,
                audited=False,
                **facts,
            )
        except SettingsErrors as err:
            problems += err.problems
    if problems:  # every error at once; the caller rolls back what was set
        raise SettingsErrors(problems)
    values = {
        "processors": json.dumps([p.__dict__ for p in processors], ensure_ascii=False),
        "retention": json.dumps(kept),
    }
    if features is not None:
        known = {key for key, _label in FEATURES}
        values["features"] = json.dumps(
            {k: bool(v) for k, v in sorted(features.items()) if k in known}
        )
    changed = [k for k, v in values.items() if getattr(row, k) != v] + changed
    for key, value in values.items():
        setattr(row, key, value)
    if changed and audited:
        audit.record(session, actor, "privacy.settings", details={"fields": changed})


def clean_org_number(value: str) -> str | None:
    """A Swedish organisation number, formatted; None when it is not one.

    A sole trader's organisation number is their personnummer: kept as given. The settings
    page and a practice file (crm/privacy/practice_file.py) accept the same numbers.
    """
    try:
        return str(orgnr.format(orgnr.validate(value)))
    except ValidationError:
        return value if personnummer.is_valid(value) else None


def save_controller(
    session: Session,
    controller: Controller,
    *,
    name: str,
    org_number: str,
    address: str,
    contact_name: str,
    contact_email: str,
    profile: str,
    profession: str,
    id_number_mode: str | None = None,
    id_number_reason: str | None = None,
    representative_months: int | None = None,
    runs_newsletter: bool | None = None,
    actor: Actor,
    audited: bool = True,
) -> list[str]:
    """Validate and store who a controller is; returns the changed field names.

    Identity numbers (dataskyddslagen 3 kap. 10 §): full personnummer under profile B needs a
    recorded reason. Switching to a stricter setting does not touch the numbers already
    stored; the settings page then offers :func:`crm.people.services.reduce_id_numbers`.
    """
    problems: list[tuple[str, SettingsError]] = []
    if profile not in ("A", "B"):
        problems.append(("profile", SettingsError(N_("Choose the practice profile."))))
    if profile == "A" and profession not in PROFESSIONS:
        problems.append(
            ("profession", SettingsError(N_("Profile A needs the licensed profession.")))
        )
    if org_number.strip():
        valid = clean_org_number(org_number)
        if valid is None:
            problems.append(
                ("org_number", SettingsError(N_("The organisation number is not valid.")))
            )
        else:
            org_number = valid
    mode = controller.id_number_mode if id_number_mode is None else id_number_mode
    if mode not in {m.value for m in IdNumberMode}:
        problems.append(
            ("id_number_mode", SettingsError(N_("Choose what is recorded of identity numbers.")))
        )
    reason = (controller.id_number_reason if id_number_reason is None else id_number_reason).strip()
    if mode == IdNumberMode.FULL and profile == "B" and not reason and id_number_mode is not None:
        problems.append(
            (
                "id_number_reason",
                SettingsError(
                    N_(
                        "Full personnummer needs a recorded reason under profile B "
                        "(dataskyddslagen 3 kap. 10 §): say why the birth date is not enough."
                    )
                ),
            )
        )
    months = (
        controller.representative_months if representative_months is None else representative_months
    )
    if months < 0 or months > 1200:
        problems.append(
            (
                "representative_months",
                SettingsError(N_("Enter a number of months between 0 and 1200.")),
            )
        )
    if problems:
        raise SettingsErrors(problems)
    values: dict[str, Any] = {
        "name": name.strip(),
        "org_number": org_number.strip(),
        "address": address.strip(),
        "contact_name": contact_name.strip(),
        "contact_email": contact_email.strip(),
        "profile": profile,
        "profession": profession if profile == "A" else "",
        "id_number_mode": mode,
        "id_number_reason": reason if mode == IdNumberMode.FULL else "",
        "representative_months": months,
    }
    if runs_newsletter is not None:
        values["runs_newsletter"] = runs_newsletter
    changed = [k for k, v in values.items() if getattr(controller, k) != v]
    for key, value in values.items():
        setattr(controller, key, value)
    if runs_newsletter:
        for other in controllers.all_controllers(session):
            if other.id != controller.id and other.runs_newsletter:
                other.runs_newsletter = False
    if changed and audited:
        audit.record(
            session, actor, "privacy.settings", obj=controller, details={"fields": changed}
        )
    return changed


def add_controller(session: Session, name: str, actor: Actor) -> Controller:
    """Add a controller to the installation (seed 000: two companies, one brand)."""
    if not name.strip():
        raise SettingsError(N_("Enter the controller's name."))
    controllers.first(session)  # the first is always 1
    row = Controller(id=controllers.next_id(session), name=name.strip()[:200])
    session.add(row)
    session.flush()
    audit.record(session, actor, "privacy.controller_add", obj=row)
    return row
