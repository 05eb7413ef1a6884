"""Practice files: the format and its validation, into crm/privacy/practice_spec.py values.

The loader (crm/privacy/practice_load.py) applies them.

Why: the five practices this product was made for (shared/seeds/000-004) each publish a privacy
policy. Setting one of them up through the settings pages takes many forms and leaves no record
of what was meant; a practice file says it once, in one reviewable place (examples/practices/),
and loading it makes the installation match, so the generated policy and the Art. 30 record
state what the file states.

Loading is:

- **validated first, applied whole**: every error is collected and named by its key
  (``controllers[1].org_number: ...``); with any error nothing is changed;
- **idempotent**: the file is the full statement, so loading it twice changes nothing and
  loading an edited file changes exactly what was edited (a key left out means its default);
- **audited**: one ``privacy.practice_load`` event with the changed keys, never their values.

Controllers are matched by position: ``controllers[0]`` is the installation's first controller,
``controllers[1]`` the second, and so on. A controller cannot be removed by a file, because the
people it met stay its own (their journals, consents and requests name it).

A controller's processing activities (crm/privacy/activities.py) are ``[[controllers.activities]]``
tables: ``standard = "clients"`` alone is the standard activity following the settings; with
texts it is that activity with the file's texts; without ``standard`` it is a free entry. A
controller that lists none gets the standard list, following the settings.
"""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from crm import controllers
from crm.controllers import IdNumberMode
from crm.privacy.activities import BASES
from crm.privacy.activities import HEALTH_BASES
from crm.privacy.activity_defaults import FEATURE_OF
from crm.privacy.activity_defaults import STANDARD_KEYS
from crm.privacy.practice import FEATURES
from crm.privacy.practice import clean_org_number
from crm.privacy.practice_catalogue import KNOWN_PROCESSORS
from crm.privacy.practice_catalogue import PROFESSIONS
from crm.privacy.practice_catalogue import RETENTION_RULES
from crm.privacy.practice_catalogue import Processor
from crm.privacy.practice_spec import ActivitySpec
from crm.privacy.practice_spec import ControllerSpec
from crm.privacy.practice_spec import PeriodSpec
from crm.privacy.practice_spec import PracticeFileError
from crm.privacy.practice_spec import PracticeSpec

#: the file format this version reads (``format = 1`` at the top of the file)
FORMAT = 1

_TOP_KEYS = {"format", "policy", "features", "controllers", "processors", "retention"}
_POLICY_KEYS = {"title", "date", "source"}
#: a controller's facts are ControllerSpec's fields; its activities and periods are tables
_CONTROLLER_KEYS = {f.name for f in fields(ControllerSpec)} | {"activities", "retention"}
_ACTIVITY_TEXTS = (
    "name",
    "purpose",
    "basis_detail",
    "data_categories",
    "subjects",
    "transfers",
    "retention",
    "source",
)
_ACTIVITY_KEYS = {"standard", "legal_basis", "health_basis", "recipients", *_ACTIVITY_TEXTS}
_PROCESSOR_KEYS = {"name", "purpose", "outside_eea", "safeguards"}
#: the lengths of the columns the values go to (crm/controllers.py)
_LENGTHS = {
    "name": 200,
    "org_number": 20,
    "address": 500,
    "contact_name": 200,
    "contact_email": 254,
}

_PERIOD_KEYS = {"months", "from_year_end", "year_start_month", "automatic", "include_active"}


class _Errors:
    """Collects errors by key so the owner sees every problem at once."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.found.append(f"{key}: {message}")

    def unknown(self, where: str, table: dict[str, Any], allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                self.add(f"{where}{key}", f"unknown key (known: {', '.join(sorted(allowed))})")

    def text(self, table: dict[str, Any], key: str, where: str, *, limit: int = 2000) -> str:
        value = table.get(key, "")
        if not isinstance(value, str):
            self.add(f"{where}{key}", "must be a text in quotes")
            return ""
        value = value.strip()
        if len(value) > limit:
            self.add(f"{where}{key}", f"is longer than {limit} characters")
        return value

    def flag(self, table: dict[str, Any], key: str, where: str) -> bool:
        value = table.get(key, False)
        if not isinstance(value, bool):
            self.add(f"{where}{key}", "must be true or false")
            return False
        return value

    def months(self, table: dict[str, Any], key: str, where: str, default: int) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(f"{where}{key}", "must be a whole number of months")
            return default
        if not 0 <= value <= 1200:
            self.add(f"{where}{key}", "must be between 0 and 1200 months")
        return value


def _table(errors: _Errors, value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        errors.add(key, "must be a table")
        return {}
    return value


def _array(errors: _Errors, value: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        errors.add(key, f"must be an array of tables ([[{key}]])")
        return []
    return value


def _org_number(errors: _Errors, value: str, key: str) -> str:
    """Validate as settings.save_controller does: an organisation number or a sole trader's."""
    if not value:
        return ""
    valid = clean_org_number(value)
    if valid is None:
        errors.add(key, f"{value!r} is not a valid Swedish organisation number")
        return value
    return valid


