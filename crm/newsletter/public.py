"""Public newsletter pages: sign-up, confirmation, unsubscribe, preferences, privacy notice.

None of these need a login. The unsubscribe POST needs no cookie or CSRF token either (RFC
8058: mail clients send neither); its signed token is the authorisation.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from crm import features
from crm import mail
from crm.audit import Actor
from crm.db import get_session
from crm.inputs import InvalidNumber
from crm.inputs import form_int
from crm.inputs import form_ints
from crm.newsletter import common
from crm.newsletter import links
from crm.newsletter import mailing_lists
from crm.newsletter import mails
from crm.newsletter import self_service
from crm.newsletter import subscribing
from crm.newsletter import unsubscribing
from crm.newsletter.models import Method
from crm.newsletter.models import Source
from crm.people.models import Person
from crm.security import ratelimit
from crm.security import tokens
from crm.web import csrf
from crm.web import public
from crm.web import verify_link

bp = Blueprint("public", __name__)
# switched off: no sign-up, no confirmation; leaving and one's own data always work
features.guard(bp, "newsletter")

#: A form field no human sees; bots fill it in.
HONEYPOT = "website"


def _actor() -> Actor:
    return Actor("public", None, request.remote_addr)


# --- sign-up ----------------------------------------------------------------------------------


def _cors(response: Response) -> Response:
    """Let the practice's own website post the JSON sign-up (no cookies are involved)."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    return response


def _signup_from_request() -> tuple[subscribing.Signup, bool]:
    """Read a sign-up from a form or a JSON body; returns it and whether the honeypot was hit."""
    if request.is_json:
        data: Any = request.get_json(silent=True)
        if not isinstance(data, dict):
            abort(400)
        source, consent = Source.API, data.get("consent") is True
    else:
        data = request.form
        source = Source.EMBED_FORM if data.get("source") == "embed" else Source.SIGNUP_FORM
        consent = data.get("consent") in ("1", "on", "yes", "true")
    offered = not request.is_json and data.get("lists_offered") == "1"
    ids = form_ints(data, "lists")
    text_id = form_int(data, "consent_text_id")
    signup = subscribing.Signup(
        email=str(data.get("email") or "")[:254],
        name=str(data.get("name") or "")[:200],
        list_ids=ids,
        consent_text_id=text_id,
        consent_given=consent,
        source=source,
        ip=request.remote_addr,
        user_agent=request.user_agent.string,
        lists_offered=offered,
    )
    return signup, bool(data.get(HONEYPOT))


def _signup_page(status: int = 200, **context: Any) -> tuple[str, int]:
    db = get_session()
    lists = mailing_lists.all_lists(db)
    text = mailing_lists.current_consent_text(db)
    db.commit()
    return render_template(
        "public/subscribe.html",
        lists=lists,
        consent_text=text,
        values=context.pop("values", {}),
        **context,
    ), status


@bp.route("/subscribe", methods=["GET", "POST", "OPTIONS"])
@public
@csrf.exempt  # posted from the practice's own website, which cannot know our CSRF token
def subscribe() -> Any:
    """Show the sign-up form, or take a sign-up from it, the embedded form or JSON."""
    if request.method == "OPTIONS":
        return _cors(Response(status=204))
    if request.method == "GET":
        return _signup_page()
    wants_json = request.is_json
    try:
        req, honeypot = _signup_from_request()
    except InvalidNumber as err:
        if not wants_json:
            raise
        # the practice's website reads the answer from script: JSON, with the CORS header
        message = _("The field '%(field)s' must be a whole number.", field=err.field)
        return _cors(jsonify(error=message)), 400
    if honeypot:  # pretend it worked; a bot learns nothing
        return (
            _cors(jsonify(status="pending"))
            if wants_json
            else render_template("public/subscribe_done.html")
        )
    db = get_session()
    if subscribing.signup_throttled(db, req.ip, req.email):
        if wants_json:
            return _cors(jsonify(error=_("Too many sign-ups. Try again later."))), 429
        return render_template("errors/429.html"), 429
    try:
        result = subscribing.signup(db, req)
    except common.NewsletterError as err:
        db.rollback()
        if wants_json:
            return _cors(jsonify(error=_(str(err)))), 422
        return _signup_page(422, error=_(str(err)), values=request.form)
    db.commit()
    try:
        if result.confirm_lists:
            mails.send_confirmation(result.person, result.confirm_lists)
    except mail.MailError:
        current_app.logger.exception("confirmation mail failed")
        if wants_json:
            return _cors(
                jsonify(error=_("The confirmation mail could not be sent. Try again later."))
            ), 503
        return render_template("public/mail_failed.html"), 503
    if wants_json:
        return _cors(jsonify(status="pending")), 202
    return render_template("public/subscribe_done.html")


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@public
def confirm(token: str) -> Any:
    """GET shows a button (link scanners must not confirm); POST confirms."""
    payload = verify_link(
        tokens.Purpose.CONFIRM,
        token,
        days=current_app.config["CONFIRM_LINK_DAYS"],
        expired_page="public/confirm_expired.html",
    )
    form = FlaskForm()
    if request.method == "GET" or not form.validate_on_submit():
        return render_template("public/confirm.html", form=form)
    db = get_session()
    activated = subscribing.confirm(db, payload, request.remote_addr, request.user_agent.string)
    db.commit()
    person = common.person_by_public_id(db, payload.get("p") if isinstance(payload, dict) else None)
    # no welcome for a repeated click, nor for a person whose processing is restricted
    if activated and person is not None and person.email:
        try:
            mails.send_welcome(person)
        except mail.MailError:
            current_app.logger.exception("welcome mail failed")
    return render_template("public/confirm_done.html")


