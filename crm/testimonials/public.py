"""Public testimonial pages: the client's consent and revocation, and the website feed."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import g
from flask import render_template
from flask import request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.exceptions import HTTPException

from crm import features
from crm import mail
from crm.audit import Actor
from crm.db import get_session
from crm.security import tokens
from crm.testimonials import feed as feed_cache
from crm.testimonials import labels
from crm.testimonials import mails
from crm.testimonials import publications
from crm.testimonials import services
from crm.testimonials.models import CHANNELS
from crm.testimonials.models import MEDIA_KINDS
from crm.testimonials.models import Status
from crm.testimonials.models import Testimonial
from crm.testimonials.models import display_name
from crm.testimonials.views import media_response
from crm.web import absolute_url
from crm.web import csrf
from crm.web import public
from crm.web import verify_link

bp = Blueprint("testimonials_public", __name__)
# switched off: no feed and no new consents; revoking one always works
features.guard(bp, "testimonials")
labels.register(bp)
# the feed's plain GETs are answered from memory in front of Flask (see feed.FastPath)
bp.record_once(lambda state: feed_cache.install(state.app))

#: Caches may keep the feed but must ask again every time (cheap: an ETag answers 304), so a
#: revocation disappears from every visitor's view at once, not after a cache period.
FEED_CACHE = "public, no-cache"


def _conditional(response: Any) -> Any:
    """Add an ETag and answer 304 when the visitor's copy is still current."""
    response.headers["Cache-Control"] = FEED_CACHE
    response.add_etag()
    return response.make_conditional(request)


def _actor() -> Actor:
    return Actor("public", None, request.remote_addr)


def _consent_target(token: str) -> tuple[Testimonial, str] | Any:
    payload = verify_link(
        tokens.Purpose.TESTIMONIAL_CONSENT,
        token,
        days=current_app.config["TESTIMONIAL_CONSENT_LINK_DAYS"],
        expired_page="testimonials/public/expired.html",
    )
    t = services.by_public_id(
        get_session(), payload.get("t") if isinstance(payload, dict) else None
    )
    if t is None or t.status == Status.REVOKED:
        return render_template("testimonials/public/gone.html"), 404
    return t, str(payload.get("h"))


@bp.route("/t/consent/<token>", methods=["GET", "POST"])
@public
def consent(token: str) -> Any:
    """Show exactly what would be published; the client picks channels and media."""
    target = _consent_target(token)
    if not isinstance(target, tuple) or not isinstance(target[0], Testimonial):
        return target
    t, shown_hash = target
    outdated = shown_hash != services.content_hash(t)
    form = FlaskForm()
    error = None
    if request.method == "POST" and not outdated and form.validate_on_submit():
        db = get_session()
        choice = services.ConsentChoice(
            channels=request.form.getlist("channels"),
            media_kinds=request.form.getlist("media"),
            ip=request.remote_addr,
            user_agent=request.user_agent.string,
        )
        try:
            given = services.give_consent(db, t, shown_hash, choice, _actor())
        except services.TestimonialError as err:
            db.rollback()
            error = _(str(err))
        else:
            db.commit()
            try:
                mails.send_confirmation(t, given.channel_list())
            except mail.MailError:
                current_app.logger.exception("consent confirmation mail failed")
            return render_template(
                "testimonials/public/thanks.html", t=t, channels=given.channel_list()
            )
    return render_template(
        "testimonials/public/consent.html",
        t=t,
        token=token,
        form=form,
        error=error,
        outdated=outdated,
        shown_name=display_name(t.person, t.display_mode),
        channels=CHANNELS,
        media_kinds=[
            k for k in MEDIA_KINDS if k == "text" or any(m.kind == k for m in t.live_media)
        ],
    ), (422 if error else 200)


@bp.route("/t/consent/<token>/media/<int:media_id>")
@public
def consent_media(token: str, media_id: int) -> Any:
    """Let the client see a file they are asked about (the signed link authorises)."""
    try:
        target = _consent_target(token)
    except HTTPException:  # a bad or expired link: a file answers 404, whatever the reason
        abort(404)
    if not isinstance(target, tuple) or not isinstance(target[0], Testimonial):
        abort(404)
    item = next((m for m in target[0].live_media if m.id == media_id), None)
    if item is None:
        abort(404)
    return media_response(item, attachment=False)


@bp.route("/t/revoke/<token>", methods=["GET", "POST"])
@public
@features.always
@csrf.exempt  # revoking must always work, from any browser, as easily as consenting
def revoke(token: str) -> Any:
    """GET shows a button; POST withdraws the consent (idempotent)."""
    public_id = verify_link(tokens.Purpose.TESTIMONIAL_REVOKE, token)
    if request.method == "GET":
        return render_template("testimonials/public/revoke.html", token=token)
    db = get_session()
    t = services.by_public_id(db, public_id)
    if t is not None:
        services.revoke(db, t, "client_link", _actor())
        db.commit()
    return render_template("testimonials/public/revoked.html")


def _allow_framing() -> None:
    g.frame_ancestors = current_app.config["EMBED_FRAME_ANCESTORS"]


def _feed() -> feed_cache.Snapshot:
    return feed_cache.snapshot(get_session(), publications.feed)


def _cached(snapshot: feed_cache.Snapshot, variant: str, render: Any, mimetype: str) -> Any:
    """Answer with a body rendered once per feed generation (ETag and 304 as before)."""
    data, etag = snapshot.body(variant, render)
    # tell the fast path which generation and body this answer is (it may replay it)
    request.environ[feed_cache.ENVIRON_KEY] = snapshot.key
    request.environ[feed_cache.ENVIRON_VARIANT] = variant
    response = current_app.response_class(data, mimetype=mimetype)
    response.set_etag(etag)
    return _conditional(response)


@bp.route("/embed/testimonials")
@public
def embed() -> Any:
    """An HTML fragment for the practice's website: only what clients consented to."""
    _allow_framing()

    def render(items: tuple[feed_cache.Item, ...]) -> bytes:
        return render_template("testimonials/public/embed.html", items=items).encode()

    # the page names its language, so each language has its own body
    return _cached(_feed(), f"html:{get_locale()}", render, "text/html")


def _json(items: tuple[feed_cache.Item, ...]) -> bytes:
    """The same feed as JSON (no language in it: one body for everyone)."""
    return json.dumps(
        {
            "testimonials": [
                {
                    "id": item.id,
                    "text": item.text,
                    "name": item.name or None,
                    "media": [
                        {
                            "kind": m.kind,
                            "mime": m.mime,
                            "url": absolute_url(
                                "testimonials_public.embed_media", name=m.stored_name
                            ),
                        }
                        for m in item.media
                    ],
                }
                for item in items
            ]
        },
        ensure_ascii=False,
    ).encode()


@bp.route("/embed/testimonials.json")
@public
def embed_json() -> Any:
    """The same feed as JSON for a website to render itself."""
    response = _cached(_feed(), "json", _json, "application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.route("/embed/media/<name>")
@public
def embed_media(name: str) -> Any:
    """A file in the public feed, served only while consent for it is in force."""
    if name not in _feed().media_names:
        abort(404)
    item = publications.media_by_name(get_session(), name)
    if item is None:
        abort(404)
    return _conditional(media_response(item, attachment=False))
