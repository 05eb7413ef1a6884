"""Owner pages: data-subject requests, restriction and objection."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo

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
from crm import controllers
from crm import mail
from crm import paging
from crm.db import get_session
from crm.db import utcnow
from crm.i18n import N_
from crm.people import picker
from crm.people import services as people
from crm.people.models import Person
from crm.privacy import activities as activity_list
from crm.privacy import breaches
from crm.privacy import erasure
from crm.privacy import export
from crm.privacy import forms
from crm.privacy import mails
from crm.privacy import portal
from crm.privacy import recipients
from crm.privacy import record
from crm.privacy import requests
from crm.privacy import rights
from crm.privacy import settings
from crm.privacy.models import Breach
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
from crm.web import form_int
from crm.web import parse_int

bp = Blueprint("privacy", __name__, url_prefix="/privacy")


def _request_or_404(request_id: int) -> DataRequest:
    row = get_session().get(DataRequest, request_id)
    if row is None or (controller_limit() is not None and row.controller_id != controller_limit()):
        abort(404)
    return row


def _person_or_404(person_id: int) -> Person:
    person = people.get_person(get_session(), person_id, controller_limit())
    if person is None:
        abort(404)
    return person


def _notify(send: Any, *args: Any) -> None:
    try:
        if not send(*args):
            flash(_("The person has no email address: tell them another way."), "info")
    except mail.MailError:
        current_app.logger.exception("notice mail failed")
        flash(_("The mail to the person could not be sent: tell them another way."), "error")


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
        person = people.get_person(db, form.person_id.data, controller_limit())
        if person is None:
            abort(404)
        try:
            row = requests.open_request(
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
        except requests.RequestError as err:
            db.rollback()
            flash(_(str(err)), "error")
        else:
            db.commit()
            flash(_("Request registered. It is due %(date)s.", date=row.due_at.date()), "success")
            return redirect(url_for("privacy.detail", request_id=row.id))
    rows, pager = requests.requests_page(
        db,
        paging.from_values(request.args, requests.SORTS, current_app.config["PEOPLE_PER_PAGE"]),
        controller_limit(),
    )
    return render_template(
        "privacy/index.html",
        form=form,
        query=query,
        total=total,
        found=found,
        open_rows=requests.open_requests(db, controller_limit()),
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
    row = _request_or_404(request_id)
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
        identity=forms.IdentityForm(prefix="id"),
        extend_form=forms.ExtendForm(prefix="ext"),
        complete_form=forms.OutcomeForm(prefix="done"),
        refuse_form=forms.OutcomeForm(prefix="no"),
    )


def _step(request_id: int, form: Any, action: Any, notify: Any = None) -> Any:
    row = _request_or_404(request_id)
    if not form.validate_on_submit():
        flash(_("Fill in the form."), "error")
        return redirect(url_for("privacy.detail", request_id=row.id))
    db = get_session()
    try:
        action(db, row)
    except requests.RequestError as err:
        db.rollback()
        flash(_(str(err)), "error")
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
        lambda db, r: requests.verify_identity(db, r, form.method.data, current_actor()),
    )


@bp.route("/requests/<int:request_id>/extend", methods=["POST"])
@requires(Perm.REQUESTS)
def extend(request_id: int) -> Any:
    """Extend the deadline and tell the person why."""
    form = forms.ExtendForm(prefix="ext")
    return _step(
        request_id,
        form,
        lambda db, r: requests.extend(db, r, form.months.data, form.reason.data, current_actor()),
        mails.extension_notice,
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
    task = db.get(RecipientTask, task_id)
    if task is None:
        abort(404)
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
        lambda db, r: requests.refuse(db, r, form.text.data, current_actor()),
        mails.refusal_notice,
    )


@bp.route("/people/<int:person_id>/restrict", methods=["POST"])
@requires(Perm.REQUESTS)
def restrict(person_id: int) -> Any:
    """Restrict processing of a person (Art. 18)."""
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    db = get_session()
    rights.restrict(db, _person_or_404(person_id), current_actor())
    db.commit()
    flash(_("Processing is restricted. The data is kept but not used."), "success")
    return redirect(url_for("people.detail", person_id=person_id))


@bp.route("/people/<int:person_id>/lift-restriction", methods=["POST"])
@requires(Perm.REQUESTS)
def lift_restriction(person_id: int) -> Any:
    """Lift a restriction with a note; the person is told."""
    form = forms.NoteForm()
    person = _person_or_404(person_id)
    if not form.validate_on_submit():
        flash(_("Write why the restriction is lifted; the person is told."), "error")
        return redirect(url_for("people.detail", person_id=person_id))
    db = get_session()
    try:
        rights.lift_restriction(db, person, form.note.data, current_actor())
    except rights.RightsError as err:
        db.rollback()
        flash(_(str(err)), "error")
        return redirect(url_for("people.detail", person_id=person_id))
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
    rights.object_to_marketing(db, _person_or_404(person_id), current_actor())
    db.commit()
    flash(_("Objection recorded: no marketing to this person, at any provider."), "success")
    return redirect(url_for("people.detail", person_id=person_id))


# --- practice settings, record of processing ----------------------------------------------------


def _processors_from_form(form: Any) -> list[settings.Processor]:
    chosen = [p for p in settings.KNOWN_PROCESSORS if form.get(f"proc-{p.name}")]
    for line in (form.get("other_processors") or "").splitlines():
        parts = [x.strip() for x in line.split("|")]
        if parts and parts[0]:
            outside = len(parts) > 2 and parts[2].lower() in ("ja", "yes", "j", "y")
            chosen.append(
                settings.Processor(
                    parts[0],
                    parts[1] if len(parts) > 1 else "",
                    outside,
                    parts[3] if len(parts) > 3 else "",
                )
            )
    return chosen


def _months(values: Any, rule: settings.RetentionRule) -> int:
    """A retention period from the settings form (empty means 0, checked by the service)."""
    raw = values.get(f"ret-{rule.kind}", str(rule.default_months))
    months = 0 if raw == "" else parse_int(raw)
    if months is None:
        raise settings.SettingsError(N_("Enter a number of months between 0 and 1200."))
    return months


def _settings_page(row: Any, controller: Any, form: Any, values: Any) -> str:
    db = get_session()
    from crm.people import services as people

    return render_template(
        "privacy/settings.html",
        row=row,
        controller=controller,
        every=controllers.all_controllers(db),
        form=form,
        rules=settings.RETENTION_RULES,
        features=settings.FEATURES,
        known=settings.KNOWN_PROCESSORS,
        professions=settings.PROFESSIONS,
        values=values,
        beyond=people.beyond_mode(db, controller),
    )


def _chosen_controller() -> Any:
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
    row = settings.load(db, current_app.config["PRACTICE_NAME"])
    controller = _chosen_controller()
    form = forms.ButtonForm()
    if request.method == "POST" and form.validate_on_submit():
        f = request.form
        before = controller.mode
        try:
            retention = {r.kind: _months(f, r) for r in settings.RETENTION_RULES}
            months = (f.get("representative_months") or "").strip()
            if months and parse_int(months) is None:
                raise settings.SettingsError(N_("Enter a number of months between 0 and 1200."))
            settings.save(
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
                features={key: f.get(f"feature-{key}") == "1" for key, _l in settings.FEATURES}
                if "features_shown" in f
                else None,
                actor=current_actor(),
            )
            # a feature switched off leaves the activity list, one switched on joins it
            activity_list.sync_features(db, current_actor())
        except ValueError as err:
            db.rollback()
            # the rollback may have taken a settings row created by this very request with it
            row = settings.load(db, current_app.config["PRACTICE_NAME"])
            params = {k: _(str(v)) for k, v in getattr(err, "params", {}).items()}
            flash(_(str(err), **params), "error")
            return _settings_page(row, controller, form, f), 422
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
    from crm.people import services as people

    db = get_session()
    controller = _chosen_controller()
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
        row = settings.add_controller(db, request.form.get("new_name", ""), current_actor())
    except settings.SettingsError as err:
        db.rollback()
        flash(_(str(err)), "error")
        return redirect(url_for("privacy.practice_settings"))
    db.commit()
    flash(_("Controller added. Fill in its details."), "success")
    return redirect(url_for("privacy.practice_settings", controller=row.id))


@bp.route("/record")
@requires(Perm.REQUESTS)
def processing_record() -> Any:
    """The record of processing activities (Art. 30)."""
    db = get_session()
    row = settings.load(db, current_app.config["PRACTICE_NAME"])
    blocks = [(c, record.activities(row, c)) for c in controllers.all_controllers(db)]
    db.commit()
    return render_template("privacy/record.html", blocks=blocks, security=record.SECURITY)


@bp.route("/record.csv")
@requires(Perm.REQUESTS)
def processing_record_csv() -> Any:
    """The record as CSV for the supervisory authority or an auditor."""
    db = get_session()
    row = settings.load(db, current_app.config["PRACTICE_NAME"])
    body = record.as_csv(row, controllers.all_controllers(db))
    db.commit()
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="registerforteckning.csv"'},
    )


# --- export and erasure -------------------------------------------------------------------------

EXPORT_HOURS = 24


def _export_response(person: Person) -> Response:
    db = get_session()
    data = export.build(db, person)
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
    row = _request_or_404(request_id)
    return _export_response(_person_or_404(row.person_id or 0))


@bp.route("/requests/<int:request_id>/export-link", methods=["POST"])
@requires(Perm.REQUESTS)
def export_link(request_id: int) -> Any:
    """Mail the person a signed download link that works for 24 hours."""
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    row = _request_or_404(request_id)
    person = _person_or_404(row.person_id or 0)
    recipient = person
    if row.requester_id is not None:
        # filed by a representative: the answer goes to them, and only within a valid mandate
        mandate = get_session().get(Representation, row.representation_id or 0)
        try:
            representatives.check(mandate, person.id, row.kind, date.today())
        except representatives.MandateError as err:
            flash(_(str(err)), "error")
            return redirect(url_for("privacy.detail", request_id=row.id))
        recipient = _person_or_404(row.requester_id)
    token = tokens.sign(tokens.Purpose.EXPORT, {"r": row.id, "p": person.public_id})
    _notify(
        mails.export_link,
        recipient,
        absolute_url("privacy_public.export", token=token),
        EXPORT_HOURS,
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
    row = _request_or_404(request_id)
    if row.kind != "erasure" or row.status != "open":
        abort(400)
    if row.waiting_for is not None:  # carried out already, waiting for the providers
        flash(_("This request has already been carried out."), "info")
        return redirect(url_for("privacy.detail", request_id=row.id))
    person = _person_or_404(row.person_id or 0)
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
    flash(_("Erased. The request completes when every mail provider has confirmed."), "success")
    return redirect(url_for("privacy.detail", request_id=row.id))


@bp.route("/people/<int:person_id>/holds", methods=["POST"])
@requires(Perm.REQUESTS)
def add_hold(person_id: int) -> Any:
    """Record that some data must be kept (bookkeeping, a legal claim) until a date."""
    person = _person_or_404(person_id)
    form = forms.HoldForm()
    if not form.validate_on_submit():
        flash(_("Fill in the form."), "error")
        return redirect(url_for("people.detail", person_id=person_id))
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


# --- breach register ---------------------------------------------------------------------------


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
            db.rollback()
            flash(_(str(err)), "error")
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


def _breach_or_404(breach_id: int) -> Breach:
    row = get_session().get(Breach, breach_id)
    if row is None:
        abort(404)
    return row


@bp.route("/breaches/<int:breach_id>")
@requires(Perm.BREACHES)
def breach_detail(breach_id: int) -> Any:
    """One breach: the facts, and what is still owed to IMY and to the people affected."""
    row = _breach_or_404(breach_id)
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
    row = _breach_or_404(breach_id)
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
    row = _breach_or_404(breach_id)
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    db = get_session()
    breaches.mark_informed(db, row, current_actor())
    db.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("privacy.breach_detail", breach_id=row.id))
