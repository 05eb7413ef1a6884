"""Published privacy policy versions: dated, immutable, material or not (issue 15 part 2).

Why: what a person was told is part of the proof of their consent (legal requirements 1.6),
and a policy that changes must say since when; seed 000 (2018) and 001 are two versions of one
practice's policy. Publishing renders the policy from the controller's activities
(crm/privacy/activities.py) into a stored, numbered version; ``/integritetspolicy`` shows the
newest one and links to the earlier ones, each at its own address. Consent records refer to
the version in force (every consent model mixes in crm/consents.py ``RefersToPolicy``).

A version that adds a purpose or a recipient to the previous one is *material*: the people
already in the register were told less than what is now done, so the dashboard offers to tell
subscribers and clients (crm/main/policy_notice.py) until the owner has done so.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import nullcontext
from dataclasses import asdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from flask import has_request_context
from flask import render_template
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm import controllers
from crm.audit import Actor
from crm.controllers import Controller
from crm.db import utcnow
from crm.i18n import N_
from crm.privacy import activities
from crm.privacy import practice
from crm.privacy import record
from crm.privacy.models import PolicyVersion


class PolicyError(ValueError):
    """Publishing was refused; the message is an English msgid (may carry params)."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.params = params


def _public_locale() -> str:
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def facts_now(session: Session, controller: Controller) -> dict[str, Any]:
    """What a version published now would say: the controller and its activities.

    In the public language, whatever the owner's own UI language is.
    """
    practice.load(session, current_app.config["PRACTICE_NAME"])
    with force_locale(_public_locale()):
        listed = activities.effective(session, controller)
    return {
        "controller": {
            "name": controller.display_name(current_app.config["PRACTICE_NAME"]),
            "org_number": controller.org_number,
            "address": controller.address,
            "contact_name": controller.contact_name,
            "contact_email": controller.contact_email,
        },
        "activities": [
            {k: v for k, v in asdict(a).items() if k != "id"}
            | {"recipient_names": list(a.recipient_names)}
            for a in listed
        ],
    }


def _canonical(facts: dict[str, Any]) -> str:
    return json.dumps(facts, ensure_ascii=False, sort_keys=True)


def render_body(facts: dict[str, Any]) -> str:
    """The policy's text (HTML) from a version's facts, in the public language."""
    context = nullcontext() if has_request_context() else current_app.test_request_context()
    with context, force_locale(_public_locale()):
        # links in the text are relative: the same on every host name the site answers to
        return render_template(
            "public/_policy_body.html",
            row=facts["controller"],
            activities=[as_activity(a) for a in facts["activities"]],
            security=record.SECURITY,
        )


def as_activity(data: dict[str, Any]) -> activities.Activity:
    """An activity as a version stored it."""
    fields = {**data, "recipient_names": tuple(data.get("recipient_names") or ())}
    known = activities.Activity.__dataclass_fields__
    return activities.Activity(**{k: v for k, v in fields.items() if k in known})


def versions(session: Session, controller: Controller) -> list[PolicyVersion]:
    """A controller's published versions, the newest first."""
    return list(
        session.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.controller_id == controller.id)
            .order_by(PolicyVersion.number.desc())
        )
    )


def in_force(session: Session, controller: Controller) -> PolicyVersion | None:
    """The newest published version (None before the first)."""
    return session.scalar(
        select(PolicyVersion)
        .where(PolicyVersion.controller_id == controller.id)
        .order_by(PolicyVersion.number.desc())
        .limit(1)
    )


def get(session: Session, version_id: int) -> PolicyVersion | None:
    """A version by id."""
    return session.get(PolicyVersion, version_id)


@dataclass(frozen=True)
class Changes:
    """What a new version adds to the previous one."""

    purposes: list[str]
    recipients: list[str]

    @property
    def material(self) -> bool:
        """Adding a purpose or a recipient is material: the people must be told."""
        return bool(self.purposes or self.recipients)


def changes(before: dict[str, Any] | None, after: dict[str, Any]) -> Changes:
    """The purposes and recipients ``after`` has that ``before`` had not (none for a first)."""
    if before is None:
        return Changes([], [])
    old_purposes = {_norm(a["purposes"]) for a in before["activities"]}
    old_recipients = {_norm(n) for a in before["activities"] for n in a["recipient_names"]}
    purposes = [
        a["purposes"] for a in after["activities"] if _norm(a["purposes"]) not in old_purposes
    ]
    recipients: list[str] = []
    for a in after["activities"]:
        for name in a["recipient_names"]:
            if _norm(name) not in old_recipients and name not in recipients:
                recipients.append(name)
    return Changes(purposes, recipients)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def pending(session: Session, controller: Controller) -> Changes | None:
    """What publishing now would change, or None when the policy in force says it all."""
    current = in_force(session, controller)
    now = facts_now(session, controller)
    if current is not None and _canonical(json.loads(current.facts)) == _canonical(now):
        return None
    return changes(json.loads(current.facts) if current else None, now)


def publish(
    session: Session,
    controller: Controller,
    actor: Actor,
    *,
    published_at: datetime | None = None,
) -> PolicyVersion:
    """Publish the policy as it reads now: a new dated, numbered, immutable version.

    ``published_at`` (default now) lets a practice file bring in a practice's earlier,
    already published policies with their own dates (seed 000: 2018-05-22); a date may not
    precede the version in force, nor lie in the future.
    """
    current = in_force(session, controller)
    when = published_at or utcnow()
    if when > utcnow() or (current is not None and when < current.published_at):
        raise PolicyError(
            N_("A version cannot be dated before the one in force or later than now.")
        )
    facts = facts_now(session, controller)
    before = json.loads(current.facts) if current is not None else None
    if current is not None and _canonical(json.loads(current.facts)) == _canonical(facts):
        raise PolicyError(
            N_("Nothing has changed since version %(number)s."), number=current.number
        )
    html = render_body(facts)
    found = changes(before, facts)
    row = PolicyVersion(
        controller_id=controller.id,
        number=(current.number + 1) if current is not None else 1,
        published_at=when,
        published_by_id=actor.user_id,
        html=html,
        facts=_canonical(facts),
        html_hash=hashlib.sha256(html.encode()).hexdigest(),
        material=found.material,
        changes=json.dumps(asdict(found), ensure_ascii=False),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "privacy.policy_publish",
        obj=row,
        details={"controller": controller.id, "number": row.number, "material": row.material},
    )
    return row


def added(row: PolicyVersion) -> Changes:
    """What a published version added to the one before it."""
    data = json.loads(row.changes or "{}")
    return Changes(list(data.get("purposes", [])), list(data.get("recipients", [])))


def mark_informed(session: Session, row: PolicyVersion, count: int, actor: Actor) -> None:
    """Record that subscribers and clients were told about a material version."""
    row.informed_at = utcnow()
    row.informed_count = count
    session.flush()
    audit.record(session, actor, "privacy.policy_informed", obj=row, details={"mails": count})


@dataclass(frozen=True)
class Notice:
    """A dashboard line about one controller's policy."""

    controller: Controller
    unpublished: bool
    uninformed: PolicyVersion | None


def dashboard_notices(session: Session) -> list[Notice]:
    """Changes not yet published (once a policy was), and material versions not yet told."""
    out = []
    for controller in controllers.all_controllers(session):
        current = in_force(session, controller)
        if current is None:
            continue
        unpublished = pending(session, controller) is not None
        uninformed = current if current.material and current.informed_at is None else None
        if unpublished or uninformed is not None:
            out.append(Notice(controller, unpublished, uninformed))
    return out
