"""Owner pages for people: list and search, create, edit, archive, the person page."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func

from crm import audit
from crm import confirm
from crm import controllers
from crm import features
from crm import paging
from crm.db import get_session
from crm.errors import flash_refusal
from crm.i18n import N_
from crm.inputs import form_int
from crm.inputs import parse_int
from crm.people import care
from crm.people import forms
from crm.people import health
from crm.people import labels
from crm.people import purchases
from crm.people import services
from crm.people.models import JournalEntry
from crm.people.models import Person
from crm.security.roles import Perm
from crm.security.roles import can
from crm.security.roles import requires
from crm.web import controller_limit
from crm.web import current_actor
from crm.web import failed_form
from crm.web import get_or_404
from crm.web import show_again

bp = Blueprint("people", __name__, url_prefix="/people")


bp.add_app_template_filter(labels.identity_method_label, "identity_method_label")
bp.add_app_template_filter(labels.health_consent_method_label, "health_consent_method_label")


def _controller_choices(form: forms.PersonForm, person: Person | None) -> list:
    """Offer the controllers only when there are several (one: nothing of this is shown)."""
    db = get_session()
    rows = controllers.all_controllers(db)
    limit = controller_limit()
    if limit is not None:
        rows = [c for c in rows if c.id == limit]
    fallback = current_app.config["PRACTICE_NAME"]
    form.controller_id.choices = [(c.id, c.display_name(fallback)) for c in rows]
    if form.controller_id.data is None:
        form.controller_id.data = person.controller_id if person else rows[0].id
    mode = controllers.get(db, person.controller_id if person else rows[0].id).mode
    form.apply_id_number_mode(mode)
    return rows


#: how the list of people can be ordered (the first is the default)
SORTS = paging.options(
    ("name", N_("Name"), [Person.name], False),
    ("-created", N_("Newest first"), [Person.created_at], True),
    (
        "-contact",
        N_("Latest contact"),
        [func.coalesce(Person.last_contact_at, Person.created_at)],
        True,
    ),
)


@bp.route("/", methods=["GET", "POST"])
@requires(Perm.PEOPLE_READ)
def index() -> Any:
    """List people with search and pagination.

    The search form POSTs, so what was searched for (a personnummer, a name) never lands in
    a URL, the browser history or a proxy's access log (ASVS 14.2.1); its pages are POSTs
    too. GET still lists everyone (and takes ``?q=`` for links and scripts).
    """
    values = request.args
    if request.method == "POST":
        if not forms.ButtonForm().validate_on_submit():
            abort(400)
        values = request.form
    query = values.get("q", "")[:100]
    archived = values.get("archived") == "1"
    pager = paging.from_values(values, SORTS, current_app.config["PEOPLE_PER_PAGE"])
    rows, total = services.search_people(
        get_session(),
        query,
        include_archived=archived,
        controller_id=controller_limit(),
        pager=pager,
    )
    several = controllers.count(get_session()) > 1 and controller_limit() is None
    return render_template(
        "people/index.html",
        people=rows,
        total=total,
        query=query,
        pager=pager.with_total(total),
        archived=archived,
        masked=services.masked_personnummer,
        button=forms.ButtonForm(),
        controller_names=_controller_names() if several else None,
    )


def _controller_names() -> dict[int, str]:
    fallback = current_app.config["PRACTICE_NAME"]
    return {c.id: c.display_name(fallback) for c in controllers.all_controllers(get_session())}


def _person_data(form: forms.PersonForm) -> services.PersonData:
    return services.PersonData(
        name=form.name.data or "",
        email=form.email.data,
        phone=form.phone.data,
        address=form.address.data,
        personnummer=form.personnummer.data,
        remove_personnummer=bool(form.remove_personnummer.data),
        controller_id=form.controller_id.data,
    )


def _checked(form: forms.PersonForm, person: Person | None) -> bool:
    """Validate the form and the service's rules together, so every error shows at once."""
    if not form.is_submitted():
        return False
    valid = form.validate()
    for name, messages in services.person_errors(get_session(), person, _person_data(form)).items():
        field = getattr(form, name)
        for message in messages:
            if _(message) not in field.errors:
                field.errors = [*field.errors, _(message)]
        valid = False
    return valid


def _show_errors(form: forms.PersonForm, err: services.PersonError) -> None:
    """A refusal at the field it is about; one about no field above the form."""
    if isinstance(err, services.PersonFieldErrors):
        for name, messages in err.errors.items():
            field = getattr(form, name)
            field.errors = [*field.errors, *(_(m) for m in messages)]
    else:
        form.form_errors.append(_(str(err), **err.params))


@bp.route("/new", methods=["GET", "POST"])
@requires(Perm.PEOPLE_WRITE)
def create() -> Any:
    """Add a person."""
    form = forms.PersonForm()
    choices = _controller_choices(form, None)
    if _checked(form, None):
        db = get_session()
        try:
            person = services.create_person(db, _person_data(form), current_actor())
        except services.PersonError as err:
            db.rollback()
            _show_errors(form, err)
        else:
            db.commit()
            flash(_("Person added."), "success")
            return redirect(url_for("people.detail", person_id=person.id))
    return render_template("people/form.html", form=form, person=None, several=len(choices) > 1), (
        422 if form.errors or request.method == "POST" else 200
    )


