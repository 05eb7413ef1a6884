"""The person page: everything held about a person, and revealing a protected field once.

Apart from the list and the edit pages because the page is shared: every form posted from
it (crm/people/views/records.py) comes back to :func:`render_detail` when it is refused, so
the owner sees the error in place with what was typed.
"""

from __future__ import annotations

from flask import abort
from flask import render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user

from crm import audit
from crm.db import get_session
from crm.people import disclosure
from crm.people import forms
from crm.people import health
from crm.people import purchases
from crm.people import services
from crm.people.lookup import person_or_404
from crm.people.models import Person
from crm.people.views import bp
from crm.security.roles import Perm
from crm.security.roles import can
from crm.security.roles import requires
from crm.web import current_actor
from crm.web import failed_form


@bp.route("/<int:person_id>")
@requires(Perm.PEOPLE_READ)
def detail(person_id: int) -> ResponseReturnValue:
    """Show everything held about a person; protected fields stay masked until revealed.

    Every view is logged (patientdatalagen 4 kap. 3 §: access to patient data is logged and
    the log can be extracted for the patient).
    """
    person = person_or_404(person_id)
    db = get_session()
    audit.record(db, current_actor(), "person.view", obj=person)
    db.commit()
    return render_detail(person)


def render_detail(
    person: Person,
    revealed: dict[str, str | None] | None = None,
    purchase_form: forms.PurchaseForm | None = None,
) -> str:
    """The person page, with ``revealed`` fields shown once and a refused purchase form kept.

    Shared by every form posted from the page: a form that failed for its slot is taken from
    :func:`crm.web.failed_form`, the others start empty.
    """
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
        masked=disclosure.masked_personnummer(person),
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
        events=disclosure.audit_about(db, person.id) if can(current_user, Perm.AUDIT_READ) else [],
        names=audit.staff_names(db),
    )


@bp.route("/<int:person_id>/reveal", methods=["POST"])
@requires(Perm.PEOPLE_READ)
def reveal(person_id: int) -> ResponseReturnValue:
    """Show a protected field once, in this response only, and audit that it was shown."""
    person = person_or_404(person_id)
    form = forms.RevealForm()
    if not form.validate_on_submit():
        abort(400)
    db = get_session()
    if form.field.data == "personnummer":
        value = disclosure.reveal_personnummer(db, person, current_actor())
    else:
        value = disclosure.reveal_health_notes(db, person, current_actor())
    db.commit()
    return render_detail(person, {form.field.data: value})
