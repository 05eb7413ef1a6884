"""What is recorded about a client from the person page, and the bookkeeper's purchase list.

The forms posted from the person page: client card, visits, identity checks, health consent,
erasing the health notes, purchases and the journal, each through its service in
crm/people/care.py, health.py, purchases.py or services.py; a refused form comes back on the
person page (crm/people/views/person_page.py) with its error in place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session

from crm import confirm
from crm import features
from crm.db import get_session
from crm.errors import flash_refusal
from crm.errors import show_refusal
from crm.inputs import form_int
from crm.inputs import parse_int
from crm.people import care
from crm.people import forms
from crm.people import health
from crm.people import purchases
from crm.people import services
from crm.people.lookup import person_or_404
from crm.people.models import JournalEntry
from crm.people.models import Person
from crm.people.views import back_to_person
from crm.people.views import bp
from crm.people.views.person_page import render_detail
from crm.security.roles import Perm
from crm.security.roles import requires
from crm.web import controller_limit
from crm.web import current_actor
from crm.web import show_again


def _save(
    person: Person, form: FlaskForm, slot: str, save: Callable[[Session], object], done: str
) -> ResponseReturnValue:
    """Check a form posted from the person page, ``save`` it and go back to the page.

    Why one function: the client card, a visit and an identity check are each a form on the
    person page that must fail the same way - the page again with the error at its place and
    what was typed kept (crm/web.py show_again), a refusal rolled back first.
    """
    if not form.validate_on_submit():
        return show_again("people.detail", slot, form, person_id=person.id)
    db = get_session()
    try:
        save(db)
    except services.PersonError as err:
        return show_refusal(db, err, "people.detail", slot, form, person_id=person.id)
    return back_to_person(person, done)


@bp.route("/<int:person_id>/client", methods=["POST"])
@requires(Perm.HEALTH_WRITE)
def client_card(person_id: int) -> ResponseReturnValue:
    """Save the client card."""
    person = person_or_404(person_id)
    form = forms.ClientCardForm(prefix="card")

    def save(db: Session) -> None:
        notes = form.health_notes.data
        keep_notes = not (notes or "").strip() and not request.form.get("card-clear_notes")
        data = care.ClientCardData(
            client_since=form.client_since.data,
            client_until=form.client_until.data,
            # An empty notes box means "unchanged": stored notes are never echoed into the form.
            health_notes=(
                person.client_card.health_notes if keep_notes and person.client_card else notes
            ),
            art9_basis=form.art9_basis.data or None,
        )
        care.update_client_card(db, person, data, current_actor())

    return _save(person, form, "card", save, _("Client card saved."))


@bp.route("/<int:person_id>/visits", methods=["POST"])
@requires(Perm.HEALTH_WRITE)
def add_visit(person_id: int) -> ResponseReturnValue:
    """Record a visit."""
    person = person_or_404(person_id)
    form = forms.VisitForm(prefix="visit")

    def save(db: Session) -> None:
        care.add_visit(db, person, form.visited_on.data, form.note.data, current_actor())
        if form.id_shown.data:
            # seeds 000/001: the first visit is where the client shows ID
            services.record_identity_check(db, person, "id_document", current_actor())

    return _save(person, form, "visit", save, _("Visit recorded."))


@bp.route("/<int:person_id>/identity", methods=["POST"])
@requires(Perm.PEOPLE_WRITE)
def identity_check(person_id: int) -> ResponseReturnValue:
    """Record on the client card how the person's identity was checked (e.g. ID shown)."""
    person = person_or_404(person_id)
    form = forms.IdentityCheckForm(prefix="idc")

    def save(db: Session) -> None:
        services.record_identity_check(db, person, form.method.data, current_actor())

    return _save(person, form, "idc", save, _("Identity check recorded."))


@bp.route("/<int:person_id>/health-consent", methods=["POST"])
@requires(Perm.HEALTH_WRITE)
def health_consent(person_id: int) -> ResponseReturnValue:
    """Record the client's explicit consent to health notes, or its withdrawal."""
    person = person_or_404(person_id)
    form = forms.HealthConsentForm(prefix="hc")
    if not form.validate_on_submit():
        return show_again("people.detail", "hc", form, person_id=person.id)
    withdrawing = request.form.get("action") == "withdraw"
    db = get_session()
    try:
        if withdrawing:
            health.withdraw(db, person, form.method.data, current_actor())
        else:
            health.grant(db, person, form.method.data, current_actor())
    except health.HealthBasisError as err:
        db.rollback()
        flash(_(str(err)), "error")
        return redirect(url_for("people.detail", person_id=person.id, _anchor="health-consent"))
    done = (
        _("Withdrawal recorded: no new health notes are written.")
        if withdrawing
        else _("Consent recorded: health notes may be written.")
    )
    if withdrawing and health.notes_held(person):
        # the notes already written rested on the consent: offer to erase them now
        db.commit()
        flash(done, "success")
        return redirect(url_for("people.erase_health_notes", person_id=person.id))
    return back_to_person(person, done, "health-consent")


