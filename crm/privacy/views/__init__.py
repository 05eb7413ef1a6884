"""Owner pages: data-subject requests, restriction and objection."""

from __future__ import annotations

from collections.abc import Callable
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
from sqlalchemy.orm import Session
from wtforms.fields import SelectChoice

from crm import audit
from crm import confirm
from crm import mail
from crm import paging
from crm.audit import Actor
from crm.db import get_session
from crm.db import utcnow
from crm.errors import flash_refusal
from crm.errors import show_refusal
from crm.i18n import format_day
from crm.inputs import form_int
from crm.newsletter.labels import HOLD as HOLD_LABELS
from crm.people import picker
from crm.people import services as people_services
from crm.people.labels import identity_method_label
from crm.people.models import Person
from crm.privacy import data_requests
from crm.privacy import erasure
from crm.privacy import export
from crm.privacy import forms
from crm.privacy import identity as id_gate
from crm.privacy import mails
from crm.privacy import objections
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


def _exercise_right(
    person_id: int, apply: Callable[[Session, Person, Actor], object], done: str
) -> Any:
    """A confirmed one-click right on a person (restriction, objection to marketing)."""
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    db = get_session()
    apply(db, get_or_404(Person, person_id, controller=lambda p: p.controller_id), current_actor())
    db.commit()
    flash(done, "success")
    return redirect(url_for("people.detail", person_id=person_id))


def _confirm_restrict(person_id: int) -> confirm.Confirmation:
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
    back = url_for("people.detail", person_id=person.id)
    if person.restricted_at is not None:
        return confirm.Confirmation(
            _("Restrict processing of %(name)s", name=person.name),
            [_("Nothing: processing of this person is already restricted.")],
            [],
            _("Restrict processing"),
            back,
            blocked=_("Processing of this person is already restricted."),
        )
    return confirm.Confirmation(
        _("Restrict processing of %(name)s", name=person.name),
        [
            _("The data is kept but no longer used: it cannot be edited, mailed or published."),
            _("Every mail provider takes the address out of its audience."),
            _("Recipients without a connection to the CRM each become a task on the overview."),
            _("Lifting the restriction later needs a reason, and the person is told first."),
        ],
        [_("Everything held about the person stays as it is (GDPR Art. 18).")],
        _("Restrict processing"),
        back,
    )


@bp.route("/people/<int:person_id>/restrict", methods=["GET", "POST"])
@requires(Perm.REQUESTS)
@confirm.irreversible(_confirm_restrict)
def restrict(person_id: int) -> Any:
    """Restrict processing of a person (Art. 18), after the confirmation step."""
    return _exercise_right(
        person_id, rights.restrict, _("Processing is restricted. The data is kept but not used.")
    )


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
        return show_refusal(db, err, "people.detail", "lift", form, person_id=person_id)
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


def _confirm_marketing_objection(person_id: int) -> confirm.Confirmation:
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
    return confirm.Confirmation(
        _("Objection to direct marketing from %(name)s", name=person.name),
        [
            _("The person leaves every newsletter list at once, here and at every mail provider."),
            _(
                "The address is blocked for good: no import, sign-up or sync can add it again "
                "(GDPR Art. 21(3): an objection to direct marketing is absolute)."
            ),
            _("Recipients without a connection to the CRM each become a task on the overview."),
        ],
        [
            _(
                "The client card, journal, bookkeeping and requests stay: the objection is to "
                "marketing only."
            )
        ],
        _("Register the objection"),
        url_for("people.detail", person_id=person.id),
    )


@bp.route("/people/<int:person_id>/object", methods=["GET", "POST"])
@requires(Perm.REQUESTS)
@confirm.irreversible(_confirm_marketing_objection)
def object_to_marketing(person_id: int) -> Any:
    """Record an objection to direct marketing: absolute and immediate (Art. 21)."""
    return _exercise_right(
        person_id,
        rights.object_to_marketing,
        _("Objection recorded: no marketing to this person, at any provider."),
    )


