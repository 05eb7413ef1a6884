"""Public privacy pages: the policy, the export download, "forget me" and the privacy portal.

The portal (``/integritet``) takes data-subject requests from anyone, without a login; see
crm/privacy/portal.py for why it never discloses anything and what it stores.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import select

from crm import audit
from crm import controllers
from crm import mail
from crm.audit import Actor
from crm.db import get_session
from crm.newsletter import links
from crm.people.models import Person
from crm.privacy import export as export_zip
from crm.privacy import forget as forget_me
from crm.privacy import identity
from crm.privacy import mails
from crm.privacy import policy_versions
from crm.privacy import portal
from crm.privacy import practice
from crm.privacy import record
from crm.privacy.models import DataRequest
from crm.privacy.models import PortalRequest
from crm.security import tokens
from crm.web import absolute_url
from crm.web import bad_token_response
from crm.web import public
from crm.web import verify_link

bp = Blueprint("privacy_public", __name__)


@bp.route("/export/<token>")
@public
def export(token: str) -> Any:
    """The person's own download of their data, by a signed link valid 24 hours."""
    payload = verify_link(
        tokens.Purpose.EXPORT, token, days=1, expired_page="public/export_expired.html"
    )
    db = get_session()
    person = db.scalar(select(Person).where(Person.public_id == str(payload.get("p"))))
    if person is None:
        return render_template("public/forgotten.html"), 404
    # the link was mailed only after the identity gate; the download passes it again
    data_request = db.get(DataRequest, int(payload.get("r") or 0))
    if data_request is None:  # the request's record period ended: so has the link
        return render_template("public/export_expired.html"), 410
    try:
        data = export_zip.build(db, person, request=data_request)
    except identity.IdentityNotChecked:
        db.rollback()
        return bad_token_response()
    audit.record(
        db, Actor("public", None, request.remote_addr), "privacy.export_download", obj=person
    )
    db.commit()
    return Response(
        data,
        mimetype="application/zip",
        headers={"Content-Disposition": 'attachment; filename="mina-uppgifter.zip"'},
    )


@bp.route("/integritetspolicy")
@public
def policy() -> Any:
    """The privacy policy: what the system actually does (or the practice's own page)."""
    url = current_app.config["PRIVACY_POLICY_URL"]
    if url:
        return redirect(url)
    db = get_session()
    row = practice.load(db, current_app.config["PRACTICE_NAME"])
    every = controllers.all_controllers(db)
    db.commit()
    wanted = request.args.get("controller", "")
    if wanted:
        # seed 000: each company is the controller of the people it met; its own policy
        chosen = next((c for c in every if str(c.id) == wanted), None)
        if chosen is None:
            abort(404)
    elif len(every) > 1:
        return render_template("public/privacy.html", choose=every, row=None, activities=[])
    else:
        chosen = every[0]
    published = policy_versions.versions(db, chosen)
    if published:
        # the version in force, as it was published; the earlier ones each at their address
        return render_template(
            "public/privacy.html",
            choose=None,
            version=published[0],
            earlier=published[1:],
        )
    if not chosen.details_complete:
        # issue 16: a policy naming "Praktiken" and no address informs nobody (Art. 13(1)(a))
        return render_template("public/privacy_unpublished.html")
    return render_template(
        "public/privacy.html",
        choose=None,
        row=chosen,
        activities=record.activities(row, chosen),
        security=record.SECURITY,
    )


@bp.route("/integritetspolicy/version/<int:version_id>")
@public
def policy_version(version_id: int) -> Any:
    """One published version of the policy, as it was published (seed 000 and 001)."""
    db = get_session()
    version = policy_versions.get(db, version_id)
    if version is None:
        abort(404)
    controller = controllers.get(db, version.controller_id)
    published = policy_versions.versions(db, controller)
    several = controllers.count(db) > 1
    return render_template(
        "public/privacy.html",
        choose=None,
        version=version,
        superseded=published[0].id != version.id,
        policy_args={"controller": controller.id} if several else {},
        earlier=[v for v in published if v.id != version.id],
    )


# --- the privacy portal -----------------------------------------------------------------------

#: A form field no human sees; bots fill it in (the same trap as the sign-up's).
HONEYPOT = "website"


