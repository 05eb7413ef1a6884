"""Owner pages: data-subject requests, restriction and objection."""

from __future__ import annotations

from datetime import date
from datetime import datetime
from datetime import time
from typing import Any

from flask import Blueprint
from flask import Response
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
from crm.people.models import Person
from crm.privacy import data_requests
from crm.privacy import erasure
from crm.privacy import export
from crm.privacy import forms
from crm.privacy import mails
from crm.privacy import portal
from crm.privacy import recipients
from crm.privacy import rights
from crm.privacy.models import DataRequest
from crm.privacy.models import LegalHold
from crm.privacy.models import RecipientTask
from crm.representatives import services as representatives
from crm.representatives.models import Representation
from crm.security import tokens
from crm.security.roles import Perm
from crm.security.roles import requires
from crm.web import absolute_url
from crm.web import controller_limit
from crm.web import current_actor
from crm.web import get_or_404
from crm.web import show_again

bp = Blueprint("privacy", __name__, url_prefix="/privacy")


def _notify(send: Any, *args: Any) -> bool:
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
    return render_template(
        "privacy/detail.html",
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
        **{
            "identity": forms.IdentityForm(formdata=None, prefix="id"),
            "extend_form": forms.ExtendForm(formdata=None, prefix="ext"),
            "complete_form": forms.OutcomeForm(formdata=None, prefix="done"),
            "refuse_form": forms.OutcomeForm(formdata=None, prefix="no"),
            **({slot: failed} if slot else {}),
        },
    )


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
            _notify(notify, db.get(Person, row.person_id) if row.person_id else None, row)
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


@bp.route("/people/<int:person_id>/restrict", methods=["POST"])
@requires(Perm.REQUESTS)
def restrict(person_id: int) -> Any:
    """Restrict processing of a person (Art. 18)."""
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    db = get_session()
    rights.restrict(
        db, get_or_404(Person, person_id, controller=lambda p: p.controller_id), current_actor()
    )
    db.commit()
    flash(_("Processing is restricted. The data is kept but not used."), "success")
    return redirect(url_for("people.detail", person_id=person_id))


@bp.route("/people/<int:person_id>/lift-restriction", methods=["POST"])
@requires(Perm.REQUESTS)
def lift_restriction(person_id: int) -> Any:
    """Lift a restriction with a note; the person is told."""
    form = forms.NoteForm()
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
    if not form.validate_on_submit():
        return show_again("people.detail", "lift", form, person_id=person_id)
    db = get_session()
    try:
        rights.lift_restriction(db, person, form.note.data, current_actor())
    except rights.RightsError as err:
        db.rollback()
        form.form_errors.append(_(str(err), **err.params))
        return show_again("people.detail", "lift", form, person_id=person_id)
    # Art. 18(3): the person is told before the restriction is lifted, so the notice goes
    # first and the lift is committed only once it is out
    try:
        mailed = mails.restriction_lifted_notice(person, form.note.data)
    except mail.MailError:
        db.rollback()
        current_app.logger.exception("restriction notice failed")
        flash(
            _(
                "The notice could not be mailed, so the restriction stays: the person must be "
                "told before it is lifted. Try again later."
            ),
            "error",
        )
        return redirect(url_for("people.detail", person_id=person_id))
    db.commit()
    flash(_("The restriction is lifted."), "success")
    if not mailed:
        flash(_("The person has no email address: tell them another way."), "info")
    return redirect(url_for("people.detail", person_id=person_id))


@bp.route("/people/<int:person_id>/object", methods=["POST"])
@requires(Perm.REQUESTS)
def object_to_marketing(person_id: int) -> Any:
    """Record an objection to direct marketing: absolute and immediate (Art. 21)."""
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    db = get_session()
    rights.object_to_marketing(
        db, get_or_404(Person, person_id, controller=lambda p: p.controller_id), current_actor()
    )
    db.commit()
    flash(_("Objection recorded: no marketing to this person, at any provider."), "success")
    return redirect(url_for("people.detail", person_id=person_id))


# --- export and erasure -------------------------------------------------------------------------

EXPORT_HOURS = 24


def _export_response(person: Person) -> Response:
    db = get_session()
    data = export.build(db, person, reader=current_actor())
    audit.record(db, current_actor(), "privacy.export", object_type="person", object_id=person.id)
    db.commit()
    return Response(
        data,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="uppgifter-{person.id}.zip"'},
    )


@bp.route("/requests/<int:request_id>/export")
@requires(Perm.REQUESTS, Perm.HEALTH_READ)
def export_download(request_id: int) -> Any:
    """Staff download the access/portability export for a request."""
    row = get_or_404(DataRequest, request_id, controller=lambda r: r.controller_id)
    return _export_response(
        get_or_404(Person, row.person_id or 0, controller=lambda p: p.controller_id)
    )