def _confirm_objection(person_id: int) -> confirm.Confirmation:
    """Register an objection (Art. 21(1)): the form, what stops, what stays."""
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
    return confirm.Confirmation(
        _("Objection from %(name)s", name=person.name),
        [
            _(
                "The processing named stops at once and the stop is shown on the person's "
                "page, unless you record compelling legitimate grounds that override the "
                "person's interests (GDPR Art. 21(1))."
            ),
            _(
                "Direct marketing always stops: every list is left, at every mail provider, "
                "and the address is blocked for good (Art. 21(3))."
            ),
            _("A request is registered, due in one month: answer it by completing or refusing."),
        ],
        [
            _(
                "The data stays: an objection stops a use of it. The journal and bookkeeping "
                "are kept as the law requires."
            )
        ],
        _("Register the objection"),
        url_for("people.detail", person_id=person.id),
        form=forms.ObjectionForm(),
    )


@bp.route("/people/<int:person_id>/objection", methods=["GET", "POST"])
@requires(Perm.REQUESTS)
@confirm.irreversible(_confirm_objection)
def register_objection(person_id: int) -> Any:
    """Register an Art. 21(1) objection as a request; the processing stops at once."""
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
    form = forms.ObjectionForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        failed = _confirm_objection(person_id)
        failed.form, failed.error = form, _("Check the fields marked below.")
        return confirm.page(failed, 422)
    db = get_session()
    try:
        row = objections.register(
            db,
            person,
            form.processing.data,
            current_actor(),
            other=form.other.data or "",
            ground=form.ground.data or "",
            channel=form.channel.data,
        )
    except objections.ObjectionError as err:
        db.rollback()
        failed = _confirm_objection(person_id)
        failed.form, failed.error = form, _(str(err))
        return confirm.page(failed, 422)
    db.commit()
    if row.stopped_at is not None:
        flash(
            _(
                "Objection registered: the processing is stopped. Answer by %(date)s.",
                date=format_day(row.due_at, "long"),
            ),
            "success",
        )
    else:
        flash(
            _(
                "Objection registered with your grounds. Answer by %(date)s.",
                date=format_day(row.due_at, "long"),
            ),
            "success",
        )
    return redirect(url_for("privacy.detail", request_id=row.id))


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


# --- export and erasure -------------------------------------------------------------------------

EXPORT_HOURS = 24


def _export_response(person: Person, row: DataRequest) -> Any:
    db = get_session()
    try:
        data = export.build(db, person, reader=current_actor(), request=row)
    except id_gate.IdentityNotChecked as err:
        db.rollback()
        flash(_(str(err)), "error")
        return redirect(url_for("privacy.detail", request_id=row.id, _anchor="identity"))
    audit.record(db, current_actor(), "privacy.export", obj=person)
    db.commit()
    return Response(
        data,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="uppgifter-{person.id}.zip"'},
    )


@bp.route("/requests/<int:request_id>/export")
@requires(Perm.REQUESTS, Perm.HEALTH_READ)
def export_download(request_id: int) -> Any:
    """Staff download the access/portability export for a request (identity checked first)."""
    row = get_or_404(DataRequest, request_id, controller=lambda r: r.controller_id)
    return _export_response(
        get_or_404(Person, row.person_id or 0, controller=lambda p: p.controller_id), row
    )


@bp.route("/requests/<int:request_id>/export-link", methods=["POST"])
@requires(Perm.REQUESTS)
def export_link(request_id: int) -> Any:
    """Mail the person a signed download link that works for 24 hours (identity checked first)."""
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    row = get_or_404(DataRequest, request_id, controller=lambda r: r.controller_id)
    person = get_or_404(Person, row.person_id or 0, controller=lambda p: p.controller_id)
    try:
        id_gate.require_identity_check(get_session(), person, "export_link", row)
    except id_gate.IdentityNotChecked as err:
        flash(_(str(err)), "error")
        return redirect(url_for("privacy.detail", request_id=row.id, _anchor="identity"))
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
        db, current_actor(), "privacy.export_link", obj=person, details={"request": row.id}
    )
    db.commit()
    return redirect(url_for("privacy.detail", request_id=row.id))


