"""Owner pages for people: the list and its search, adding, rectifying and archiving a person.

The blueprint is a package because the person page gathers many forms: the page itself and
its reveal are in ``person_page``, the forms posted from it (client card, visits, identity
checks, health consent, purchases, journal) in ``records``. They add their routes to ``bp``
when imported at the end of this module, so every endpoint keeps its name ``people.<view>``.
"""

from __future__ import annotations

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
from sqlalchemy import func

from crm import confirm
from crm import controllers
from crm import paging
from crm.db import get_session
from crm.i18n import N_
from crm.people import disclosure
from crm.people import forms
from crm.people import labels
from crm.people import search
from crm.people import services
from crm.people.lookup import person_or_404
from crm.people.models import Person
from crm.security.roles import Perm
from crm.security.roles import requires
from crm.web import controller_limit
from crm.web import current_actor

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


def back_to_person(person: Person, done: str, anchor: str | None = None) -> ResponseReturnValue:
    """Commit what a page did, say so, and go back to the person page (at ``anchor``).

    The one ending of every successful change made from the person's pages.
    """
    get_session().commit()
    flash(done, "success")
    return redirect(url_for("people.detail", person_id=person.id, _anchor=anchor))


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
def index() -> ResponseReturnValue:
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
    rows, total = search.search_people(
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
        masked=disclosure.masked_personnummer,
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
def create() -> ResponseReturnValue:
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
            return back_to_person(person, _("Person added."))
    return render_template("people/form.html", form=form, person=None, several=len(choices) > 1), (
        422 if form.errors or request.method == "POST" else 200
    )


@bp.route("/<int:person_id>/edit", methods=["GET", "POST"])
@requires(Perm.PEOPLE_WRITE)
def edit(person_id: int) -> ResponseReturnValue:
    """Rectify a person's details."""
    person = person_or_404(person_id)
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
            return back_to_person(person, _("Saved.") if changed else _("Nothing changed."))
    return render_template(
        "people/form.html",
        form=form,
        person=person,
        masked=disclosure.masked_personnummer(person),
        several=len(choices) > 1,
    )


def _confirm_archive(person_id: int) -> confirm.Confirmation:
    person = person_or_404(person_id)
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
def archive(person_id: int) -> ResponseReturnValue:
    """Archive or un-archive a person (toggle), after the confirmation step."""
    person = person_or_404(person_id)
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    services.set_archived(get_session(), person, person.archived_at is None, current_actor())
    return back_to_person(
        person, _("Archived.") if person.archived_at else _("Restored from the archive.")
    )


# the person page and the forms posted from it are pages of this blueprint too (see above)
from crm.people.views import person_page  # noqa: E402, F401
from crm.people.views import records  # noqa: E402, F401