def _confirm_erase_notes(person_id: int) -> confirm.Confirmation:
    person = person_or_404(person_id)
    back = url_for("people.detail", person_id=person.id)
    db = get_session()
    if not health.notes_held(person):
        return confirm.Confirmation(
            _("Erase the health notes of %(name)s", name=person.name),
            [_("Nothing: no health notes are stored.")],
            [],
            _("Erase the health notes"),
            back,
            blocked=_("No health notes are stored for this person."),
        )
    kept = [_("The dates of the visits and the client card, and the proof of the consent.")]
    if health.profile_a(db, person):
        kept.append(_("The journal: the law keeps it ten years after the last entry."))
    return confirm.Confirmation(
        _("Erase the health notes of %(name)s", name=person.name),
        [
            _("The health notes on the client card are deleted."),
            _("Every visit note is deleted."),
            _("This cannot be undone."),
        ],
        kept,
        _("Erase the health notes"),
        back,
        notes=[]
        if health.has_consent(db, person.id)
        else [_("The client has withdrawn the consent these notes rested on (GDPR Art. 7(3)).")],
    )


@bp.route("/<int:person_id>/health-notes/erase", methods=["GET", "POST"])
@requires(Perm.HEALTH_WRITE)
@confirm.irreversible(_confirm_erase_notes)
def erase_health_notes(person_id: int) -> ResponseReturnValue:
    """Erase the health notes and visit notes (offered after a withdrawal of consent)."""
    person = person_or_404(person_id)
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    health.erase_notes(get_session(), person, current_actor())
    return back_to_person(person, _("The health notes are erased."))


@bp.route("/purchases")
@requires(Perm.PURCHASES)
def purchase_list() -> ResponseReturnValue:
    """A year's purchases and invoice references, for the bookkeeper (``?year=``)."""
    today = date.today()
    year = parse_int(request.args.get("year", "")) or today.year
    if not 2000 <= year <= today.year:
        year = today.year
    rows = purchases.of_year(get_session(), year, controller_limit())
    return render_template(
        "people/purchases.html",
        rows=rows,
        year=year,
        years=list(range(today.year, max(2000, today.year - 10) - 1, -1)),
        total=sum(p.amount_ore for p, _name in rows),
        format_amount=purchases.format_amount,
    )


@bp.route("/<int:person_id>/purchases", methods=["POST"])
@requires(Perm.PURCHASES)
def add_purchase(person_id: int) -> ResponseReturnValue:
    """Record a purchase or invoice reference; on bad input the page comes back as typed."""
    person = person_or_404(person_id)
    form = forms.PurchaseForm(prefix="purchase")
    if form.validate_on_submit():
        db = get_session()
        data = purchases.PurchaseData(
            form.purchased_on.data, form.amount.data or "", form.reference.data or "",
            form.products.data or "",
        )  # fmt: skip
        try:
            purchases.add_purchase(db, person, data, current_actor())
        except services.PersonError as err:
            db.rollback()
            message = str(err)
            target = (
                form.purchased_on if "future" in message or "date" in message
                else form.reference if "reference" in message
                else form.amount
            )  # fmt: skip
            target.errors = [_(message)]
        else:
            return back_to_person(person, _("Purchase recorded."), "purchases")
    return render_detail(person, purchase_form=form), 422


@bp.route("/<int:person_id>/journal", methods=["POST"])
@requires(Perm.HEALTH_WRITE)
@features.switched("journal")
def add_journal(person_id: int) -> ResponseReturnValue:
    """Append a journal entry (or a correction of an earlier one)."""
    person = person_or_404(person_id)
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    db = get_session()
    corrects = None
    corrects_id = form_int(request.form, "corrects")
    if corrects_id is not None:
        corrects = db.get(JournalEntry, corrects_id)
    try:
        care.add_journal_entry(
            db, person, request.form.get("text", ""), current_actor(), corrects=corrects
        )
    except services.PersonError as err:
        flash_refusal(db, err)
        return redirect(url_for("people.detail", person_id=person.id))
    return back_to_person(person, _("Journal entry saved."))