@bp.route("/<int:person_id>")
@requires(Perm.PEOPLE_READ)
def detail(person_id: int) -> Any:
    """Show everything held about a person; protected fields stay masked until revealed.

    Every view is logged (patientdatalagen 4 kap. 3 §: access to patient data is logged and
    the log can be extracted for the patient).
    """
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
    db = get_session()
    audit.record(db, current_actor(), "person.view", object_type="person", object_id=person.id)
    db.commit()
    return _render_detail(person)


def _render_detail(
    person: Person,
    revealed: dict[str, str | None] | None = None,
    purchase_form: forms.PurchaseForm | None = None,
) -> Any:
    db = get_session()
    card = person.client_card
    card_form = failed_form("card") or forms.ClientCardForm(
        formdata=None,
        prefix="card",
        client_since=card.client_since if card else None,
        client_until=card.client_until if card else None,
        art9_basis=card.art9_basis if card else "",
    )
    return render_template(
        "people/detail.html",
        person=person,
        card=card,
        revealed=revealed or {},
        masked=services.masked_personnummer(person),
        reveal_form=forms.RevealForm(),
        card_form=card_form,
        visit_form=failed_form("visit") or forms.VisitForm(formdata=None, prefix="visit"),
        purchase_form=purchase_form or forms.PurchaseForm(formdata=None, prefix="purchase"),
        format_amount=purchases.format_amount,
        identity_form=failed_form("idc") or forms.IdentityCheckForm(formdata=None, prefix="idc"),
        profile_a=health.profile_a(db, person),
        health_consent=health.latest(db, person.id),
        health_basis=health.profile_a(db, person) or health.has_consent(db, person.id),
        health_text=health.consent_text(db, person),
        health_form=failed_form("hc") or forms.HealthConsentForm(formdata=None, prefix="hc"),
        notes_held=health.notes_held(person),
        identity_check=services.latest_identity_check(db, person.id),
        button=forms.ButtonForm(),
        # the trail is the owner's (need to know): others get no rows, not just hidden ones
        events=services.audit_about(db, person.id) if can(current_user, Perm.AUDIT_READ) else [],
        names=audit.staff_names(db),
    )


@bp.route("/<int:person_id>/reveal", methods=["POST"])
@requires(Perm.PEOPLE_READ)
def reveal(person_id: int) -> Any:
    """Show a protected field once, in this response only, and audit that it was shown."""
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
    form = forms.RevealForm()
    if not form.validate_on_submit():
        abort(400)
    db = get_session()
    if form.field.data == "personnummer":
        value = services.reveal_personnummer(db, person, current_actor())
    else:
        value = services.reveal_health_notes(db, person, current_actor())
    db.commit()
    return _render_detail(person, {form.field.data: value})


