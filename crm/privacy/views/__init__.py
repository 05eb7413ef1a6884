"""Owner pages: data-subject requests and their steps (the ``privacy`` blueprint).

The blueprint's other pages live beside it, each imported at the end of this module: a
person's restriction and objections (rights_pages.py), export and erasure (erasure_pages.py),
the breach register (breach_pages.py) and the practice settings (practice_pages.py).
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from datetime import time
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
from wtforms.fields import SelectChoice

from crm import audit
from crm import mail
from crm import paging
from crm.db import get_session
from crm.db import utcnow
from crm.errors import flash_refusal
from crm.inputs import form_int
from crm.people import picker
from crm.people import services as people_services
from crm.people.models import Person
from crm.privacy import data_requests
from crm.privacy import erasure
from crm.privacy import forms
from crm.privacy import identity as id_gate
from crm.privacy import mails
from crm.privacy import objections
from crm.privacy import portal
from crm.privacy import recipients
from crm.privacy.models import DataRequest
from crm.privacy.models import RecipientTask
from crm.representatives import services as representatives
from crm.representatives.models import Representation
from crm.security.roles import Perm
from crm.security.roles import requires
from crm.web import controller_limit
from crm.web import current_actor
from crm.web import get_or_404

bp = Blueprint("privacy", __name__, url_prefix="/privacy")


@bp.app_context_processor
def _person_page_helpers() -> dict[str, Any]:
    """Let the person page show the objections in force (people/ imports no feature)."""

    def in_force(person_id: int) -> list[tuple[str, datetime]]:
        return [
            (objections.processing_label(r.processing), r.stopped_at)
            for r in objections.in_force(get_session(), person_id)
            if r.stopped_at is not None
        ]

    return {"objections_in_force": in_force}


def send_notice(send: Any, *args: Any) -> bool:
    """Send a notice; say so when it could not go out. Returns whether it was sent."""
    try:
        if send(*args):
            return True
        flash(_("The person has no email address: tell them another way."), "info")
    except mail.MailError:
        current_app.logger.exception("notice mail failed")
        flash(_("The mail to the person could not be sent: tell them another way."), "error")
    return False


@bp.route("/requests", methods=["GET", "POST"])
@requires(Perm.REQUESTS)
def index() -> Any:
    """Requests (open first, by due date) and a form to register a new one."""
    db = get_session()
    form = forms.NewRequestForm()
    query = request.form.get("person_q", "").strip()[:100]
    chosen = form_int(request.form, "person_id") if request.method == "POST" else None
    found, total = picker.choices(db, query, chosen, controller_id=controller_limit())
    form.person_id.choices = [SelectChoice(pid, label) for pid, label in found]
    mandates = representatives.all_mandates(db, controller_limit())
    form.representation_id.choices = [SelectChoice(0, _("The person themselves"))] + [
        SelectChoice(m.id, _mandate_label(m)) for m in mandates
    ]
    if "find" not in request.form and form.validate_on_submit():
        received = datetime.combine(form.received_on.data, time(12), tzinfo=utcnow().tzinfo)
        person = get_or_404(Person, form.person_id.data, controller=lambda p: p.controller_id)
        try:
            row = data_requests.open_request(
                db,
                person,
                form.kind.data,
                form.channel.data,
                min(received, utcnow()),
                current_actor(),
                representation=next(
                    (m for m in mandates if m.id == form.representation_id.data), None
                ),
            )
        except data_requests.RequestError as err:
            flash_refusal(db, err)
        else:
            db.commit()
            flash(_("Request registered. It is due %(date)s.", date=row.due_at.date()), "success")
            return redirect(url_for("privacy.detail", request_id=row.id))
    rows, pager = data_requests.requests_page(
        db,
        paging.from_values(
            request.args, data_requests.SORTS, current_app.config["PEOPLE_PER_PAGE"]
        ),
        controller_limit(),
    )
    return render_template(
        "privacy/index.html",
        form=form,
        query=query,
        total=total,
        found=found,
        open_rows=data_requests.open_requests(db, controller_limit()),
        rows=rows,
        pager=pager,
        now=utcnow(),
        has_mandates=bool(mandates),
    )


def _mandate_label(m: Representation) -> str:
    """Whose mandate is used: "Gun (guardian) for Karin, 2026-01-01 – 2026-12-31"."""
    until = m.valid_until.isoformat() if m.valid_until else "…"
    return _(
        "%(rep)s (%(kind)s) for %(client)s, %(start)s – %(end)s",
        rep=m.representative.name,
        kind=representatives.mandate_kind(m.kind),
        client=m.client.name,
        start=m.valid_from.isoformat(),
        end=until,
    )


@bp.route("/requests/<int:request_id>")
@requires(Perm.REQUESTS)
def detail(request_id: int) -> Any:
    """One request with its steps."""
    return _detail_page(get_or_404(DataRequest, request_id, controller=lambda r: r.controller_id))


def _detail_page(row: DataRequest, slot: str | None = None, failed: Any = None) -> str:
    """The request page; a failed step form is shown again in its ``slot``, errors and input."""
    person = get_session().get(Person, row.person_id) if row.person_id else None
    the_plan = (
        erasure.plan(get_session(), person)
        if person is not None and row.kind == "erasure" and row.status == "open"
        else None
    )
    mandate = (
        get_session().get(Representation, row.representation_id) if row.representation_id else None
    )
    gate = None
    if person is not None and row.kind in id_gate.GATED_KINDS:
        gate = id_gate.clearance(get_session(), person, _purpose(row.kind), row)
    return render_template(
        "privacy/detail.html",
        gate=gate,
        person_check=people_services.latest_identity_check(get_session(), person.id)
        if person
        else None,
        r=row,
        person=person,
        mandate=mandate,
        mandate_valid=mandate is not None and mandate.valid_on(date.today()),
        now=utcnow(),
        plan=the_plan,
        filing=portal.for_request(get_session(), row),
        tasks=recipients.for_request(get_session(), row),
        untold=recipients.missing(get_session(), row) if row.status == "open" else [],
        names=audit.staff_names(get_session()),
        button=forms.ButtonForm(),
        processing_label=objections.processing_label,
        **{
            "ground_form": forms.GroundForm(formdata=None, prefix="gr"),
            "identity": forms.IdentityForm(formdata=None, prefix="id"),
            "extend_form": forms.ExtendForm(formdata=None, prefix="ext"),
            "complete_form": forms.OutcomeForm(formdata=None, prefix="done"),
            "refuse_form": forms.OutcomeForm(formdata=None, prefix="no"),
            **({slot: failed} if slot else {}),
        },
    )


def _purpose(kind: str) -> str:
    """The identity gate's purpose for a request kind (access, portability or erasure)."""
    return kind if kind in ("portability", "erasure") else "access"