def _portal_page(status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(
        "public/portal.html",
        form=FlaskForm(),
        kinds=portal.KINDS,
        roles=portal.ROLES,
        values=context.pop("values", {}),
        **context,
    ), status


def _links(row: PortalRequest) -> tuple[str, str]:
    """The confirmation and status links of a filing: signed, naming only its public id."""
    confirm = tokens.sign(tokens.Purpose.PRIVACY_REQUEST, {"r": row.public_id})
    status = tokens.sign(tokens.Purpose.PRIVACY_REQUEST_STATUS, {"r": row.public_id})
    return (
        absolute_url("privacy_public.portal_confirm", token=confirm),
        absolute_url("privacy_public.portal_status", token=status),
    )


@bp.route("/integritet", methods=["GET", "POST"])
@public
def portal_form() -> Any:
    """Ask for access, a copy, rectification, erasure, restriction or objection.

    Every filing that passes the form's checks gets the same page and a mail to the address
    typed, at the same moment, whether or not the practice knows the address: nothing is
    looked up before the confirmation.
    """
    if request.method == "GET":
        return _portal_page()
    data = request.form
    if data.get(HONEYPOT):  # pretend it worked; a bot learns nothing
        return redirect(url_for("privacy_public.portal_sent"), 303)
    filing = portal.Filing(
        kind=str(data.get("kind") or ""),
        email=str(data.get("email") or "")[:254],
        name=str(data.get("name") or "")[: portal.MAX_NAME + 1],
        details=str(data.get("details") or "")[: portal.MAX_DETAILS + 1],
        for_someone_else=data.get("for") == "other",
        represented_name=str(data.get("represented_name") or "")[: portal.MAX_NAME + 1],
        representative_role=str(data.get("representative_role") or ""),
        ip=request.remote_addr,
    )
    db = get_session()
    if portal.throttled(db, filing.ip, filing.email):
        return render_template("errors/429.html"), 429
    try:
        row = portal.file(db, filing)
    except portal.PortalError as err:
        db.rollback()
        return _portal_page(422, error=_(str(err)), values=data)
    db.commit()
    confirm_url, status_url = _links(row)
    try:
        mails.portal_confirmation(
            str(row.email), confirm_url, status_url, current_app.config["CONFIRM_LINK_DAYS"]
        )
    except mail.MailError:
        current_app.logger.exception("portal confirmation mail failed")
        return render_template("public/mail_failed.html"), 503
    # after the POST a GET (a reload files nothing twice)
    return redirect(url_for("privacy_public.portal_sent"), 303)


@bp.route("/integritet/skickat")
@public
def portal_sent() -> Any:
    """The answer to every filing: check your inbox (the same for any address)."""
    return render_template("public/portal_sent.html")


def _portal_row(purpose: tokens.Purpose, token: str, days: int) -> PortalRequest | tuple[str, int]:
    """The filing a signed link names, or the page to answer instead (expired, bad, gone)."""
    payload = verify_link(purpose, token, days=days, expired_page="public/portal_expired.html")
    public_id = payload.get("r") if isinstance(payload, dict) else None
    row = portal.by_public_id(get_session(), public_id)
    if row is None:  # purged unconfirmed, or the request's record period ended
        return render_template("public/portal_expired.html"), 410
    return row


@bp.route("/integritet/bekrafta/<token>", methods=["GET", "POST"])
@public
def portal_confirm(token: str) -> Any:
    """GET shows a button (link scanners must not confirm); POST confirms, once."""
    row = _portal_row(
        tokens.Purpose.PRIVACY_REQUEST, token, current_app.config["CONFIRM_LINK_DAYS"]
    )
    if not isinstance(row, PortalRequest):
        return row
    form = FlaskForm()
    if request.method == "GET" or not form.validate_on_submit():
        return render_template("public/portal_confirm.html", form=form, kind=row.kind)
    db = get_session()
    first = row.request_id is None
    data_request = portal.confirm(db, row, Actor("public", None, request.remote_addr))
    db.commit()
    _confirm, status_url = _links(row)
    if first and row.email:
        try:
            mails.portal_receipt(row.email, data_request, status_url)
        except mail.MailError:
            # the request is registered and the page shows the same: only the receipt is lost
            current_app.logger.exception("portal receipt mail failed")
    status_token = status_url.rsplit("/", 1)[-1]
    return redirect(url_for("privacy_public.portal_confirmed", token=status_token), 303)


def _status_row(token: str) -> Any:
    """The filing a status link names, or the page for a bad or expired link."""
    return _portal_row(
        tokens.Purpose.PRIVACY_REQUEST_STATUS, token, current_app.config["PRIVACY_STATUS_LINK_DAYS"]
    )


@bp.route("/integritet/mottagen/<token>")
@public
def portal_confirmed(token: str) -> Any:
    """After the confirmation: received, due, and the status link (signed like the mail's)."""
    row = _status_row(token)
    if not isinstance(row, PortalRequest):
        return row
    if row.request is None:  # not confirmed (yet): the status page says what to do
        return redirect(url_for("privacy_public.portal_status", token=token))
    return render_template(
        "public/portal_confirmed.html",
        request_row=row.request,
        status_url=url_for("privacy_public.portal_status", token=token),
    )


@bp.route("/integritet/status/<token>")
@public
def portal_status(token: str) -> Any:
    """Where a portal request stands; nothing on the page the requester did not type."""
    row = _status_row(token)
    if not isinstance(row, PortalRequest):
        return row
    state = portal.status(row)
    get_session().commit()
    return render_template("public/portal_status.html", state=state)


@bp.route("/preferences/<token>/forget", methods=["POST"])
@public
def forget(token: str) -> ResponseReturnValue:
    """Ask to be forgotten: at once for subscribers only, as a request for clients.

    Reached from the newsletter's preferences page (its URL sits under it), served here
    because erasure is privacy's: the newsletter imports no privacy code.
    """
    person = links.preferences_person(token)
    if not isinstance(person, Person):
        return person
    form = FlaskForm()
    if not form.validate_on_submit() or request.form.get("sure") != "yes":
        abort(400)
    db = get_session()
    outcome = forget_me.forget(db, person, Actor("public", None, request.remote_addr))
    db.commit()
    return render_template("public/forget_done.html", outcome=outcome)
