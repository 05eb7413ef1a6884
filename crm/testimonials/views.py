"""Owner pages for testimonials."""

from __future__ import annotations

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
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms import Field
from wtforms.fields import SelectChoice

from crm import features
from crm import mail
from crm.db import get_session
from crm.errors import flash_refusal
from crm.inputs import form_int
from crm.inputs import int_arg
from crm.people import picker
from crm.people import search as people_search
from crm.security.roles import Perm
from crm.security.roles import requires
from crm.testimonials import forms
from crm.testimonials import labels
from crm.testimonials import mails
from crm.testimonials import media as media_store
from crm.testimonials import publications
from crm.testimonials import services
from crm.testimonials.models import Publication
from crm.testimonials.models import Status
from crm.testimonials.models import Testimonial
from crm.testimonials.models import TestimonialMedia
from crm.testimonials.models import display_name
from crm.web import controller_limit
from crm.web import current_actor
from crm.web import get_or_404
from crm.web import safe_redirect_target

bp = Blueprint("testimonials", __name__, url_prefix="/testimonials")
# switched off: nothing new is taken in or published; what is held can be seen and removed
features.guard(bp, "testimonials")
labels.register(bp)


def _testimonial(testimonial_id: int) -> Testimonial:
    """The testimonial a page is about: 404 when missing or another controller's."""
    return get_or_404(Testimonial, testimonial_id, controller=lambda t: t.person.controller_id)


def _pressed(testimonial_id: int) -> Testimonial:
    """The testimonial a one-button form acts on: 400 without a valid CSRF token."""
    t = _testimonial(testimonial_id)
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    return t


def _back(t: Testimonial) -> ResponseReturnValue:
    return redirect(url_for("testimonials.detail", testimonial_id=t.id))


def _ask_again(t: Testimonial) -> None:
    """After an edit voided a consent or a request, send a request for the new content."""
    if t.status != Status.AWAITING_CONSENT or not t.person.email:
        return
    db = get_session()
    request_row = services.request_consent(db, t, current_actor())
    db.commit()
    if _mail_request(t, request_row.content_hash):
        flash(_("The content changed, so the client was asked for consent again."), "info")


def _mail_request(t: Testimonial, content_hash: str) -> bool:
    """Mail the client the consent request; on failure say so (the request stays recorded)."""
    try:
        mails.send_request(t, content_hash)
    except mail.MailError:
        current_app.logger.exception("consent request mail failed")
        flash(_("The mail to the client could not be sent. Try again later."), "error")
        return False
    return True


@bp.route("/")
@requires(Perm.TESTIMONIALS)
@features.always
def index() -> Any:
    """All testimonials, filterable by status."""
    status = request.args.get("status", "")
    return render_template(
        "testimonials/index.html",
        rows=publications.list_all(get_session(), status, controller_limit()),
        status=status,
        statuses=list(Status),
    )


@bp.route("/new", methods=["GET", "POST"])
@requires(Perm.TESTIMONIALS)
def create() -> Any:
    """Write down a testimonial for a client (a draft until the client consents)."""
    db = get_session()
    form = forms.NewTestimonialForm()
    query = request.form.get("person_q", "").strip()[:100]
    chosen = int_arg("person") if request.method == "GET" else form_int(request.form, "person_id")
    found, total = picker.choices(db, query, chosen, controller_id=controller_limit())
    form.person_id.choices = [SelectChoice(pid, label) for pid, label in found]
    if request.method == "GET" and chosen is not None:
        form.person_id.data = chosen
    if "find" in request.form:  # the picker's search: show the matches, keep what was typed
        return render_template(
            "testimonials/new.html", form=form, query=query, total=total, found=found
        )
    if form.validate_on_submit():
        person = people_search.get_person(db, form.person_id.data, controller_limit())
        if person is None:  # erased since the form was shown, or another controller's
            abort(404)
        try:
            t = services.create(db, person, form.text.data, form.display_mode.data, current_actor())
        except services.TestimonialError as err:
            db.rollback()
            _refused(form.person_id, err)
        else:
            db.commit()
            flash(_("Testimonial saved as a draft."), "success")
            return _back(t)
    page = render_template(
        "testimonials/new.html", form=form, query=query, total=total, found=found
    )
    return (page, 422) if form.errors else page


@bp.route("/<int:testimonial_id>")
@requires(Perm.TESTIMONIALS)
@features.always
def detail(testimonial_id: int) -> Any:
    """One testimonial: content, consent history, publications and actions."""
    return _page(_testimonial(testimonial_id))


def _page(
    t: Testimonial,
    *,
    edit_form: forms.TestimonialForm | None = None,
    media_form: forms.MediaForm | None = None,
    pub_form: forms.PublicationForm | None = None,
) -> str:
    """The detail page; a form that failed is passed in, so its errors and input show in place."""
    if edit_form is None:
        edit_form = forms.TestimonialForm(text=t.text, display_mode=t.display_mode, prefix="edit")
    return render_template(
        "testimonials/detail.html",
        t=t,
        edit_form=edit_form,
        media_form=media_form or forms.MediaForm(formdata=None),
        pub_form=pub_form or forms.PublicationForm(formdata=None, prefix="pub"),
        button=forms.ButtonForm(),
        shown_name=display_name(t.person, t.display_mode),
    )


def _refused(field: Field, err: services.TestimonialError) -> None:
    """Show a service's refusal under the field it is about (the form is shown again)."""
    field.errors = [*field.errors, _(str(err), **err.params)]