def _step(
    request_id: int, form: Any, action: Any, notify: Any = None, slot: str | None = None
) -> Any:
    """Run one step of a request; a failed form is shown again in its ``slot`` on the page."""
    row = get_or_404(DataRequest, request_id, controller=lambda r: r.controller_id)
    if not form.validate_on_submit():
        if slot is None:  # a bare button: nothing to correct
            abort(400)
        return _detail_page(row, slot, form), 422
    db = get_session()
    try:
        action(db, row)
    except data_requests.RequestError as err:
        flash_refusal(db, err)
        if slot is not None:
            return _detail_page(row, slot, form), 422
    else:
        db.commit()
        flash(_("Saved."), "success")
        if notify:
            send_notice(notify, db.get(Person, row.person_id) if row.person_id else None, row)
    return redirect(url_for("privacy.detail", request_id=row.id))


@bp.route("/requests/<int:request_id>/identity", methods=["POST"])
@requires(Perm.REQUESTS)
def identity(request_id: int) -> Any:
    """Record the identity check."""
    form = forms.IdentityForm(prefix="id")
    return _step(
        request_id,
        form,
        lambda db, r: data_requests.verify_identity(db, r, form.method.data, current_actor()),
        slot="identity",
    )


@bp.route("/requests/<int:request_id>/extend", methods=["POST"])
@requires(Perm.REQUESTS)
def extend(request_id: int) -> Any:
    """Extend the deadline and tell the person why."""
    form = forms.ExtendForm(prefix="ext")
    return _step(
        request_id,
        form,
        lambda db, r: data_requests.extend(
            db, r, form.months.data, form.reason.data, current_actor()
        ),
        mails.extension_notice,
        slot="extend_form",
    )