def _controller(errors: _Errors, table: dict[str, Any], index: int) -> ControllerSpec:
    where = f"controllers[{index}]."
    errors.unknown(where, table, _CONTROLLER_KEYS)
    values = {key: errors.text(table, key, where, limit=_LENGTHS[key]) for key in _LENGTHS}
    if not values["name"]:
        errors.add(f"{where}name", "required: the policy must say who the controller is")
    values["org_number"] = _org_number(errors, values["org_number"], f"{where}org_number")
    if not values["contact_name"] and not values["contact_email"]:
        errors.add(
            f"{where}contact_email",
            "give contact_email or contact_name (a phone number will do): the policy must say "
            "how to reach the controller (GDPR Art. 13(1)(a))",
        )
    if values["contact_email"] and "@" not in values["contact_email"]:
        errors.add(f"{where}contact_email", f"{values['contact_email']!r} is not an address")
    profile = errors.text(table, "profile", where) or "B"
    if profile not in ("A", "B"):
        errors.add(f"{where}profile", 'must be "A" (patientdatalagen) or "B" (GDPR only)')
    profession = errors.text(table, "profession", where)
    if profile == "A" and profession not in PROFESSIONS:
        errors.add(
            f"{where}profession",
            "profile A needs the licensed profession, one of: " + ", ".join(PROFESSIONS),
        )
    if profile == "B" and profession:
        errors.add(f"{where}profession", "only a profile A controller has a licensed profession")
    mode = errors.text(table, "id_number_mode", where) or IdNumberMode.BIRTH_DATE.value
    modes = [m.value for m in IdNumberMode]
    if mode not in modes:
        errors.add(f"{where}id_number_mode", f"must be one of: {', '.join(modes)}")
    reason = errors.text(table, "id_number_reason", where)
    if mode == IdNumberMode.FULL and profile == "B" and not reason:
        errors.add(
            f"{where}id_number_reason",
            "full personnummer under profile B needs a recorded reason "
            "(dataskyddslagen 3 kap. 10 §): say why the birth date is not enough",
        )
    if mode != IdNumberMode.FULL and reason:
        errors.add(f"{where}id_number_reason", 'only applies with id_number_mode = "full"')
    return ControllerSpec(
        **values,
        profile=profile,
        profession=profession,
        id_number_mode=mode,
        id_number_reason=reason,
        runs_newsletter=errors.flag(table, "runs_newsletter", where),
        representative_months=errors.months(
            table, "representative_months", where, controllers.DEFAULT_REPRESENTATIVE_MONTHS
        ),
    )


def _activity(errors: _Errors, table: dict[str, Any], where: str, profile: str) -> ActivitySpec:
    errors.unknown(where, table, _ACTIVITY_KEYS)
    standard = errors.text(table, "standard", where)
    if standard and standard not in STANDARD_KEYS:
        errors.add(f"{where}standard", f"must be one of: {', '.join(STANDARD_KEYS)}")
    texts: dict[str, Any] = {
        key: errors.text(table, key, where, limit=4000) for key in _ACTIVITY_TEXTS if key in table
    }
    for key, allowed in (("legal_basis", BASES), ("health_basis", HEALTH_BASES)):
        if key in table:
            texts[key] = errors.text(table, key, where)
            if texts[key] not in allowed:
                errors.add(
                    f"{where}{key}", "must be one of: " + ", ".join(f'"{k}"' for k in allowed)
                )
    if "recipients" in table:
        value = table["recipients"]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            texts["recipients"] = tuple(v.strip()[:200] for v in value if v.strip())
        else:
            errors.add(f"{where}recipients", 'must be a list of texts, e.g. ["Fortnox", "Banken"]')
    if not standard:
        for key in ("name", "purpose", "legal_basis", "retention"):
            if not texts.get(key):
                errors.add(f"{where}{key}", "required for an activity that is not a standard one")
    if texts.get("legal_basis") == "legitimate_interest" and not texts.get("basis_detail"):
        errors.add(
            f"{where}basis_detail",
            "say which legitimate interest the activity serves (GDPR Art. 13(1)(d))",
        )
    if texts.get("health_basis") == "health_care" and profile != "A":
        errors.add(
            f"{where}health_basis",
            '"health_care" (Art. 9(2)(h)) is only for profile A; use "explicit_consent"',
        )
    return ActivitySpec(standard, texts)


