"""Owner pages: the practice settings (who the controllers are) and the record of processing."""

from __future__ import annotations

from typing import Any

from flask import Response
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
from crm.inputs import parse_int
from crm.people import services as people
from crm.privacy import activities as activity_list
from crm.privacy import forms
from crm.privacy import practice
from crm.privacy import practice_catalogue
from crm.privacy import record
from crm.privacy.views import bp
from crm.security.roles import Perm
from crm.security.roles import requires
from crm.web import current_actor


def _processors_from_form(form: Any) -> list[practice_catalogue.Processor]:
    chosen = [p for p in practice_catalogue.KNOWN_PROCESSORS if form.get(f"proc-{p.name}")]
    for line in (form.get("other_processors") or "").splitlines():
        parts = [x.strip() for x in line.split("|")]
        if parts and parts[0]:
            outside = len(parts) > 2 and parts[2].lower() in ("ja", "yes", "j", "y")
            chosen.append(
                practice_catalogue.Processor(
                    parts[0],
                    parts[1] if len(parts) > 1 else "",
                    outside,
                    parts[3] if len(parts) > 3 else "",
                )
            )
    return chosen


def _retention_from_form(values: Any) -> dict[str, int]:
    """Retention periods from the settings form (empty means 0; not a number: refused later).

    A value that is not a number becomes -1, which the service refuses at its field together
    with every other error.
    """
    periods = {}
    for rule in practice_catalogue.RETENTION_RULES:
        raw = values.get(f"ret-{rule.kind}", str(rule.default_months))
        months = 0 if raw == "" else parse_int(raw)
        periods[rule.kind] = -1 if months is None else months
    return periods


def _settings_page(
    row: Any, controller: Any, form: Any, values: Any, errors: dict[str, str] | None = None
) -> str:
    db = get_session()

    return render_template(
        "privacy/settings.html",
        row=row,
        controller=controller,
        every=controllers.all_controllers(db),
        form=form,
        rules=practice_catalogue.RETENTION_RULES,
        features=practice.FEATURES,
        known=practice_catalogue.KNOWN_PROCESSORS,
        professions=practice_catalogue.PROFESSIONS,
        values=values,
        errors=errors or {},
        beyond=people.beyond_mode(db, controller),
    )


def chosen_controller() -> Any:
    """The controller named by ``?controller=`` (404 for an unknown one), or the first."""
    db = get_session()
    wanted = request.args.get("controller", "")
    if not wanted:
        return controllers.first(db)
    number = parse_int(wanted)
    chosen = db.get(controllers.Controller, number) if number is not None else None
    if chosen is None:
        abort(404)
    return chosen


@bp.route("/settings", methods=["GET", "POST"])
@requires(Perm.SETTINGS)
def practice_settings() -> Any:
    """Who each controller is, its profile and identity numbers; processors and retention."""
    db = get_session()
    row = practice.load(db, current_app.config["PRACTICE_NAME"])
    controller = chosen_controller()
    form = forms.ButtonForm()
    if request.method == "POST" and form.validate_on_submit():
        f = request.form
        before = controller.mode
        try:
            retention = _retention_from_form(f)
            months = (f.get("representative_months") or "").strip()
            if months and parse_int(months) is None:
                months = "-1"  # refused with the other errors, at its field
            practice.save(
                db,
                row,
                controller=controller,
                name=f.get("name", ""),
                org_number=f.get("org_number", ""),
                address=f.get("address", ""),
                contact_name=f.get("contact_name", ""),
                contact_email=f.get("contact_email", ""),
                profile=f.get("profile", "B"),
                profession=f.get("profession", ""),
                id_number_mode=f.get("id_number_mode") or None,
                id_number_reason=f.get("id_number_reason"),
                representative_months=int(months) if months else None,
                runs_newsletter=f.get("runs_newsletter") == "1"
                if "newsletter_shown" in f
                else None,
                processors=_processors_from_form(f),
                retention=retention,
                features={key: f.get(f"feature-{key}") == "1" for key, _l in practice.FEATURES}
                if "features_shown" in f
                else None,
                actor=current_actor(),
            )
            # a feature switched off leaves the activity list, one switched on joins it
            activity_list.sync_features(db, current_actor())
        except ValueError as err:
            db.rollback()
            # the rollback may have taken a settings row created by this very request with it
            row = practice.load(db, current_app.config["PRACTICE_NAME"])
            problems = getattr(err, "problems", [("", err)])
            errors = {
                field: _(str(e), **{k: _(str(v)) for k, v in getattr(e, "params", {}).items()})
                for field, e in problems
            }
            general = errors.pop("", None)  # a refusal about no one field
            flash(general or _("Nothing was saved: correct the marked fields."), "error")
            return _settings_page(row, controller, form, f, errors), 422
        db.commit()
        flash(_("Saved. The privacy policy and the record of processing follow."), "success")
        from crm.people import services as people

        if controller.mode.rank < before.rank and any(people.beyond_mode(db, controller).values()):
            # a stricter setting: offer to reduce what is already stored (never silently)
            return redirect(url_for("privacy.reduce_id_numbers", controller=controller.id))
        return redirect(url_for("privacy.practice_settings", controller=controller.id))
    db.commit()
    return _settings_page(row, controller, form, None)


@bp.route("/settings/reduce", methods=["GET", "POST"])
@requires(Perm.SETTINGS)
def reduce_id_numbers() -> Any:
    """Confirm, then bring the stored identity numbers down to the controller's setting."""
    db = get_session()
    controller = chosen_controller()
    form = forms.ButtonForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        counts = people.reduce_id_numbers(db, controller, current_actor())
        db.commit()
        flash(
            _(
                "Reduced: %(full)s full numbers, %(dates)s birth dates.",
                full=counts["personnummer"],
                dates=counts["birth_date"],
            ),
            "success",
        )
        return redirect(url_for("privacy.practice_settings", controller=controller.id))
    return render_template(
        "privacy/reduce.html",
        controller=controller,
        counts=people.beyond_mode(db, controller),
        form=form,
    )


@bp.route("/controllers", methods=["POST"])
@requires(Perm.SETTINGS)
def add_controller() -> Any:
    """Add a controller (seed 000: two companies under one brand)."""
    db = get_session()
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    try:
        row = practice.add_controller(db, request.form.get("new_name", ""), current_actor())
    except practice.SettingsError as err:
        flash_refusal(db, err)
        return redirect(url_for("privacy.practice_settings"))
    db.commit()
    flash(_("Controller added. Fill in its details."), "success")
    return redirect(url_for("privacy.practice_settings", controller=row.id))


@bp.route("/record")
@requires(Perm.REQUESTS)
def processing_record() -> Any:
    """The record of processing activities (Art. 30)."""
    db = get_session()
    row = practice.load(db, current_app.config["PRACTICE_NAME"])
    blocks = [(c, record.activities(row, c)) for c in controllers.all_controllers(db)]
    db.commit()
    return render_template("privacy/record.html", blocks=blocks, security=record.SECURITY)


@bp.route("/record.csv")
@requires(Perm.REQUESTS)
def processing_record_csv() -> Any:
    """The record as CSV for the supervisory authority or an auditor."""
    db = get_session()
    row = practice.load(db, current_app.config["PRACTICE_NAME"])
    body = record.as_csv(row, controllers.all_controllers(db))
    db.commit()
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="registerforteckning.csv"'},
    )
