"""The owner's pages for the processing activities: list, add, edit, remove (issue 15 part 1).

Thin: the form is read here, everything else is crm/privacy/activities.py. A refused entry
comes back with the error in place and everything typed kept (status 422).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _

from crm import controllers
from crm.db import get_session
from crm.errors import flash_refusal
from crm.privacy import activities
from crm.privacy import forms
from crm.privacy import policy_versions
from crm.privacy import practice
from crm.privacy.models import ProcessingActivity
from crm.privacy.views.practice_pages import chosen_controller
from crm.security.roles import Perm
from crm.security.roles import requires
from crm.web import current_actor

bp = Blueprint("activities", __name__, url_prefix="/privacy/activities")


@bp.app_template_global("signup_notice")
def signup_notice() -> tuple[controllers.Controller, activities.Activity] | None:
    """The sign-up form's Art. 13 text: the newsletter activity and its controller.

    Once a policy is published, from the version in force, which the consent will refer to.

    A template global, so the newsletter's page reads the same list as the policy without
    the newsletter importing privacy (pyproject's contracts).
    """
    db = get_session()
    practice.load(db, current_app.config["PRACTICE_NAME"])
    controller = controllers.get(db, controllers.newsletter_id(db.connection()))
    version = policy_versions.in_force(db, controller)
    if version is None:
        return activities.newsletter_notice(db)
    # what the sign-up says is what the policy in force says (the consent refers to it)
    found = next(
        (a for a in json.loads(version.facts)["activities"] if a.get("key") == "newsletter"), None
    )
    return (controller, policy_versions.as_activity(found)) if found is not None else None


def _from_form(f: Any) -> activities.ActivityData:
    return activities.ActivityData(
        name=f.get("name", ""),
        purpose=f.get("purpose", ""),
        legal_basis=f.get("legal_basis", ""),
        basis_detail=f.get("basis_detail", ""),
        health_basis=f.get("health_basis", ""),
        subjects=f.get("subjects", ""),
        data_categories=f.get("data_categories", ""),
        recipients=tuple((f.get("recipients") or "").splitlines()),
        transfers=f.get("transfers", ""),
        retention=f.get("retention", ""),
        source=f.get("source", ""),
    )


def _form_page(
    controller: controllers.Controller,
    data: activities.ActivityData | None,
    row: ProcessingActivity | None = None,
    status: int = 200,
) -> tuple[str, int]:
    return render_template(
        "privacy/activity_form.html",
        controller=controller,
        data=data,
        row=row,
        bases=activities.BASES,
        health_bases=activities.HEALTH_BASES,
        form=forms.ButtonForm(),
    ), status


def _save(
    controller: controllers.Controller,
    activity_id: int | None,
    store: Callable[[activities.ActivityData], object],
    done: str,
) -> Any:
    """Store the posted form (add or edit); a refusal comes back in place with what was typed."""
    db = get_session()
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    data = _from_form(request.form)
    try:
        store(data)
    except activities.ActivityError as err:
        flash_refusal(db, err)
        row = None if activity_id is None else _row_or_404(activity_id)
        return _form_page(controller, data, row, status=422)
    db.commit()
    flash(done, "success")
    return redirect(url_for("activities.index", controller=controller.id))


@bp.route("/")
@requires(Perm.SETTINGS)
def index() -> Any:
    """A controller's activities as published, with edit and remove."""
    db = get_session()
    practice.load(db, current_app.config["PRACTICE_NAME"])
    controller = chosen_controller()
    shown = activities.effective(db, controller)
    every = controllers.all_controllers(db)
    published = policy_versions.versions(db, controller)
    pending = policy_versions.pending(db, controller)
    db.commit()
    return render_template(
        "privacy/activities.html",
        controller=controller,
        every=every,
        activities=shown,
        published=published,
        pending=pending,
        form=forms.ButtonForm(),
    )


@bp.route("/publish", methods=["POST"])
@requires(Perm.SETTINGS)
def publish() -> Any:
    """Publish the privacy policy as the activities now say it: a new, dated version."""
    db = get_session()
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    controller = chosen_controller()
    try:
        row = policy_versions.publish(db, controller, current_actor())
    except policy_versions.PolicyError as err:
        db.rollback()
        flash(_(str(err), **err.params), "error")
        return redirect(url_for("activities.index", controller=controller.id))
    db.commit()
    if row.material:
        flash(
            _(
                "Version %(number)s is published. It adds a purpose or a recipient: tell your "
                "subscribers and clients from the overview.",
                number=row.number,
            ),
            "success",
        )
    else:
        flash(_("Version %(number)s is published.", number=row.number), "success")
    return redirect(url_for("activities.index", controller=controller.id))


@bp.route("/new", methods=["GET", "POST"])
@requires(Perm.SETTINGS)
def add() -> Any:
    """Add a free entry (customer service on social media, a webshop, recorded calls ...)."""
    db = get_session()
    practice.load(db, current_app.config["PRACTICE_NAME"])
    controller = chosen_controller()
    if request.method == "GET":
        db.commit()
        return _form_page(controller, None)
    return _save(
        controller,
        None,
        lambda data: activities.add(db, controller, data, current_actor()),
        _("Activity added. The privacy policy and the record follow."),
    )


def _row_or_404(activity_id: int) -> ProcessingActivity:
    row = activities.get(get_session(), activity_id)
    if row is None:
        abort(404)
    return row


@bp.route("/<int:activity_id>/edit", methods=["GET", "POST"])
@requires(Perm.SETTINGS)
def edit(activity_id: int) -> Any:
    """Change an activity's texts (a pre-filled one then stops following the settings)."""
    db = get_session()
    practice.load(db, current_app.config["PRACTICE_NAME"])
    row = _row_or_404(activity_id)
    controller = controllers.get(db, row.controller_id)
    if request.method == "GET":
        data = activities.data_of(db, controller, row)
        db.commit()
        return _form_page(controller, data, row)
    return _save(
        controller,
        activity_id,
        lambda data: activities.update(db, row, data, current_actor()),
        _("Activity saved. The privacy policy and the record follow."),
    )


@bp.route("/<int:activity_id>/remove", methods=["POST"])
@requires(Perm.SETTINGS)
def remove(activity_id: int) -> Any:
    """Take an activity off the list."""
    db = get_session()
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    row = _row_or_404(activity_id)
    controller_id = row.controller_id
    activities.remove(db, row, current_actor())
    db.commit()
    flash(_("Activity removed."), "success")
    return redirect(url_for("activities.index", controller=controller_id))