def _activities(
    errors: _Errors,
    tables: list[dict[str, Any]],
    index: int,
    spec: ControllerSpec,
    *,
    newsletter: bool,
    features: dict[str, bool],
) -> tuple[ActivitySpec, ...]:
    """One controller's activities; a standard one at most once and only where it applies."""
    found: list[ActivitySpec] = []
    for number, table in enumerate(tables):
        where = f"controllers[{index}].activities[{number}]."
        activity = _activity(errors, table, where, spec.profile)
        standard = activity.standard
        if standard and standard in [a.standard for a in found]:
            errors.add(f"{where}standard", f'"{standard}" is listed twice')
        feature = FEATURE_OF.get(standard)
        if feature and not features.get(feature, True):
            errors.add(f"{where}standard", f'"{standard}" is switched off in [features]')
        if standard == "newsletter" and not newsletter:
            errors.add(
                f"{where}standard",
                "only the controller that runs the newsletter (runs_newsletter) has this activity",
            )
        found.append(activity)
    return tuple(found)


def _periods(errors: _Errors, table: dict[str, Any], where: str) -> dict[str, PeriodSpec]:
    """A controller's own periods: ``kind = months`` or ``kind = { months = .., ... }``."""
    rules = {rule.kind: rule for rule in RETENTION_RULES}
    errors.unknown(where, table, set(rules))
    found = {}
    for kind, value in table.items():
        if kind not in rules:
            continue
        key = f"{where}{kind}"
        options: dict[str, Any] = value if isinstance(value, dict) else {"months": value}
        errors.unknown(f"{key}.", options, _PERIOD_KEYS)
        if "months" not in options:
            errors.add(f"{key}.months", "required")
        months = errors.months(options, "months", f"{key}.", 0)
        rule = rules[kind]
        if months < rule.minimum_months:
            errors.add(
                key, f"cannot be shorter than {rule.minimum_months} months: {rule.minimum_reason}"
            )
        start = options.get("year_start_month", 1)
        if isinstance(start, bool) or not isinstance(start, int) or not 1 <= start <= 12:
            errors.add(f"{key}.year_start_month", "must be a month from 1 to 12")
            start = 1
        automatic = errors.flag(options, "automatic", f"{key}.")
        if automatic and kind != "client_card":
            errors.add(f"{key}.automatic", "only client_card can be deleted without a decision")
        include_active = errors.flag(options, "include_active", f"{key}.")
        if include_active and kind != "marketing_contacts":
            errors.add(f"{key}.include_active", "only applies to marketing_contacts")
        found[kind] = PeriodSpec(
            months,
            errors.flag(options, "from_year_end", f"{key}."),
            start,
            automatic,
            include_active,
        )
    return found


def _features(errors: _Errors, table: dict[str, Any]) -> dict[str, bool]:
    known = {key for key, _label in FEATURES}
    errors.unknown("features.", table, known)
    return {key: errors.flag(table, key, "features.") for key in sorted(known) if key in table}


