"""Owner pages for restriction (Art. 18) and objection (Art. 21), each behind its confirmation.

Why a module of its own: these act on a person (from the person's page), not on a request's
steps (crm/privacy/views/__init__.py); the export and erasure pages are
crm/privacy/views/erasure_pages.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from crm import confirm
from crm import mail
from crm.audit import Actor
from crm.db import get_session
from crm.errors import show_refusal
from crm.i18n import format_day
from crm.people.lookup import person_or_404
from crm.people.models import Person
from crm.privacy import forms
from crm.privacy import mails
from crm.privacy import objections
from crm.privacy import rights
from crm.privacy.views import bp
from crm.security.roles import Perm
from crm.security.roles import requires
from crm.web import current_actor
from crm.web import show_again


def _exercise_right(
    person_id: int, apply: Callable[[Session, Person, Actor], object], done: str
) -> Any:
    """A confirmed one-click right on a person (restriction, objection to marketing)."""
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    db = get_session()
    apply(db, person_or_404(person_id), current_actor())
    db.commit()
    flash(done, "success")
    return redirect(url_for("people.detail", person_id=person_id))


def _confirm_restrict(person_id: int) -> confirm.Confirmation:
    person = person_or_404(person_id)
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
    person = person_or_404(person_id)
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
    person = person_or_404(person_id)
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
    person = person_or_404(person_id)
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
    person = person_or_404(person_id)
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
