"""Owner pages for the access export, the download link, the erasure and legal holds.

Why a module of its own: these disclose or delete a person's data, so each passes the identity
gate (crm/privacy/identity.py) first; the request's other steps are crm/privacy/views/__init__.py.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from datetime import time
from typing import Any

from flask import Response
from flask import abort
from flask import flash
from flask import redirect
from flask import url_for
from flask_babel import gettext as _

from crm import audit
from crm import confirm
from crm.db import get_session
from crm.db import utcnow
from crm.i18n import format_day
from crm.newsletter.labels import HOLD as HOLD_LABELS
from crm.people.labels import identity_method_label
from crm.people.lookup import person_or_404
from crm.people.models import Person
from crm.privacy import erasure
from crm.privacy import export
from crm.privacy import forms
from crm.privacy import identity as id_gate
from crm.privacy import mails
from crm.privacy import recipients
from crm.privacy.models import DataRequest
from crm.privacy.models import LegalHold
from crm.privacy.views import bp
from crm.privacy.views import send_notice
from crm.representatives import services as representatives
from crm.representatives.models import Representation
from crm.security import tokens
from crm.security.roles import Perm
from crm.security.roles import requires
from crm.web import absolute_url
from crm.web import current_actor
from crm.web import get_or_404
from crm.web import show_again

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
    if send_notice(
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
    send_notice(mails.erasure_receipt, receipt_person, erasure.receipt_text(the_plan))
    if row.status == "open":  # waiting for the providers' confirmations or manual recipients
        flash(_("Erased. The request completes when every mail provider has confirmed."), "success")
    else:
        flash(_("Erased. The request is completed."), "success")
    return redirect(url_for("privacy.detail", request_id=row.id))


@bp.route("/people/<int:person_id>/holds", methods=["POST"])
@requires(Perm.REQUESTS)
def add_hold(person_id: int) -> Any:
    """Record that some data must be kept (bookkeeping, a legal claim) until a date."""
    person = person_or_404(person_id)
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