# --- unsubscribe ------------------------------------------------------------------------------


@bp.route("/u/<token>", methods=["GET", "POST"])
@public
@features.always  # RFC 8058: the one-click link works whatever the settings say
@csrf.exempt  # RFC 8058: the mail client's POST carries no cookie and no CSRF token
def unsubscribe(token: str) -> Any:
    """GET: a page with one button, changing nothing. POST: unsubscribe, 200, no redirect."""
    public_id = verify_link(tokens.Purpose.UNSUBSCRIBE, token)
    if request.method == "GET":
        return render_template("public/unsubscribe.html", token=token)
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    db = get_session()
    person = unsubscribing.addressee_by_public_id(db, public_id)
    if person is not None:
        unsubscribing.unsubscribe(
            db,
            person,
            Method.ONE_CLICK if one_click else Method.UNSUBSCRIBE_LINK,
            _actor(),
            user_agent=request.user_agent.string,
        )
        db.commit()
    # Unknown or erased people get the very same page: the link reveals nothing.
    return _unsubscribed_page()


def _unsubscribed_page() -> str:
    """The page after an unsubscribe, rendered once per app and language.

    It holds nothing about the request or the person (that is the point: it reveals
    nothing), and rendering it was an eighth of a one-click unsubscribe's time. Rendered
    afresh when templates reload (development).
    """
    locale = str(get_locale())
    if current_app.jinja_env.auto_reload:
        return render_template("public/unsubscribe_done.html")
    pages = current_app.extensions.setdefault("crm.unsubscribed_pages", {})
    if locale not in pages:
        pages[locale] = render_template("public/unsubscribe_done.html")
    return pages[locale]


@bp.route("/u/<token>/preferences-link", methods=["POST"])
@public
@features.always
@csrf.exempt  # the signed token authorises; the mail goes only to the address on file
def preferences_link(token: str) -> Any:
    """Mail a fresh preferences link to the subscriber's own address."""
    public_id = verify_link(tokens.Purpose.UNSUBSCRIBE, token)
    db = get_session()
    person = common.person_by_public_id(db, public_id)
    if person is not None and person.email and not _preferences_mail_throttled(db, public_id):
        try:
            mails.send_preferences_link(person)
        except mail.MailError:
            current_app.logger.exception("preferences mail failed")
            return render_template("public/mail_failed.html"), 503
    return render_template("public/preferences_sent.html")


def _preferences_mail_throttled(db: Any, public_id: str) -> bool:
    """At most a few preferences mails per person and hour: the button must not mail-bomb.

    Counted per person, and the page says "sent" either way, so it tells nobody anything.
    """
    name = ratelimit.bucket("preferences-mail", public_id)
    if ratelimit.count(db, name, timedelta(hours=1)) >= PREFERENCES_MAILS_PER_HOUR:
        return True
    ratelimit.hit(db, name)
    db.commit()
    return False


PREFERENCES_MAILS_PER_HOUR = 3


# --- preferences ------------------------------------------------------------------------------


@bp.route("/preferences/<token>", methods=["GET", "POST"])
@public
@features.always  # leaving lists and "forget me"; joining one is refused while off
def preferences(token: str) -> Any:
    """See and change one's lists."""
    person = links.preferences_person(token)
    if not isinstance(person, Person):
        return person
    db = get_session()
    form = FlaskForm()
    offered = features.is_on(db, "newsletter")
    awaiting = []
    if request.method == "POST" and form.validate_on_submit():
        wanted = set(form_ints(request.form, "lists"))
        awaiting = self_service.set_lists(
            db, person, wanted, _actor(), request.user_agent.string, may_join=offered
        )
        db.commit()
        if awaiting:
            try:
                mails.send_confirmation(person, awaiting)
            except mail.MailError:
                current_app.logger.exception("confirmation mail failed")
                return render_template("public/mail_failed.html"), 503
    subs = {s["list"]: s for s in self_service.subject_data(db, person)["subscriptions"]}
    lists = mailing_lists.all_lists(db)
    db.commit()
    return render_template(
        "public/preferences.html",
        person=person,
        lists=lists,
        subs=subs,
        form=form,
        token=token,
        saved=request.method == "POST",
        awaiting=awaiting,
        offered=offered,
    )


@bp.route("/preferences/<token>/data.json")
@public
@features.always
def preferences_data(token: str) -> Any:
    """Download what the newsletter holds about oneself (GDPR Art. 15/20)."""
    person = links.preferences_person(token)
    if not isinstance(person, Person):
        return person
    data = self_service.subject_data(get_session(), person)
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="mina-uppgifter.json"'},
    )
