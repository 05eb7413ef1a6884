"""Owner pages: subscribers, consent timelines, manual adds, lists, consent text, import, export."""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import stream_with_context
from flask import url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from wtforms.fields import SelectChoice

from crm import audit
from crm import controllers
from crm import csvsafe
from crm import features
from crm import paging
from crm.db import get_session
from crm.errors import flash_refusal
from crm.fsutil import create_private
from crm.fsutil import private_dir
from crm.inputs import parse_int
from crm.newsletter import common
from crm.newsletter import forms
from crm.newsletter import importer
from crm.newsletter import labels
from crm.newsletter import mailing_lists
from crm.newsletter import self_service
from crm.newsletter import subscribers
from crm.newsletter import subscribing
from crm.newsletter import unsubscribing
from crm.newsletter.models import Method
from crm.newsletter.models import Source
from crm.newsletter.models import Status
from crm.people.lookup import person_or_404
from crm.security.crypto import keyring
from crm.security.roles import Perm
from crm.security.roles import requires
from crm.web import absolute_url
from crm.web import current_actor

bp = Blueprint("newsletter", __name__, url_prefix="/newsletter")
# switched off: no adds, imports, lists or sign-up form; who is held, leaving and export work
features.guard(bp, "newsletter")


def _search_values() -> Any:
    """The filter values of this request: the form of a POST (CSRF-checked), else the query.

    The search form and its pages POST, so a searched address or name never lands in a URL,
    the browser history or a proxy's access log (ASVS 14.2.1), as with the people search.
    GET still takes the filters (``?status=active`` links from the dashboard, scripts).
    """
    if request.method == "POST":
        if not forms.ButtonForm().validate_on_submit():
            abort(400)
        return request.form
    return request.args


def _filter_from(values: Any) -> subscribers.SubscriberFilter:
    list_id = str(values.get("list", ""))
    status, source = values.get("status", ""), values.get("source", "")
    return subscribers.SubscriberFilter(
        status=status if status in set(Status) else "",
        list_id=parse_int(list_id),
        source=source if source in set(Source) else "",
        query=str(values.get("q", ""))[:100],
    )


@bp.route("/", methods=["GET", "POST"])
@requires(Perm.NEWSLETTER)
@features.always
def index() -> Any:
    """Subscribers with filters, search and counts."""
    db = get_session()
    values = _search_values()
    f = _filter_from(values)
    pager = paging.from_values(values, subscribers.SORTS, current_app.config["PEOPLE_PER_PAGE"])
    counts = subscribers.status_counts(db, f.list_id)
    rows, pager = subscribers.subscribers(db, f, pager, counts)
    lists = mailing_lists.all_lists(db)
    db.commit()  # the default list may have just been created
    return render_template(
        "newsletter/index.html",
        rows=rows,
        total=pager.total,
        pager=pager,
        f=f,
        lists=lists,
        counts=counts,
        statuses=list(Status),
        sources=list(Source),
        button=forms.ButtonForm(),
    )


@bp.route("/people/<int:person_id>")
@requires(Perm.NEWSLETTER)
@features.always
def subscriber(person_id: int) -> Any:
    """One subscriber: lists and the full consent timeline."""
    db = get_session()
    person = person_or_404(person_id)
    subs = self_service.subject_data(db, person)["subscriptions"]
    return render_template(
        "newsletter/subscriber.html",
        person=person,
        subs=subs,
        records=subscribers.timeline(db, person_id),
        names=audit.staff_names(db),
        button=forms.ButtonForm(),
    )


@bp.route("/people/<int:person_id>/unsubscribe", methods=["POST"])
@requires(Perm.NEWSLETTER)
@features.always
def unsubscribe(person_id: int) -> Any:
    """Unsubscribe someone on their behalf (they asked by phone or mail); recorded as such."""
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    db = get_session()
    person = person_or_404(person_id)
    unsubscribing.unsubscribe(db, person, Method.STAFF_ON_BEHALF, current_actor())
    db.commit()
    flash(_("Unsubscribed from every list. The address will not be added again."), "success")
    return redirect(url_for("newsletter.subscriber", person_id=person_id))


@bp.route("/add", methods=["GET", "POST"])
@requires(Perm.NEWSLETTER)
def add() -> Any:
    """Add a subscriber by hand with how consent was obtained."""
    db = get_session()
    form = forms.AddSubscriberForm()
    form.list_id.choices = [SelectChoice(m.id, m.name) for m in mailing_lists.all_lists(db)]
    db.commit()  # the default list may have just been created
    if form.validate_on_submit():
        try:
            sub = subscribing.add_manual(
                db,
                email=form.email.data,
                name=form.name.data or "",
                list_id=form.list_id.data,
                method=form.method.data,
                note=form.note.data or "",
                actor=current_actor(),
            )
        except common.NewsletterError as err:
            flash_refusal(db, err)
        else:
            db.commit()
            flash(_("Subscriber added."), "success")
            return redirect(url_for("newsletter.subscriber", person_id=sub.person_id))
    return render_template("newsletter/add.html", form=form)