@bp.route("/<int:person_id>/edit", methods=["GET", "POST"])
@requires(Perm.PEOPLE_WRITE)
def edit(person_id: int) -> Any:
    """Rectify a person's details."""
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
    form = forms.PersonForm(obj=person)
    choices = _controller_choices(form, person)
    if request.method == "GET":
        form.personnummer.data = ""  # never echo the number into a form field
    if _checked(form, person):
        db = get_session()
        try:
            changed = services.update_person(db, person, _person_data(form), current_actor())
        except services.PersonError as err:
            db.rollback()
            _show_errors(form, err)
        else:
            db.commit()
            flash(_("Saved.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("people.detail", person_id=person.id))
    return render_template(
        "people/form.html",
        form=form,
        person=person,
        masked=services.masked_personnummer(person),
        several=len(choices) > 1,
    )


def _confirm_archive(person_id: int) -> confirm.Confirmation:
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
    back = url_for("people.detail", person_id=person.id)
    if person.archived_at is not None:
        return confirm.Confirmation(
            _("Restore %(name)s from the archive", name=person.name),
            [_("The person shows in the people list and in searches again.")],
            [_("Nothing was deleted while archived; everything is as it was.")],
            _("Restore"),
            back,
            danger=False,
        )
    return confirm.Confirmation(
        _("Archive %(name)s", name=person.name),
        [
            _("The person leaves the people list and searches (shown with 'Include archived')."),
            _(
                "Retention runs as before: the data is deleted when its period ends, unless "
                "the law keeps it longer (the journal ten years, bookkeeping seven)."
            ),
        ],
        [
            _(
                "Nothing is deleted now: contact details, the client card, journal, "
                "newsletter and requests stay. It can be restored."
            )
        ],
        _("Archive"),
        back,
    )


@bp.route("/<int:person_id>/archive", methods=["GET", "POST"])
@requires(Perm.PEOPLE_WRITE)
@confirm.irreversible(_confirm_archive)
def archive(person_id: int) -> Any:
    """Archive or un-archive a person (toggle), after the confirmation step."""
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    db = get_session()
    services.set_archived(db, person, person.archived_at is None, current_actor())
    db.commit()
    flash(_("Archived.") if person.archived_at else _("Restored from the archive."), "success")
    return redirect(url_for("people.detail", person_id=person.id))


@bp.route("/<int:person_id>/client", methods=["POST"])
@requires(Perm.HEALTH_WRITE)
def client_card(person_id: int) -> Any:
    """Save the client card."""
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
    form = forms.ClientCardForm(prefix="card")
    if not form.validate_on_submit():
        return show_again("people.detail", "card", form, person_id=person.id)
    db = get_session()
    notes = form.health_notes.data
    keep_notes = not (notes or "").strip() and not request.form.get("card-clear_notes")
    data = care.ClientCardData(
        client_since=form.client_since.data,
        client_until=form.client_until.data,
        # An empty notes box means "unchanged": the stored notes are never echoed into the form.
        health_notes=(
            person.client_card.health_notes if keep_notes and person.client_card else notes
        ),
        art9_basis=form.art9_basis.data or None,
    )
    try:
        care.update_client_card(db, person, data, current_actor())
    except services.PersonError as err:
        db.rollback()
        form.form_errors.append(_(str(err), **err.params))
        return show_again("people.detail", "card", form, person_id=person.id)
    else:
        db.commit()
        flash(_("Client card saved."), "success")
    return redirect(url_for("people.detail", person_id=person.id))


@bp.route("/<int:person_id>/visits", methods=["POST"])
@requires(Perm.HEALTH_WRITE)
def add_visit(person_id: int) -> Any:
    """Record a visit."""
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
    form = forms.VisitForm(prefix="visit")
    if not form.validate_on_submit():
        return show_again("people.detail", "visit", form, person_id=person.id)
    db = get_session()
    try:
        care.add_visit(db, person, form.visited_on.data, form.note.data, current_actor())
        if form.id_shown.data:
            # seeds 000/001: the first visit is where the client shows ID
            services.record_identity_check(db, person, "id_document", current_actor())
    except services.PersonError as err:
        db.rollback()
        form.form_errors.append(_(str(err), **err.params))
        return show_again("people.detail", "visit", form, person_id=person.id)
    else:
        db.commit()
        flash(_("Visit recorded."), "success")
    return redirect(url_for("people.detail", person_id=person.id))


@bp.route("/<int:person_id>/identity", methods=["POST"])
@requires(Perm.PEOPLE_WRITE)
def identity_check(person_id: int) -> Any:
    """Record on the client card how the person's identity was checked (e.g. ID shown)."""
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
    form = forms.IdentityCheckForm(prefix="idc")
    if not form.validate_on_submit():
        return show_again("people.detail", "idc", form, person_id=person.id)
    db = get_session()
    try:
        services.record_identity_check(db, person, form.method.data, current_actor())
    except services.PersonError as err:
        db.rollback()
        flash(_(str(err)), "error")
    else:
        db.commit()
        flash(_("Identity check recorded."), "success")
    return redirect(url_for("people.detail", person_id=person.id))


@bp.route("/<int:person_id>/health-consent", methods=["POST"])
@requires(Perm.HEALTH_WRITE)
def health_consent(person_id: int) -> Any:
    """Record the client's explicit consent to health notes, or its withdrawal."""
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
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
    db.commit()
    if not withdrawing:
        flash(_("Consent recorded: health notes may be written."), "success")
        return redirect(url_for("people.detail", person_id=person.id, _anchor="health-consent"))
    flash(_("Withdrawal recorded: no new health notes are written."), "success")
    if health.notes_held(person):
        # the notes already written rested on the consent: offer to erase them now
        return redirect(url_for("people.erase_health_notes", person_id=person.id))
    return redirect(url_for("people.detail", person_id=person.id, _anchor="health-consent"))


def _confirm_erase_notes(person_id: int) -> confirm.Confirmation:
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
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
def erase_health_notes(person_id: int) -> Any:
    """Erase the health notes and visit notes (offered after a withdrawal of consent)."""
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    db = get_session()
    health.erase_notes(db, person, current_actor())
    db.commit()
    flash(_("The health notes are erased."), "success")
    return redirect(url_for("people.detail", person_id=person.id))


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
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
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
            db.commit()
            flash(_("Purchase recorded."), "success")
            return redirect(url_for("people.detail", person_id=person.id, _anchor="purchases"))
    return _render_detail(person, purchase_form=form), 422


@bp.route("/<int:person_id>/journal", methods=["POST"])
@requires(Perm.HEALTH_WRITE)
@features.switched("journal")
def add_journal(person_id: int) -> Any:
    """Append a journal entry (or a correction of an earlier one)."""
    person = get_or_404(Person, person_id, controller=lambda p: p.controller_id)
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
    else:
        db.commit()
        flash(_("Journal entry saved."), "success")
    return redirect(url_for("people.detail", person_id=person.id))
