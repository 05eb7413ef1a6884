"""Owner pages: the breach register (Art. 33(5)) and what is owed to IMY and the people."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _

from crm import audit
from crm.db import get_session
from crm.db import utcnow
from crm.errors import flash_refusal
from crm.i18n import N_
from crm.privacy import breaches
from crm.privacy import forms
from crm.privacy.models import Breach
from crm.privacy.views import bp
from crm.security.roles import Perm
from crm.security.roles import requires
from crm.web import current_actor
from crm.web import get_or_404


def _discovered_at(form: forms.BreachForm) -> datetime | None:
    """The discovery time the owner typed, in the practice's time zone, as UTC."""
    try:
        clock = datetime.strptime(form.discovered_time.data.strip(), "%H:%M").time()
    except ValueError:
        return None
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return datetime.combine(form.discovered_on.data, clock, tzinfo=zone).astimezone(UTC)


@bp.route("/breaches", methods=["GET", "POST"])
@requires(Perm.BREACHES)
def breaches_index() -> Any:
    """The register of personal data breaches and the form to document one."""
    db = get_session()
    form = forms.BreachForm()
    if form.validate_on_submit():
        when = _discovered_at(form)
        try:
            if when is None:
                raise breaches.BreachError(N_("Write the time as hh:mm, for example 14:30."))
            row = breaches.record(
                db,
                breaches.Facts(
                    discovered_at=when,
                    description=form.description.data,
                    affected=form.affected.data,
                    consequences=form.consequences.data,
                    measures=form.measures.data,
                    risk=form.risk.data,
                    no_report_reason=form.no_report_reason.data or "",
                ),
                current_actor(),
            )
        except breaches.BreachError as err:
            flash_refusal(db, err)
        else:
            db.commit()
            flash(_("The breach is documented."), "success")
            return redirect(url_for("privacy.breach_detail", breach_id=row.id))
    elif request.method == "POST":
        flash(_("Fill in every field."), "error")
    status = 422 if request.method == "POST" else 200
    return render_template(
        "privacy/breaches.html", form=form, rows=breaches.register(db), due=breaches.report_due
    ), status


@bp.route("/breaches/<int:breach_id>")
@requires(Perm.BREACHES)
def breach_detail(breach_id: int) -> Any:
    """One breach: the facts, and what is still owed to IMY and to the people affected."""
    row = get_or_404(Breach, breach_id)
    return render_template(
        "privacy/breach.html",
        b=row,
        due=breaches.report_due(row),
        now=utcnow(),
        reported_form=forms.ReportedForm(prefix="rep"),
        button=forms.ButtonForm(),
        names=audit.staff_names(get_session()),
    )


@bp.route("/breaches/<int:breach_id>/reported", methods=["POST"])
@requires(Perm.BREACHES)
def breach_reported(breach_id: int) -> Any:
    """Record that IMY was notified."""
    row = get_or_404(Breach, breach_id)
    form = forms.ReportedForm(prefix="rep")
    if not form.validate_on_submit():
        abort(400)
    db = get_session()
    breaches.mark_reported(db, row, form.reference.data or "", current_actor())
    db.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("privacy.breach_detail", breach_id=row.id))


@bp.route("/breaches/<int:breach_id>/informed", methods=["POST"])
@requires(Perm.BREACHES)
def breach_informed(breach_id: int) -> Any:
    """Record that the people affected were told."""
    row = get_or_404(Breach, breach_id)
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    db = get_session()
    breaches.mark_informed(db, row, current_actor())
    db.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("privacy.breach_detail", breach_id=row.id))