def _identity_note(check: id_gate.Clearance) -> str:
    """The check an action rests on, in words (none is needed for a subscriber only)."""
    if check.basis == "no_client_data":
        return _("No identity check is needed: the person has no client data.")
    return _(
        "Identity: %(method)s, checked %(date)s by %(name)s.",
        method=identity_method_label(check.method),
        date=format_day(check.checked_at),
        name=audit.staff_names(get_session()).get(check.checked_by_id or 0, "–"),
    )


def _confirm_erase(request_id: int) -> confirm.Confirmation:
    """What an erasure request will delete and keep, and what still blocks it."""
    row = get_or_404(DataRequest, request_id, controller=lambda r: r.controller_id)
    back = url_for("privacy.detail", request_id=row.id)
    title = _("Erase the person's data")
    if row.kind != "erasure" or row.status != "open" or row.waiting_for is not None:
        return confirm.Confirmation(
            title,
            [_("Nothing: this request is not an open erasure request.")],
            [],
            _("Erase now"),
            back,
            blocked=_("This request has already been carried out."),
        )
    person = get_or_404(Person, row.person_id or 0, controller=lambda p: p.controller_id)
    db = get_session()
    the_plan = erasure.plan(db, person)
    happens = [
        _(
            "Deleted now: contact details, newsletter data and consents, testimonials and their "
            "files, the client card and visits unless the journal keeps them."
        ),
        _(
            "Mail providers told to erase the address: %(names)s.",
            names=", ".join(recipients.display_name(p) for p in the_plan.providers) or _("none"),
        ),
        _(
            "Recipients to tell by hand (a task each on the overview): %(names)s.",
            names=", ".join(the_plan.manual) or _("none"),
        ),
        _("The person gets a receipt that says what was kept, why and until when."),
        _("This cannot be undone."),
    ]
    kept = [
        _(
            "%(what)s: %(why)s, until %(date)s.",
            what=HOLD_LABELS.get(k.what, k.what),
            why=k.why,
            date=format_day(k.until, "long"),
        )
        for k in the_plan.keep
    ] or [_("Nothing else has to be kept: the person disappears entirely.")]
    kept.append(_("A code made from the email address, so that the person is never mailed again."))
    check = id_gate.clearance(db, person, "erasure", row)
    blocked = link = None
    if the_plan.take_down:
        blocked = _("Take the testimonial down where it was published first (see the plan).")
        link = back + "#erasure-plan"
    elif check is None:
        blocked = _(
            "The identity is not checked yet. This person has client data: record how the "
            "identity was checked (ID document, BankID or known in person) before erasing."
        )
        link = back + "#identity"
    return confirm.Confirmation(
        title,
        happens,
        kept,
        _("Erase now"),
        back,
        blocked=blocked,
        blocked_link=link,
        notes=[_identity_note(check)] if check is not None else [],
    )


@bp.route("/requests/<int:request_id>/erase", methods=["GET", "POST"])
@requires(Perm.REQUESTS)
@confirm.irreversible(_confirm_erase)
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
    except id_gate.IdentityNotChecked as err:
        db.rollback()
        flash(_(str(err)), "error")
        return redirect(url_for("privacy.detail", request_id=row.id, _anchor="identity"))
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
    audit.record(db, current_actor(), "privacy.hold", obj=person, details={"kind": form.kind.data})
    db.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("people.detail", person_id=person_id))


# The practice settings and the breach register are pages of this blueprint too; their
# modules add their routes to ``bp`` when imported here (they import ``bp`` from this module).
from crm.privacy.views import breach_pages  # noqa: E402, F401
from crm.privacy.views import practice_pages  # noqa: E402, F401
