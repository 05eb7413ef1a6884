"""Public privacy pages: the policy, the export download and "forget me"."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from sqlalchemy import select

from crm import audit
from crm.audit import Actor
from crm.db import get_session
from crm.newsletter import links
from crm.people.models import Person
from crm.privacy import export as export_zip
from crm.privacy import forget as forget_me
from crm.privacy import record
from crm.privacy import settings
from crm.security import tokens
from crm.web import bad_token_response
from crm.web import public

bp = Blueprint("privacy_public", __name__)


@bp.route("/export/<token>")
@public
def export(token: str) -> Any:
    """The person's own download of their data, by a signed link valid 24 hours."""
    try:
        payload = tokens.verify(tokens.Purpose.EXPORT, token, max_age=24 * 3600)
    except tokens.ExpiredToken:
        return render_template("public/export_expired.html"), 410
    except tokens.InvalidToken:
        return bad_token_response()
    db = get_session()
    person = db.scalar(select(Person).where(Person.public_id == str(payload.get("p"))))
    if person is None:
        return render_template("public/forgotten.html"), 404
    data = export_zip.build(db, person)
    audit.record(
        db,
        Actor("public", None, request.remote_addr),
        "privacy.export_download",
        object_type="person",
        object_id=person.id,
    )
    db.commit()
    return Response(
        data,
        mimetype="application/zip",
        headers={"Content-Disposition": 'attachment; filename="mina-uppgifter.zip"'},
    )


@bp.route("/integritetspolicy")
@public
def policy() -> Any:
    """The privacy policy: what the system actually does (or the practice's own page)."""
    url = current_app.config["PRIVACY_POLICY_URL"]
    if url:
        return redirect(url)
    db = get_session()
    row = settings.load(db, current_app.config["PRACTICE_NAME"])
    db.commit()
    return render_template(
        "public/privacy.html", row=row, activities=record.activities(row), security=record.SECURITY
    )


@bp.route("/preferences/<token>/forget", methods=["POST"])
@public
def forget(token: str) -> ResponseReturnValue:
    """Ask to be forgotten: at once for subscribers only, as a request for clients.

    Reached from the newsletter's preferences page (its URL sits under it), served here
    because erasure is privacy's: the newsletter imports no privacy code.
    """
    person = links.preferences_person(token)
    if not isinstance(person, Person):
        return person
    form = FlaskForm()
    if not form.validate_on_submit() or request.form.get("sure") != "yes":
        abort(400)
    db = get_session()
    outcome = forget_me.forget(db, person, Actor("public", None, request.remote_addr))
    db.commit()
    return render_template("public/forget_done.html", outcome=outcome)
