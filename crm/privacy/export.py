"""Access and portability export (GDPR Art. 15 and 20): one zip with everything held.

``data.json`` follows ``schema.json`` (crm/privacy/export_schema.json, included); ``data.csv``
is the same flattened; ``media/`` has the original files; ``sammanfattning.html`` is a
readable Swedish summary with the Art. 15(1) information (purposes, recipients including
processors outside the EU/EEA, retention, rights, IMY).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from flask import current_app
from flask import render_template
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.audit import AuditEvent
from crm.db import utcnow
from crm.newsletter import services as newsletter
from crm.outbox import ProviderLink
from crm.people import personnummer as pnr
from crm.people.models import Person
from crm.privacy import recipients
from crm.privacy import record
from crm.privacy import settings as practice
from crm.privacy.models import DataRequest
from crm.testimonials import media as media_store
from crm.testimonials.models import Testimonial

SCHEMA = Path(__file__).with_name("export_schema.json")


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def collect(session: Session, person: Person) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """Everything held about a person, and the media files to include."""
    row = practice.load(session, current_app.config["PRACTICE_NAME"])
    card = person.client_card
    newsletter_data = newsletter.subject_data(session, person)
    files: list[tuple[str, bytes]] = []
    testimonials = []
    for t in session.scalars(select(Testimonial).where(Testimonial.person_id == person.id)):
        media = []
        for item in t.live_media:
            name = f"media/testimonial-{t.id}-{item.id}.{item.mime.split('/')[1]}"
            if media_store.exists(item.stored_name):
                files.append((name, media_store.load(item.stored_name)))
            media.append({"file": name, "kind": item.kind, "mime": item.mime})
        testimonials.append(
            {
                "text": t.text,
                "status": t.status,
                "display_mode": t.display_mode,
                "created_at": _iso(t.created_at),
                "media": media,
                "consents": [
                    {
                        "requested_at": _iso(c.requested_at),
                        "consented_at": _iso(c.consented_at),
                        "channels": c.channel_list(),
                        "media": c.media_list(),
                        "revoked_at": _iso(c.revoked_at),
                    }
                    for c in t.consents
                ],
                "publications": [
                    {
                        "channel": p.channel,
                        "description": p.description,
                        "url": p.url,
                        "published_on": _iso(p.published_on),
                        "removed_at": _iso(p.removed_at),
                    }
                    for p in t.publications
                ],
            }
        )
    data = {
        "schema": "crm-export/1",
        "generated_at": utcnow().isoformat(),
        "controller": {
            "name": row.name or current_app.config["PRACTICE_NAME"],
            "org_number": row.org_number,
            "contact_email": row.contact_email,
        },
        "person": {
            "name": person.name,
            "email": person.email,
            "phone": person.phone,
            "address": person.address,
            "personnummer": pnr.Personnummer(person.personnummer).display()
            if person.personnummer
            else None,
            "created_at": _iso(person.created_at),
            "last_contact_at": _iso(person.last_contact_at),
            "restricted_at": _iso(person.restricted_at),
            "marketing_objection_at": _iso(person.marketing_objection_at),
        },
        "client_card": None
        if card is None
        else {
            "client_since": _iso(card.client_since),
            "client_until": _iso(card.client_until),
            "health_notes": card.health_notes,
            "art9_basis": card.art9_basis,
        },
        "visits": [{"date": v.visited_on.isoformat(), "note": v.note} for v in person.visits],
        "journal": [
            {
                "id": j.id,
                "written_at": _iso(j.written_at),
                "text": j.text,
                "corrects": j.corrects_id,
            }
            for j in person.journal
        ],
        "subscriptions": newsletter_data["subscriptions"],
        "consent_records": newsletter_data["consent_records"],
        "testimonials": testimonials,
        "provider_status": [
            {"provider": link.provider, "status": link.status, "updated_at": _iso(link.updated_at)}
            for link in session.scalars(
                select(ProviderLink).where(ProviderLink.person_id == person.id)
            )
        ],
        # Art. 19, last sentence: the recipients told of an erasure, rectification,
        # restriction or objection - by the sync (automatic) or by staff (manual)
        "recipients_told": [
            {
                "recipient": t.recipient,
                "action": t.action,
                "how": "automatic" if t.automatic else "manual",
                "at": _iso(t.at),
            }
            for t in recipients.told_about(session, person.id)
        ],
        "requests": [
            {
                "kind": r.kind,
                "status": r.status,
                "received_at": _iso(r.received_at),
                "due_at": _iso(r.due_at),
                "completed_at": _iso(r.completed_at),
            }
            for r in session.scalars(select(DataRequest).where(DataRequest.person_id == person.id))
        ],
        "audit": [
            {"at": _iso(e.occurred_at), "action": e.action, "by": e.actor_kind}
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.object_type == "person", AuditEvent.object_id == str(person.id))
                .order_by(AuditEvent.seq)
            )
        ],
    }
    return data, files


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(data, dict):
        return [row for k, v in data.items() for row in _flatten(v, f"{prefix}{k}.")]
    if isinstance(data, list):
        return [row for i, v in enumerate(data) for row in _flatten(v, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), "" if data is None else str(data))]


def build(session: Session, person: Person) -> bytes:
    """The export zip."""
    data, files = collect(session, person)
    row = practice.load(session, current_app.config["PRACTICE_NAME"])
    csv_out = io.StringIO()
    writer = csv.writer(csv_out, delimiter=";")
    writer.writerow(["fält", "värde"])
    writer.writerows(_flatten(data))
    summary = render_template(
        "privacy/export_summary.html",
        data=data,
        row=row,
        activities=record.activities(row),
        security=record.SECURITY,
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