@bp.route("/requests/<int:request_id>/complete", methods=["POST"])
@requires(Perm.REQUESTS)
def complete(request_id: int) -> Any:
    """Close the request as done."""
    form = forms.OutcomeForm(prefix="done")
    return _step(
        request_id,
        form,
        lambda db, r: recipients.complete_request(db, r, form.text.data, current_actor()),
        slot="complete_form",
    )


@bp.route("/requests/<int:request_id>/tell-recipients", methods=["POST"])
@requires(Perm.REQUESTS)
def tell_recipients(request_id: int) -> Any:
    """After a rectification, restriction or objection: a task per manual recipient."""
    return _step(
        request_id,
        forms.ButtonForm(),
        lambda db, r: recipients.tell_for_request(db, r, current_actor()),
    )


@bp.route("/recipient-tasks/<int:task_id>/done", methods=["POST"])
@requires(Perm.REQUESTS)
def recipient_told(task_id: int) -> Any:
    """Tick off a recipient task (who and when are recorded); an erasure may complete now."""
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    db = get_session()
    task = get_or_404(RecipientTask, task_id)
    request_id = task.request_id
    if recipients.tick(db, task, current_actor()):
        erasure.complete_waiting(db)
        flash(_("Marked as told."), "success")
    db.commit()
    if request.form.get("next") == "request" and request_id:
        return redirect(url_for("privacy.detail", request_id=request_id))
    return redirect(url_for("main.dashboard"))


@bp.route("/requests/<int:request_id>/refuse", methods=["POST"])
@requires(Perm.REQUESTS)
def refuse(request_id: int) -> Any:
    """Refuse, with the reason and IMY told to the person."""
    form = forms.OutcomeForm(prefix="no")
    return _step(
        request_id,
        form,
        lambda db, r: data_requests.refuse(db, r, form.text.data, current_actor()),
        mails.refusal_notice,
        slot="refuse_form",
    )


@bp.route("/requests/<int:request_id>/ground", methods=["POST"])
@requires(Perm.REQUESTS)
def objection_ground(request_id: int) -> Any:
    """Record compelling grounds after the stop; refusing then tells the person them."""
    row = get_or_404(DataRequest, request_id, controller=lambda r: r.controller_id)
    form = forms.GroundForm(prefix="gr")
    if not form.validate_on_submit():
        return _detail_page(row, "ground_form", form), 422
    db = get_session()
    try:
        objections.record_ground(db, row, form.ground.data, current_actor())
    except objections.ObjectionError as err:
        db.rollback()
        flash(_(str(err)), "error")
    else:
        db.commit()
        flash(_("Saved. Refuse the request with these grounds to tell the person."), "success")
    return redirect(url_for("privacy.detail", request_id=row.id))


# The blueprint's other pages (see the module docstring) add their routes to ``bp`` when
# imported here (they import ``bp`` from this module).
from crm.privacy.views import breach_pages  # noqa: E402, F401
from crm.privacy.views import erasure_pages  # noqa: E402, F401
from crm.privacy.views import practice_pages  # noqa: E402, F401
from crm.privacy.views import rights_pages  # noqa: E402, F401
