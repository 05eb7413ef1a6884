"""``crm practice load FILE``: make the installation match a practice file.

The file's format and validation are crm/privacy/practice_file.py; this applies a validated
file through the same services as the settings and activity pages (so the same rules hold),
in one transaction, and audits the load once with the changed keys, never their values.
Loading is idempotent: what already matches is not written again, and a load that changes
nothing audits nothing.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from dataclasses import replace
from datetime import UTC
from datetime import date
from datetime import datetime
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm import controllers
from crm.audit import Actor
from crm.controllers import Controller
from crm.db import utcnow
from crm.privacy import activities
from crm.privacy import periods
from crm.privacy import policy_versions
from crm.privacy import practice
from crm.privacy.activity_defaults import ActivityData
from crm.privacy.practice_catalogue import RETENTION_RULES
from crm.privacy.practice_file import read
from crm.privacy.practice_spec import ActivitySpec
from crm.privacy.practice_spec import PeriodSpec
from crm.privacy.practice_spec import PracticeFileError
from crm.privacy.practice_spec import PracticeSpec


def apply(session: Session, spec: PracticeSpec, actor: Actor) -> list[str]:
    """Make the installation match ``spec``; returns the changed keys (empty: nothing changed).

    The caller commits (and rolls back on :class:`PracticeFileError`). Audited once.
    """
    existing = controllers.all_controllers(session)
    if len(existing) > len(spec.controllers):
        raise PracticeFileError(
            [
                f"controllers: the installation has {len(existing)} controllers and the file "
                f"states {len(spec.controllers)}; a controller cannot be removed, because the "
                "people it met stay its own (state every controller, in order)"
            ]
        )
    row = practice.load(session)
    changed: list[str] = []
    rows: list[Controller] = []
    for index, wanted in enumerate(spec.controllers):
        if index < len(existing):
            current = existing[index]
        else:
            current = practice.add_controller(session, wanted.name, actor)
            changed.append(f"controllers[{index}]")
        try:
            fields = practice.save_controller(
                session, current, actor=actor, audited=False, **asdict(wanted)
            )
        except practice.SettingsError as err:  # validated before; kept as a named error
            raise PracticeFileError([f"controllers[{index}]: {str(err) % err.params}"]) from err
        changed += [f"controllers[{index}].{name}" for name in fields]
        rows.append(current)
    changed += _settings(session, row, spec, actor)
    for index, (controller, own) in enumerate(zip(rows, spec.periods, strict=True)):
        changed += _periods(session, controller, index, own, actor)
    session.flush()  # the activities below are generated from what was just stored
    for index, (controller, listed) in enumerate(zip(rows, spec.activities, strict=True)):
        if _activities(session, controller, index, listed, actor):
            changed.append(f"controllers[{index}].activities")
    session.flush()  # a published version is rendered from what was just stored
    changed += _publish(session, rows, spec, actor)
    if changed:
        audit.record(session, actor, "privacy.practice_load", details={"changed": changed})
    return changed


def _publish(
    session: Session, rows: list[Controller], spec: PracticeSpec, actor: Actor
) -> list[str]:
    """Publish each controller's policy when it differs from the version in force.

    A practice file describes the policy the practice publishes ("the latest version is always
    on our website", seed 000), so loading it publishes that policy: with the file's
    ``[policy] date`` when it names the day the practice published it (seed 000: 2018-05-22),
    else today. The public page then says which version is in force and since when, and
    consents given from then on refer to it. Loading the same file again publishes nothing; an
    edited file publishes a new version, dated today when the file's date is not after the
    version in force.
    """
    when: datetime | None = None
    raw = spec.policy.get("date")
    if raw:
        try:
            day = date.fromisoformat(raw)
        except ValueError as err:
            raise PracticeFileError([f"policy.date: not a date (YYYY-MM-DD): {raw!r}"]) from err
        when = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        if when > utcnow():
            raise PracticeFileError([f"policy.date: {raw} lies in the future"])
    changed = []
    for index, controller in enumerate(rows):
        if controller.stand_ins:  # never an immutable version naming a stand-in (seed 004)
            continue
        current = policy_versions.in_force(session, controller)
        dated = when
        if current is not None and when is not None and when <= current.published_at:
            dated = None  # an edited file: a new version from today
        try:
            policy_versions.publish(session, controller, actor, published_at=dated)
        except policy_versions.PolicyError:
            continue  # the version in force already says this
        changed.append(f"controllers[{index}].policy_version")
    return changed


def _settings(
    session: Session, row: practice.PracticeSettings, spec: PracticeSpec, actor: Actor
) -> list[str]:
    """Processors, installation-wide periods and features; returns the changed keys."""
    changed = []
    processors = json.dumps([p.__dict__ for p in spec.processors], ensure_ascii=False)
    if processors != row.processors:
        changed.append("processors")
    changed += [
        f"retention.{rule.kind}"
        for rule in RETENTION_RULES
        if row.retention_months(rule.kind) != spec.retention[rule.kind]
    ]
    stored = json.loads(row.features or "{}")
    changed += [
        f"features.{key}"
        for key, _label in practice.FEATURES
        if stored.get(key) != spec.features.get(key)
    ]
    practice.save(
        session,
        row,
        processors=spec.processors,
        retention=spec.retention,
        features=spec.features,
        actor=actor,
        audited=False,
    )
    return changed


def _periods(
    session: Session, controller: Controller, index: int, own: dict[str, PeriodSpec], actor: Actor
) -> list[str]:
    """A controller's own periods; a kind the file leaves out goes back to the installation's."""
    stored = {
        row.kind: row
        for row in session.scalars(
            select(periods.RetentionPeriod).where(
                periods.RetentionPeriod.controller_id == controller.id
            )
        )
    }
    changed = []
    for kind, old in stored.items():
        if kind not in own:
            session.delete(old)
            changed.append(f"controllers[{index}].retention.{kind}")
    for kind, wanted in own.items():
        row = stored.get(kind)
        now = (
            None
            if row is None
            else PeriodSpec(
                row.months,
                row.from_year_end,
                row.year_start_month,
                row.automatic,
                row.include_active,
            )
        )
        if now == wanted or (
            now is not None
            and kind in periods.YEAR_END_BY_LAW
            and replace(wanted, from_year_end=True) == now
        ):
            continue
        try:
            periods.set_period(session, controller.id, kind, actor=actor, **asdict(wanted))
        except practice.SettingsError as err:  # validated before; kept as a named error
            raise PracticeFileError(
                [f"controllers[{index}].retention.{kind}: {str(err) % err.params}"]
            ) from err
        changed.append(f"controllers[{index}].retention.{kind}")
    session.flush()
    return changed


def _wanted(
    session: Session, controller: Controller, where: str, listed: tuple[ActivitySpec, ...] | None
) -> list[tuple[ActivityData, bool]]:
    """The activities the file states, each with whether it follows the settings."""
    if listed is None:
        return [(data, True) for data in activities.defaults(session, controller)]
    wanted = []
    for number, activity in enumerate(listed):
        if not activity.standard:
            wanted.append((ActivityData(**activity.texts), False))
            continue
        base = activities.default_for(session, controller, activity.standard)
        if base is None:
            raise PracticeFileError(
                [f"{where}[{number}].standard: {activity.standard!r} does not apply here"]
            )
        wanted.append((replace(base, **activity.texts), activity.follows_settings))
    return wanted


def _activities(
    session: Session,
    controller: Controller,
    index: int,
    listed: tuple[ActivitySpec, ...] | None,
    actor: Actor,
) -> bool:
    """Make one controller's list what the file states; True when it changed."""
    where = f"controllers[{index}].activities"
    wanted = []
    for number, (data, follows) in enumerate(_wanted(session, controller, where, listed)):
        try:
            wanted.append((activities.check(session, controller, data), follows))
        except activities.ActivityError as err:
            raise PracticeFileError([f"{where}[{number}]: {str(err) % err.params}"]) from err
    current = activities.list_for_controller(session, controller)
    stored = [(activities.data_of(session, controller, r), r.follows_settings) for r in current]
    if [_state(*pair) for pair in stored] == [_state(*pair) for pair in wanted]:
        return False
    rows = activities.replace_for_controller(session, controller, [d for d, _f in wanted], actor)
    for row, (_data, follows) in zip(rows, wanted, strict=True):
        row.follows_settings = follows
    return True


def _state(data: ActivityData, follows: bool) -> tuple[object, ...]:
    """What must match for a stored activity to be the file's.

    A row following the settings is its key; any other row is all its texts.
    """
    if follows:
        return (data.key, True)
    texts = {
        name: value.strip() if isinstance(value, str) else value
        for name, value in asdict(data).items()
    }
    return (data.key, False, tuple(sorted(texts.items())))


def load(session: Session, path: Path, actor: Actor) -> list[str]:
    """Read, validate and apply a practice file (the caller commits)."""
    return apply(session, read(path), actor)


# --- the command line -------------------------------------------------------------------------


@click.group("practice")
def practice_group() -> None:
    """Set the practice up from a practice file (see examples/practices/)."""


@practice_group.command("load")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--dry-run", is_flag=True, help="Validate and show what would change; change nothing."
)
@with_appcontext
def load_command(path: Path, dry_run: bool) -> None:
    """Validate FILE and make the installation match it (loading it twice changes nothing)."""
    from crm.db import get_session

    session = get_session()
    try:
        changed = load(session, path, Actor.cli())
    except PracticeFileError as err:
        session.rollback()
        for line in err.errors:
            click.echo(f"{path}: {line}", err=True)
        raise SystemExit(1) from err
    warnings = stand_ins(session)
    if dry_run:
        session.rollback()
    else:
        session.commit()
    if not changed:
        click.echo(f"Nothing changed: the installation already matches {path}.")
    else:
        click.echo(("Would change" if dry_run else "Changed") + f" {len(changed)}:")
        for key in changed:
            click.echo(f"  {key}")
    for key in warnings:
        click.echo(
            f"{path}: warning: {key} is a stand-in (a reserved example domain, RFC 2606): put "
            "the practice's own in and load the file again; until then the privacy policy is "
            "not published and the first-run checklist shows who the practice is as not done",
            err=True,
        )


def stand_ins(session: Session) -> list[str]:
    """The keys of the controllers' contact facts that are stand-ins (seed 004 names no one).

    Named so a practice file copied from examples/ is not published with fake contact data.
    """
    return [
        f"controllers[{index}].{field}"
        for index, controller in enumerate(controllers.all_controllers(session))
        for field in controller.stand_ins
    ]
