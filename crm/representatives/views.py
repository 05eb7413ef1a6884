"""Owner pages for related persons: link one to a client with a mandate, end a mandate."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _

from crm.db import get_session
from crm.errors import flash_refusal
from crm.inputs import form_int
from crm.people import picker
from crm.people import search as people_search
from crm.people.lookup import person_or_404
from crm.people.models import Person
from crm.representatives import services
from crm.representatives.models import Kind
from crm.representatives.models import Representation
from crm.security.roles import Perm
from crm.security.roles import requires
from crm.web import controller_limit
from crm.web import current_actor

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
        return {
            "links": services.for_client(db, person_id),
            "represents": services.represented_by(db, person_id),
            "kinds": [k.value for k in Kind],
            "today": date.today(),
        }

    return {"related_persons": related}


FIELDS = ("representative_id", "kind", "valid_from", "valid_until", "legal_basis", "document")


@bp.route("/<int:person_id>/representatives", methods=["GET", "POST"])
@requires(Perm.PEOPLE_WRITE)
def add(person_id: int) -> Any:
    """Link a representative or related person to the client, with the mandate.

    The person is found by searching (crm/people/picker.py): "Search" posts the form back
    with the matches and everything typed kept; a refused link is shown again the same way.
    """
    client = person_or_404(person_id)
    f = request.form
    db = get_session()
    typed = {k: f.get(k, "") for k in FIELDS}
    other_id = form_int(f, "representative_id")
    typed["representative_id"] = other_id  # type: ignore[assignment]
    query = f.get("person_q", "").strip()[:100]
    if request.method == "GET" or "find" in f:
        return _page(client, typed, query)
    representative = (
        people_search.get_person(db, other_id, controller_limit()) if other_id is not None else None
    )
    if representative is None:
        return _page(client, typed, query, [_("Search for the person first, then choose them.")])
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
        db.rollback()
        return _page(client, typed, query, [_(str(err))])
    db.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("people.detail", person_id=person_id, _anchor="related"))


def _page(
    client: Person, typed: dict[str, Any], query: str, errors: list[str] | None = None
) -> Any:
    """The link form on a page of its own, with the search's matches and what was typed."""
    found, total = picker.choices(
        get_session(),
        query,
        typed.get("representative_id"),
        controller_id=controller_limit(),
        exclude=client.id,
    )
    return render_template(
        "representatives/new.html",
        client=client,
        kinds=[k.value for k in Kind],
        choices=found,
        typed=typed,
        query=query,
        total=total,
        errors=errors or [],
    ), (422 if errors else 200)


@bp.route("/<int:person_id>/representatives/<int:link_id>/end", methods=["POST"])
@requires(Perm.PEOPLE_WRITE)
def end(person_id: int, link_id: int) -> Any:
    """End a mandate today."""
    client = person_or_404(person_id)
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