def _processor(errors: _Errors, table: dict[str, Any], index: int) -> Processor:
    where = f"processors[{index}]."
    errors.unknown(where, table, _PROCESSOR_KEYS)
    name = errors.text(table, "name", where, limit=200)
    if not name:
        errors.add(f"{where}name", "required")
    known = next((p for p in KNOWN_PROCESSORS if p.name.lower() == name.lower()), None)
    purpose = errors.text(table, "purpose", where, limit=500)
    if not purpose and known is None:
        errors.add(f"{where}purpose", "required: what the processor does for the practice")
    outside = (
        errors.flag(table, "outside_eea", where)
        if "outside_eea" in table
        else bool(known and known.outside_eea)
    )
    safeguards = errors.text(table, "safeguards", where, limit=500)
    if outside and not safeguards and not (known and known.safeguards):
        errors.add(
            f"{where}safeguards",
            "required when data leaves the EU/EEA (GDPR Art. 46): e.g. standard contractual "
            "clauses",
        )
    return Processor(
        name=known.name if known else name,
        purpose=purpose or (known.purpose if known else ""),
        outside_eea=outside,
        safeguards=safeguards or (known.safeguards if known and outside else ""),
    )


def _retention(errors: _Errors, table: dict[str, Any]) -> dict[str, int]:
    rules = {rule.kind: rule for rule in RETENTION_RULES}
    errors.unknown("retention.", table, set(rules))
    months = {}
    for kind, rule in rules.items():
        value = errors.months(table, kind, "retention.", rule.default_months)
        if value < rule.minimum_months:
            errors.add(
                f"retention.{kind}",
                f"cannot be shorter than {rule.minimum_months} months: {rule.minimum_reason}",
            )
        months[kind] = value
    return months


def parse(text: str) -> PracticeSpec:
    """Validate a practice file; raises :class:`PracticeFileError` naming every bad key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PracticeFileError([f"not valid TOML: {err}"]) from err
    errors = _Errors()
    errors.unknown("", data, _TOP_KEYS)
    if data.get("format") != FORMAT:
        errors.add("format", f"must be {FORMAT} (the practice-file format this version reads)")
    policy = _table(errors, data.get("policy", {}), "policy")
    errors.unknown("policy.", policy, _POLICY_KEYS)
    policy_facts = {key: str(policy[key]) for key in _POLICY_KEYS if key in policy}
    if not data.get("controllers"):
        errors.add("controllers", "at least one [[controllers]] table is required")
    tables = _array(errors, data.get("controllers", []), "controllers")
    specs = [_controller(errors, table, i) for i, table in enumerate(tables)]
    features = _features(errors, _table(errors, data.get("features", {}), "features"))
    if features.get("journal") and not any(spec.profile == "A" for spec in specs):
        errors.add("features.journal", "the journal is kept only by a profile A controller")
    periods = [
        _periods(
            errors,
            _table(errors, t.get("retention", {}), f"controllers[{i}].retention"),
            f"controllers[{i}].retention.",
        )
        for i, t in enumerate(tables)
    ]
    runs = next((i for i, spec in enumerate(specs) if spec.runs_newsletter), 0)
    activities: list[tuple[ActivitySpec, ...] | None] = []
    for i, (table, spec) in enumerate(zip(tables, specs, strict=True)):
        if "activities" not in table:
            activities.append(None)
            continue
        listed = _array(errors, table["activities"], f"controllers[{i}].activities")
        activities.append(
            _activities(errors, listed, i, spec, newsletter=i == runs, features=features)
        )
    names = [spec.name.casefold() for spec in specs]
    for i, name in enumerate(names):
        if name and name in names[:i]:
            errors.add(f"controllers[{i}].name", "two controllers have the same name")
    if sum(spec.runs_newsletter for spec in specs) > 1:
        errors.add("controllers", "at most one controller runs the newsletter (runs_newsletter)")
    procs = [
        _processor(errors, table, i)
        for i, table in enumerate(_array(errors, data.get("processors", []), "processors"))
    ]
    seen: set[str] = set()
    for i, proc in enumerate(procs):
        if proc.name.lower() in seen:
            errors.add(f"processors[{i}].name", f"{proc.name!r} is listed twice")
        seen.add(proc.name.lower())
    retention = _retention(errors, _table(errors, data.get("retention", {}), "retention"))
    if errors.found:
        raise PracticeFileError(errors.found)
    return PracticeSpec(specs, procs, retention, features, activities, periods, policy_facts)


def read(path: Path) -> PracticeSpec:
    """Read and validate the file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise PracticeFileError([f"not UTF-8 text: {err}"]) from err
    except OSError as err:
        raise PracticeFileError([f"cannot be read: {err.strerror or err}"]) from err
    return parse(text)
