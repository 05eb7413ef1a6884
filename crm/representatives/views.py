"""Owner pages for related persons: link one to a client with a mandate, end a mandate."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select

from crm.db import get_session
from crm.errors import flash_refusal
from crm.inputs import form_int
from crm.people.models import Person
from crm.representatives import services
from crm.representatives.models import Kind
from crm.representatives.models import Representation
from crm.security.roles import Perm
from crm.security.roles import requires
from crm.web import controller_limit
from crm.web import current_actor
from crm.web import get_or_404

bp = Blueprint("representatives", __name__, url_prefix="/people")


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    """Let the person page list a client's related persons (people/ imports no feature)."""

    def related(person_id: int) -> dict[str, Any]:
        db = get_session()
        stmt = select(Person.id, Person.name).where(
            Person.id != person_id, Person.archived_at.is_(None)
        )
        if controller_limit() is not None:
            stmt = stmt.where(Person.controller_id == controller_limit())
        candidates = db.execute(stmt.order_by(Person.name).limit(2000)).all()
        return {
            "links": services.for_client(db, person_id),
            "represents": services.represented_by(db, person_id),
            "candidates": candidates,
            "kinds": [k.value for k in Kind],
            "today": date.today(),
        }

    return {"related_persons": related}


@bp.route("/<int:person_id>/representatives", methods=["POST"])
@requires(Perm.PEOPLE_WRITE)
def add(person_id: int) -> Any:
    """Link a representative or related person to the client, with the mandate."""
    client = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
    f = request.form
    db = get_session()
    other_id = form_int(f, "representative_id")
    representative = (
        get_or_404(Person, other_id, controller=lambda p: p.controller_id)
        if other_id is not None
        else None
    )
    if representative is None:
        flash(_("Choose the representative."), "error")
        return redirect(url_for("people.detail", person_id=person_id, _anchor="related"))
    data = services.MandateData(
        kind=f.get("kind", ""),
        valid_from=_date(f.get("valid_from")),
        valid_until=_date(f.get("valid_until")),
        legal_basis=f.get("legal_basis", "")[:200],
        document=f.get("document", "")[:1000],
    )
    try:
        services.add(db, client, representative, data, current_actor())
    except services.MandateError as err:
        flash_refusal(db, err)
    else:
        db.commit()
        flash(_("Saved."), "success")
    return redirect(url_for("people.detail", person_id=person_id, _anchor="related"))


@bp.route("/<int:person_id>/representatives/<int:link_id>/end", methods=["POST"])
@requires(Perm.PEOPLE_WRITE)
def end(person_id: int, link_id: int) -> Any:
    """End a mandate today."""
    client = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
    db = get_session()
    row = db.get(Representation, link_id)
    if row is None or row.client_id != client.id:
        abort(404)
    try:
        services.end(db, row, date.today(), current_actor())
    except services.MandateError as err:
        flash_refusal(db, err)
    else:
        db.commit()
        flash(_("The mandate is ended."), "success")
    return redirect(url_for("people.detail", person_id=person_id, _anchor="related"))


@bp.app_template_filter("mandate_kind")
def mandate_kind_filter(kind: str) -> str:
    """The kind of a mandate in the user's language (a template filter)."""
    return services.mandate_kind(kind)
