"""Access and portability export (GDPR Art. 15 and 20): one zip with everything held.

``data.json`` follows ``schema.json`` (crm/privacy/export_schema.json, included); ``data.csv``
is the same flattened; ``media/`` has the original files; ``sammanfattning.html`` is a
readable Swedish summary with the Art. 15(1) information (purposes, recipients including
processors outside the EU/EEA, retention, rights, IMY) and every consent with the privacy
policy version in force when it was given (number, date, address; crm/consents.py).
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from flask import current_app
from flask import render_template
from sqlalchemy.orm import Session

from crm import controllers
from crm import csvsafe
from crm.audit import Actor
from crm.db import utcnow
from crm.i18n import format_day
from crm.privacy import identity
from crm.privacy import practice
from crm.privacy import record
from crm.privacy import registry
from crm.security import roles
from crm.security.roles import Perm

if TYPE_CHECKING:
    from crm.people.models import Person
    from crm.privacy.models import DataRequest

SCHEMA = Path(__file__).with_name("export_schema.json")


def collect(
    session: Session, person: Person, request: DataRequest | None = None
) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """Everything held about a person, and the media files to include.

    Each section comes from the feature that holds the data (crm/privacy/registry.py), in
    the order of the schema; this module knows no feature's tables. Nothing is read for a
    client whose identity check is not recorded (on ``request``, or on the person without
    one): :func:`crm.privacy.identity.require_identity_check` raises first.
    """
    purpose = request.kind if request is not None and request.kind == "portability" else "access"
    identity.require_identity_check(session, person, purpose, request)
    practice.load(session, current_app.config["PRACTICE_NAME"])
    # seed 000: the controller is the company that met the person, not the brand
    row = controllers.get(session, person.controller_id)
    ctx = registry.ExportContext()
    data: dict[str, Any] = {
        "schema": "crm-export/1",
        "generated_at": utcnow().isoformat(),
        "controller": {
            "name": row.display_name(current_app.config["PRACTICE_NAME"]),
            "org_number": row.org_number,
            "contact_email": row.contact_email,
        },
    }
    for holder in registry.holders():
        if holder.export is None:
            continue
        sections = dict(holder.export(session, person, ctx))
        if set(sections) != set(holder.sections):
            raise RuntimeError(f"{holder.name} exported {sorted(sections)}, not its sections")
        data.update(sections)
    order = list(json.loads(SCHEMA.read_text())["properties"])
    return {k: data[k] for k in sorted(data, key=order.index)}, ctx.files


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(data, dict):
        return [row for k, v in data.items() for row in _flatten(v, f"{prefix}{k}.")]
    if isinstance(data, list):
        return [row for i, v in enumerate(data) for row in _flatten(v, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), "" if data is None else str(data))]


def _day(moment: str | None) -> str:
    """An ISO time of ``data.json`` as the summary's reader's date (the practice's time zone)."""
    return format_day(datetime.fromisoformat(moment)) if moment else ""


def build(
    session: Session,
    person: Person,
    *,
    reader: Actor | None = None,
    request: DataRequest | None = None,
) -> bytes:
    """The export zip (behind the identity gate, see :func:`collect`).

    :param reader: the staff member who downloads it. The zip holds health notes, the journal
        and visit notes, so their role must allow reading those; None when the person
        downloads their own data through a signed link, or at the command line.
    :raises roles.PermissionDenied: the reader's role may not read health data.
    """
    if reader is not None:
        roles.check(reader, Perm.HEALTH_READ)
    data, files = collect(session, person, request)
    row = practice.load(session, current_app.config["PRACTICE_NAME"])
    csv_out = io.StringIO()
    writer = csvsafe.writer(csv_out, delimiter=";")
    writer.writerow(["fält", "värde"])
    writer.writerows(_flatten(data))
    summary = render_template(
        "privacy/export_summary.html",
        data=data,
        row=row,
        activities=record.activities(row, controllers.get(session, person.controller_id)),
        security=record.SECURITY,
        day=_day,
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.json", json.dumps(data, ensure_ascii=False, indent=2))
        zf.writestr("schema.json", SCHEMA.read_text())
        zf.writestr("data.csv", "\ufeff" + csv_out.getvalue())
        zf.writestr("sammanfattning.html", summary)
        for name, content in files:
            zf.writestr(name, content)
    return out.getvalue()
