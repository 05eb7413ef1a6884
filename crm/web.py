"""Web kernel: CSRF, login manager, security headers, error pages, the request's actor.

Feature blueprints rely on what is set up here and never repeat it: every response gets the
security headers, every POST a CSRF check, every owner page ``no-store``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from typing import NoReturn
from typing import TypeVar
from urllib.parse import unquote
from urllib.parse import urlsplit

from flask import Flask
from flask import Response
from flask import abort
from flask import current_app
from flask import g
from flask import make_response
from flask import render_template
from flask import request
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from crm import audit
from crm import controllers
from crm import db
from crm import formkit
from crm.audit import Actor
from crm.config import LOOPBACK_HOSTS
from crm.config import is_https
from crm.inputs import IdConverter
from crm.inputs import InvalidNumber
from crm.security import ratelimit
from crm.security import roles
from crm.security import tokens

csrf = CSRFProtect()
login_manager = LoginManager()

F = TypeVar("F", bound=Callable[..., Any])

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

#: The audit action of a refused access (the owner's overview counts them).
REFUSED_ACTION = "access.denied"

#: Status codes with a page of their own under templates/errors/.
ERROR_PAGES = (400, 403, 404, 405, 413, 429, 500)


def init_app(app: Flask) -> None:
    """Install CSRF, the login manager, headers and error pages on ``app``."""
    # before any blueprint adds a rule: every <int:...> id in every route is bounded
    app.url_map.converters["int"] = IdConverter
    _trust_proxies(app)
    # Login is checked before CSRF, so anonymous users are sent to the login page
    # instead of getting a "form expired" error.
    formkit.install()
    app.before_request(_refuse_foreign_host)
    app.before_request(_refuse_nul_characters)
    app.before_request(_require_login_by_default)
    # Before the CSRF check: a role that may not use a page is refused (and audited) whatever
    # it sent, so a forged or stale form cannot hide a refused access as a "form expired".
    app.before_request(_authorize_by_role)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.session_protection = None  # server-side sessions do better; see auth.views
    app.after_request(_security_headers)
    for code in ERROR_PAGES:
        app.register_error_handler(code, _error_page)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(roles.PermissionDenied, _permission_denied)
    app.register_error_handler(Exception, _unexpected_error)
    app.context_processor(lambda: {"languages": app.config["LANGUAGES"]})
    # mails and documents name the controller they speak for (seed 000)
    app.jinja_env.globals["controller_name"] = controllers.name_for
    app.jinja_env.globals["newsletter_policy_args"] = controllers.newsletter_policy_args
    # templates hide what the role cannot use: {% if can(Perm.HEALTH_READ) %}
    app.jinja_env.globals["can"] = lambda perm: roles.can(current_user, roles.Perm(perm))
    app.jinja_env.globals["Perm"] = roles.Perm
    app.jinja_env.globals["failed_form"] = failed_form


def show_again(endpoint: str, slot: str, form: Any, **values: Any) -> Response:
    """Answer a failed form with its page again (422), the errors at their fields, input kept.

    Why not a redirect: a redirect drops what was typed and moves the error into a banner away
    from its field (and with an error status the browser shows a bare "Redirecting..." page).
    The page's own view renders it, so a form of one feature shown on another feature's page
    (a hold on the person page) works without either importing the other: that view or its
    template asks :func:`failed_form` for ``slot``.
    """
    from flask import make_response

    g.failed_forms = {slot: form}
    response = make_response(current_app.view_functions[endpoint](**values))
    response.status_code = 422
    return response


def failed_form(slot: str) -> Any:
    """The form that failed in this request for ``slot`` (see :func:`show_again`), or None."""
    return g.get("failed_forms", {}).get(slot)


def _refuse_foreign_host() -> None:
    """In production, answer only for the host named in ``CRM_BASE_URL``.

    Every link the app mails or shows is built from ``CRM_BASE_URL``. A request that reached the
    app under another name (a wrong proxy ``server_name``, a forged Host header, a port that
    changed) would otherwise work while every outgoing link points elsewhere; refusing it with a
    log line that names both hosts makes the misconfiguration visible at once. A loopback
    ``CRM_BASE_URL`` (a trial on the machine itself, a benchmark) is not checked: only the machine
    can reach it, and the port may differ between runs.
    """
    if current_app.config["ENV"] != "production":
        return
    base = urlsplit(str(current_app.config["BASE_URL"]))
    if base.hostname in LOOPBACK_HOSTS:
        return
    expected = base.netloc.lower()
    got = request.host.lower()
    if got != expected:
        current_app.logger.warning(
            "refused a request for host %.80r: CRM_BASE_URL names %s (set CRM_BASE_URL to the "
            "address people use, or fix the proxy's Host header)",
            got,
            expected,
        )
        abort(400)


def _trust_proxies(app: Flask) -> None:
    """Take the client's address, scheme and host from ``TRUSTED_PROXIES`` reverse proxies.

    Behind nginx every request comes from the proxy's address, so per-IP limits would lump all
    visitors together and consent records would hold the proxy's IP. Werkzeug's ProxyFix
    trusts exactly the last ``n`` values of ``X-Forwarded-For``/``-Proto``/``-Host`` (the
    ones the app's own proxies appended) and ignores whatever a client put before them
    (https://werkzeug.palletsprojects.com/en/stable/middleware/proxy_fix/, and Flask's
    "Tell Flask it is behind a proxy", https://flask.palletsprojects.com/en/stable/deploying/proxy_fix/).
    Off by default: without a proxy these headers come from the client and prove nothing.
    """
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=0, x_prefix=0
        )


def public(view: F) -> F:
    """Mark a view as reachable without login. Every other view requires a logged-in user.

    Deny by default: a new owner route is protected even if its author forgets a decorator.
    """
    view.is_public = True  # type: ignore[attr-defined]
    return view


FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _refuse_nul_characters() -> None:
    """Answer 400 to a NUL character in a query or form field.

    PostgreSQL cannot store or even compare text holding one, so it would surface as a 500
    deep inside a query (hypothesis found it in the people search). Webhook bodies are left
    alone: their views read the raw body, which parsing the form here would consume.
    """
    sources = [request.args]
    if request.mimetype in FORM_TYPES and not request.path.startswith("/webhooks/"):
        sources.append(request.form)
    for source in sources:
        for key, values in source.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                abort(400)


def _require_login_by_default() -> Any:
    """Send anonymous users to the login page unless the endpoint is marked public."""
    from flask import current_app

    if request.endpoint is None or request.endpoint == "static":
        return None
    view = current_app.view_functions.get(request.endpoint)
    if view is not None and getattr(view, "is_public", False):
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


def _authorize_by_role() -> None:
    """Refuse (403, audited) a logged-in user whose role lacks what the view declared.

    The check lives here, once, rather than in a wrapper per view: a view registered any
    way at all is covered, and one that declares nothing is the owner's alone.
    """
    endpoint = request.endpoint
    if endpoint is None or endpoint == "static":
        return
    view = current_app.view_functions.get(endpoint)
    if view is None or getattr(view, "is_public", False) or not current_user.is_authenticated:
        return
    needed = roles.required_perms(view)
    if not all(roles.can(current_user, perm) for perm in needed):
        refuse(needed)


def refuse(perms: frozenset[roles.Perm] | set[roles.Perm]) -> NoReturn:
    """Audit a refused access and answer 403 (ASVS 16.3.2: who, what, when; no personal data).

    The trail names the user, the page (its endpoint, not its URL: no ids) and the missing
    permissions; the owner sees these on the overview and in the audit trail.
    """
    session_ = db.get_session()
    session_.rollback()  # whatever the request did before the refusal is not kept
    missing = sorted(p for p in perms if not roles.can(current_user, p))
    audit.record(
        session_,
        current_actor(),
        REFUSED_ACTION,
        object_type="user",
        object_id=getattr(current_user, "id", None),
        details={"endpoint": request.endpoint, "method": request.method, "needs": missing},
    )
    session_.commit()
    current_app.logger.warning(
        "refused %s %s to user %s (role %s): needs %s",
        request.method,
        request.endpoint,
        getattr(current_user, "id", None),
        getattr(current_user, "role", None),
        ",".join(missing),
    )
    abort(403)


def _permission_denied(error: roles.PermissionDenied) -> Any:
    """A service refused the acting user (a check behind the page's own): 403, audited."""
    try:
        refuse(error.perms)
    except HTTPException as forbidden:
        return _error_page(forbidden)


def _security_headers(response: Response) -> Response:
    """Add the headers every response needs (ASVS V3.4)."""
    headers = response.headers
    ancestors = g.get("frame_ancestors")
    if ancestors:
        # A page meant for other sites' frames (the testimonial feed): no X-Frame-Options.
        headers.setdefault(
            "Content-Security-Policy",
            CSP.replace("frame-ancestors 'none'", f"frame-ancestors {ancestors}"),
        )
    else:
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Frame-Options", "DENY")
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if is_https_app():
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if request.endpoint != "static" and "Cache-Control" not in headers:
        # Pages show personal data or carry personal links: never store them anywhere.
        headers["Cache-Control"] = "no-store"
    return response


def is_https_app() -> bool:
    """Tell whether this app is served over HTTPS (decides HSTS)."""
    from flask import current_app

    return is_https(current_app)


def _error_page(error: HTTPException) -> tuple[str, int]:
    """Render a generic page that says what happened and nothing about the internals."""
    code = error.code or 500
    template = f"errors/{code}.html" if code in ERROR_PAGES else "errors/500.html"
    if isinstance(error, InvalidNumber):
        return render_template(template, number_field=error.field), code
    return render_template(template), code


def _csrf_error(_error: CSRFError) -> tuple[str, int]:
    return render_template("errors/400.html", csrf=True), 400


def _unexpected_error(error: Exception) -> Any:
    """Pass HTTP errors through; turn anything else into the generic 500 page."""
    if isinstance(error, HTTPException):
        return error
    from flask import current_app

    # Logged with the traceback but without request data, which may hold personal data.
    current_app.logger.exception("unhandled error on %s %s", request.method, request.endpoint)
    session_ = db.get_session()
    session_.rollback()
    return render_template("errors/500.html"), 500


def current_actor() -> Actor:
    """Return the actor for audit rows written during this request.

    A logged-in user's actor carries the role, so services refuse what it may not do.
    """
    if current_user.is_authenticated:
        return Actor("user", current_user.id, request.remote_addr, role=current_user.role)
    return Actor("public", None, request.remote_addr)


def controller_limit() -> int | None:
    """The controller the logged-in account is limited to (seed 000); None: every controller.

    Every owner page that reads people passes it to its service's query, so a limited account
    never sees another controller's people, wherever it looks.
    """
    return getattr(current_user, "controller_id", None)


M = TypeVar("M")


def get_or_404(model: type[M], ident: int, *, controller: Callable[[M], int] | None = None) -> M:
    """Return the row of ``model`` with this id, or end the request with 404.

    ``controller`` tells whose the row is: to an account limited to one controller
    (:func:`controller_limit`) another controller's row does not exist either, so an id typed
    into a URL tells it nothing. The one lookup every owner page uses for a row in its path.
    """
    row = db.get_session().get(model, ident)
    limit = controller_limit()
    if row is None or (controller is not None and limit is not None and controller(row) != limit):
        abort(404)
    return row


#: Longest redirect target accepted; anything longer is not a link this app made.
MAX_REDIRECT_TARGET = 2048


def safe_redirect_target(target: str | None, fallback: str) -> str:
    """Return ``target`` if it is a path on this site, else ``fallback`` (no open redirect).

    Every redirect to a user-supplied target (``next`` after login, the language switch,
    "back to where I was") goes through here. Checking prefixes is not enough: Werkzeug and
    browsers drop tabs and newlines, and browsers read a backslash as ``/`` (WHATWG URL spec,
    "special" schemes), so ``/<TAB>/evil.example`` and ``/<BACKSLASH>evil.example`` both
    become ``//evil.example``, a link to another host. So the value is parsed: it must be a
    path (no scheme, no host) that starts with exactly one ``/`` and holds no whitespace,
    control character or backslash, and the same must hold after each round of
    percent-decoding, so an encoded variant cannot slip through a component that decodes it
    later.
    """
    if not target or len(target) > MAX_REDIRECT_TARGET:
        return fallback
    if not _is_local_path(target, allow_space=False):
        return fallback
    decoded = target
    for _round in range(3):
        previous, decoded = decoded, unquote(decoded)
        if not _is_local_path(decoded, allow_space=True):
            return fallback
        if decoded == previous:
            return target
    return fallback  # encoded more than twice over: no link this app makes


def _is_local_path(value: str, *, allow_space: bool) -> bool:
    for ch in value:
        if ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\":
            return False
        if ch.isspace() and not (allow_space and ch == " "):
            return False
    if not value.startswith("/") or value.startswith("//"):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def absolute_url(endpoint: str, **values: Any) -> str:
    """Return a full URL on the configured public address (for mails and the CLI).

    Built from ``BASE_URL`` rather than the request, so a link in a mail never points at an
    internal host name the app happened to be reached by.
    """
    from flask import current_app
    from flask import has_request_context
    from flask import url_for

    base = current_app.config["BASE_URL"].rstrip("/")
    if has_request_context():
        return base + url_for(endpoint, **values)
    # The CLI and the nightly sync build links too, outside any request.
    with current_app.test_request_context(base_url=base):
        return base + url_for(endpoint, **values)


def bad_token_response(page: str = "public/bad_link.html") -> tuple[str, int]:
    """Answer a tampered token: 400, or 429 once an IP has sent too many bad ones.

    Here, not in a feature, because every feature with signed links (newsletter,
    testimonials, privacy) answers them the same way and none may import another's pages.
    """
    session = db.get_session()
    name = ratelimit.bucket("bad-token", request.remote_addr or "-")
    ratelimit.hit(session, name)
    session.commit()
    if (
        ratelimit.count(session, name, timedelta(minutes=15))
        > current_app.config["BAD_TOKEN_MAX_PER_IP"]
    ):
        return render_template("errors/429.html"), 429
    return render_template(page), 400


def verify_link(
    purpose: tokens.Purpose, token: str, *, days: int | None = None, expired_page: str = ""
) -> Any:
    """Return the payload of a signed link's token, or abort with the page to answer instead.

    Every feature with signed links (newsletter, testimonials, privacy) answers a bad one the
    same way: a link older than ``days`` gets its feature's ``expired_page`` (410: ask for a
    new one); a tampered one gets :func:`bad_token_response`, which counts the IP's bad tokens.
    """
    try:
        return tokens.verify(purpose, token, max_age=None if days is None else days * 86400)
    except tokens.InvalidToken as err:
        if expired_page and isinstance(err, tokens.ExpiredToken):
            abort(make_response(render_template(expired_page), 410))
        abort(make_response(bad_token_response()))