@bp.route("/settings", methods=["GET", "POST"])
@requires(Perm.NEWSLETTER)
def settings() -> Any:
    """Lists, the consent text (versioned) and the embeddable sign-up form."""
    db = get_session()
    list_form = forms.ListForm(prefix="list")
    text = mailing_lists.current_consent_text(db)
    text_form = forms.ConsentTextForm(prefix="text", text=text.text)
    try:
        if "list-name" in request.form and list_form.validate_on_submit():
            mailing_lists.create_list(db, list_form.name.data, current_actor())
            db.commit()
            flash(_("List added."), "success")
            return redirect(url_for("newsletter.settings"))
        if "text-text" in request.form and text_form.validate_on_submit():
            new = mailing_lists.update_consent_text(db, text_form.text.data, current_actor())
            db.commit()
            flash(_("Consent text saved as version %(v)s.", v=new.version), "success")
            return redirect(url_for("newsletter.settings"))
    except common.NewsletterError as err:
        flash_refusal(db, err)
    lists = mailing_lists.all_lists(db)
    text = mailing_lists.current_consent_text(db)
    db.commit()  # the default list and first text may have just been created
    policy_args = controllers.newsletter_policy_args()
    # in the public pages' language: it is pasted into the practice's website for its visitors
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        snippet = render_template(
            "newsletter/embed_snippet.html",
            text=text,
            action=absolute_url("public.subscribe"),
            policy_url=absolute_url("privacy_public.policy", **policy_args),
        )
    return render_template(
        "newsletter/settings.html",
        lists=lists,
        list_form=list_form,
        text_form=text_form,
        text=text,
        snippet=snippet,
    )


# --- import -----------------------------------------------------------------------------------


def _upload_dir() -> Path:
    return private_dir(Path(current_app.instance_path) / "imports")


def _store_upload(data: bytes) -> str:
    """Keep an uploaded file between preview and import, encrypted (it holds addresses)."""
    upload_id = secrets.token_hex(16)
    blob = keyring().encrypt(data, f"import:{upload_id}")
    create_private(_upload_dir() / upload_id, keyring().primary_kid.encode() + b":" + blob)
    return upload_id


def _load_upload(upload_id: str) -> bytes | None:
    if not upload_id.isalnum() or len(upload_id) != 32:
        return None
    path = _upload_dir() / upload_id
    if not path.exists():
        return None
    kid, blob = path.read_bytes().split(b":", 1)
    return keyring().decrypt(blob, kid.decode(), f"import:{upload_id}")


def _drop_upload(upload_id: str) -> None:
    path = _upload_dir() / upload_id
    if path.exists():
        os.remove(path)


@bp.route("/import", methods=["GET", "POST"])
@requires(Perm.NEWSLETTER)
def import_csv() -> Any:
    """Upload a CSV: first a dry run that shows what would happen, then the import."""
    form = forms.ImportForm()
    db = get_session()
    if form.validate_on_submit():
        data = form.file.data.read(current_app.config["IMPORT_MAX_BYTES"] + 1)
        if len(data) > current_app.config["IMPORT_MAX_BYTES"]:
            flash(_("The file is too large."), "error")
            return render_template("newsletter/import.html", form=form), 413
        try:
            report = importer.run(
                db, data, default_method=form.method.data, actor=current_actor(), dry_run=True
            )
        except importer.ImportFileError as err:
            flash_refusal(db, err)
            return render_template("newsletter/import.html", form=form), 422
        db.rollback()
        return render_template(
            "newsletter/import.html",
            form=form,
            report=report,
            upload_id=_store_upload(data),
            method=form.method.data,
            button=forms.ButtonForm(),
        )
    return render_template("newsletter/import.html", form=form)


@bp.route("/import/confirm", methods=["POST"])
@requires(Perm.NEWSLETTER)
def import_confirm() -> Any:
    """Run the import previewed before."""
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    upload_id = request.form.get("upload_id", "")
    data = _load_upload(upload_id)
    if data is None:
        flash(_("The uploaded file is gone; upload it again."), "error")
        return redirect(url_for("newsletter.import_csv"))
    db = get_session()
    try:
        report = importer.run(
            db, data, default_method=request.form.get("method", ""), actor=current_actor()
        )
    except importer.ImportFileError as err:
        # a method the preview never offered (a tampered form): nothing imported, file kept
        flash_refusal(db, err)
        return render_template("newsletter/import.html", form=forms.ImportForm()), 422
    db.commit()
    _drop_upload(upload_id)
    flash(_("Imported: %(n)s new subscribers.", n=report.created), "success")
    return render_template(
        "newsletter/import.html", form=forms.ImportForm(), report=report, done=True
    )


@bp.route("/export.csv", methods=["GET", "POST"])
@requires(Perm.NEWSLETTER)
@features.always
def export() -> Any:
    """Stream subscribers as CSV (constant memory, whatever the size).

    The export button POSTs the current filters, search included (see :func:`_search_values`).
    """
    db = get_session()
    f = _filter_from(_search_values())

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csvsafe.writer(buffer)
        writer.writerow(subscribers.EXPORT_COLUMNS)
        for n, row in enumerate(subscribers.export_rows(db, f), 1):
            writer.writerow(row)
            if n % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    audit.record(db, current_actor(), "newsletter.export", details={"status": f.status})
    db.commit()
    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="prenumeranter.csv"'},
    )


labels.register(bp)