@bp.route("/requests/<int:request_id>/export-link", methods=["POST"])
@requires(Perm.REQUESTS)
def export_link(request_id: int) -> Any:
    """Mail the person a signed download link that works for 24 hours."""
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    row = get_or_404(DataRequest, request_id, controller=lambda r: r.controller_id)
    person = get_or_404(Person, row.person_id or 0, controller=lambda p: p.controller_id)
    recipient = person
    if row.requester_id is not None:
        # filed by a representative: the answer goes to them, and only within a valid mandate
        mandate = get_session().get(Representation, row.representation_id or 0)
        try:
            representatives.check(mandate, person.id, row.kind, date.today())
        except representatives.MandateError as err:
            flash(_(str(err)), "error")
            return redirect(url_for("privacy.detail", request_id=row.id))
        recipient = get_or_404(Person, row.requester_id, controller=lambda p: p.controller_id)
    token = tokens.sign(tokens.Purpose.EXPORT, {"r": row.id, "p": person.public_id})
    if _notify(
        mails.export_link,
        recipient,
        absolute_url("privacy_public.export", token=token),
        EXPORT_HOURS,
    ):
        flash(
            _(
                "A download link was mailed to %(email)s. It works for %(hours)s hours.",
                email=recipient.email,
                hours=EXPORT_HOURS,
            ),
            "success",
        )
    db = get_session()
    audit.record(
        db,
        current_actor(),
        "privacy.export_link",
        object_type="person",
        object_id=person.id,
        details={"request": row.id},
    )
    db.commit()
    return redirect(url_for("privacy.detail", request_id=row.id))


@bp.route("/requests/<int:request_id>/erase", methods=["POST"])
@requires(Perm.REQUESTS)
def erase(request_id: int) -> Any:
    """Carry out an erasure request as planned; the person gets the receipt."""
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    row = get_or_404(DataRequest, request_id, controller=lambda r: r.controller_id)
    if row.kind != "erasure" or row.status != "open":
        abort(400)
    if row.waiting_for is not None:  # carried out already, waiting for the providers
        flash(_("This request has already been carried out."), "info")
        return redirect(url_for("privacy.detail", request_id=row.id))
    person = get_or_404(Person, row.person_id or 0, controller=lambda p: p.controller_id)
    db = get_session()
    # The address is erased with the rest: keep it in memory for the receipt only.
    receipt_person = Person(
        name=person.name, email=person.email, controller_id=person.controller_id
    )
    try:
        the_plan = erasure.execute(db, person, current_actor(), request=row)
    except erasure.AlreadyErased:
        db.rollback()
        flash(_("This request has already been carried out."), "info")
        return redirect(url_for("privacy.detail", request_id=row.id))
    except erasure.ErasureBlocked:
        db.rollback()
        flash(_("Take the testimonial down where it was published first (see the plan)."), "error")
        return redirect(url_for("privacy.detail", request_id=row.id))
    db.commit()
    _notify(mails.erasure_receipt, receipt_person, erasure.receipt_text(the_plan))
    if row.status == "open":  # waiting for the providers' confirmations or manual recipients
        flash(_("Erased. The request completes when every mail provider has confirmed."), "success")
    else:
        flash(_("Erased. The request is completed."), "success")
    return redirect(url_for("privacy.detail", request_id=row.id))


@bp.route("/people/<int:person_id>/holds", methods=["POST"])
@requires(Perm.REQUESTS)
def add_hold(person_id: int) -> Any:
    """Record that some data must be kept (bookkeeping, a legal claim) until a date."""
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
    form = forms.HoldForm()
    if not form.validate_on_submit():
        return show_again("people.detail", "hold", form, person_id=person_id)
    db = get_session()
    until = datetime.combine(form.until.data, time(23, 59), tzinfo=utcnow().tzinfo)
    db.add(
        LegalHold(
            person_id=person.id, kind=form.kind.data, until=until, note=form.note.data or None
        )
    )
    audit.record(
        db,
        current_actor(),
        "privacy.hold",
        object_type="person",
        object_id=person.id,
        details={"kind": form.kind.data},
    )
    db.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("people.detail", person_id=person_id))


# The practice settings and the breach register are pages of this blueprint too; their
# modules add their routes to ``bp`` when imported here (they import ``bp`` from this module).
from crm.privacy.views import breach_pages  # noqa: E402, F401
from crm.privacy.views import practice_pages  # noqa: E402, F401