@bp.route("/<int:testimonial_id>/edit", methods=["POST"])
@requires(Perm.TESTIMONIALS)
def edit(testimonial_id: int) -> Any:
    """Change the text or name display (voids any consent and asks again)."""
    t = _testimonial(testimonial_id)
    form = forms.TestimonialForm(prefix="edit")
    if not form.validate_on_submit():
        return _page(t, edit_form=form), 422
    db = get_session()
    try:
        changed = services.edit(db, t, form.text.data, form.display_mode.data, current_actor())
    except services.TestimonialError as err:
        db.rollback()
        _refused(form.text, err)
        return _page(t, edit_form=form), 422
    db.commit()
    if changed:
        flash(_("Saved."), "success")
        _ask_again(t)
    return _back(t)


@bp.route("/<int:testimonial_id>/media", methods=["POST"])
@requires(Perm.TESTIMONIALS)
def upload(testimonial_id: int) -> Any:
    """Add an image, audio or video file."""
    t = _testimonial(testimonial_id)
    form = forms.MediaForm()
    if not form.validate_on_submit():
        return _page(t, media_form=form), 422
    db = get_session()
    try:
        services.add_media(db, t, form.file.data.read(), current_actor())
    except services.TestimonialError as err:
        db.rollback()
        _refused(form.file, err)
        return _page(t, media_form=form), 422
    db.commit()
    flash(_("File added."), "success")
    _ask_again(t)
    return _back(t)


@bp.route("/<int:testimonial_id>/media/<int:media_id>/delete", methods=["POST"])
@requires(Perm.TESTIMONIALS)
@features.always
def delete_media(testimonial_id: int, media_id: int) -> Any:
    """Delete a file."""
    t = _pressed(testimonial_id)
    db = get_session()
    item = db.get(TestimonialMedia, media_id)
    if item is None or item.testimonial_id != t.id:
        abort(404)
    services.delete_media(db, item, current_actor())
    db.commit()
    flash(_("File deleted."), "success")
    _ask_again(t)
    return _back(t)


@bp.route("/<int:testimonial_id>/request-consent", methods=["POST"])
@requires(Perm.TESTIMONIALS)
def request_consent(testimonial_id: int) -> Any:
    """Mail the client a link to see the testimonial and consent (or not)."""
    t = _pressed(testimonial_id)
    db = get_session()
    try:
        row = services.request_consent(db, t, current_actor())
    except services.TestimonialError as err:
        flash_refusal(db, err)
        return _back(t)
    db.commit()
    if _mail_request(t, row.content_hash):
        flash(_("The consent request was sent to %(email)s.", email=t.person.email), "success")
    return _back(t)


@bp.route("/<int:testimonial_id>/publications", methods=["POST"])
@requires(Perm.TESTIMONIALS)
def add_publication(testimonial_id: int) -> Any:
    """Record where the testimonial was published by hand."""
    t = _testimonial(testimonial_id)
    form = forms.PublicationForm(prefix="pub")
    if not form.validate_on_submit():
        return _page(t, pub_form=form), 422
    db = get_session()
    try:
        publications.add_publication(
            db,
            t,
            form.channel.data,
            form.description.data or "",
            form.url.data or "",
            form.published_on.data,
            current_actor(),
        )
    except services.TestimonialError as err:
        db.rollback()
        _refused(form.channel, err)
        return _page(t, pub_form=form), 422
    db.commit()
    flash(_("Publication recorded."), "success")
    return _back(t)


@bp.route("/<int:testimonial_id>/revoke", methods=["POST"])
@requires(Perm.TESTIMONIALS)
@features.always
def revoke(testimonial_id: int) -> Any:
    """Withdraw the consent on the client's behalf (they asked by phone or mail)."""
    t = _pressed(testimonial_id)
    db = get_session()
    services.revoke(db, t, "staff_on_behalf", current_actor())
    db.commit()
    flash(
        _(
            "Withdrawn. It is gone from the website; take it down from the places listed on "
            "the overview."
        ),
        "success",
    )
    return _back(t)


@bp.route("/publications/<int:publication_id>/removed", methods=["POST"])
@requires(Perm.TESTIMONIALS)
@features.always
def tick_removed(publication_id: int) -> Any:
    """Tick off a removal task."""
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    db = get_session()
    pub = db.get(Publication, publication_id)
    if pub is None:
        abort(404)
    publications.tick_removed(db, pub, current_actor())
    db.commit()
    flash(_("Marked as taken down."), "success")
    return redirect(safe_redirect_target(request.form.get("next"), url_for("main.dashboard")))


@bp.route("/media/<name>")
@requires(Perm.TESTIMONIALS)
@features.always
def media(name: str) -> Any:
    """Serve a file to staff (login required by default)."""
    item = get_session().scalar(
        select(TestimonialMedia).where(TestimonialMedia.stored_name == name)
    )
    if item is None or item.deleted_at is not None or not media_store.exists(name):
        abort(404)
    return media_response(item, attachment=False)


def media_response(item: TestimonialMedia, *, attachment: bool) -> Response:
    """Send a decrypted file with a safe type, disposition and a sandboxing CSP."""
    ext = item.mime.split("/")[1].replace("mpeg", "mp3")
    disposition = "attachment" if attachment else "inline"
    return Response(
        media_store.load(item.stored_name),
        mimetype=item.mime,
        headers={
            "Content-Disposition": f'{disposition}; filename="testimonial-{item.id}.{ext}"',
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "X-Content-Type-Options": "nosniff",
        },
    )
