"""Login, MFA, account setup and logout; the blueprint of the account pages too.

One's own account is in account_pages.py, the owners' user management in user_pages.py.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint
from flask import current_app
from flask import flash
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from crm import audit
from crm.auth import forms
from crm.auth import mfa
from crm.auth import services
from crm.auth import throttle
from crm.auth.models import User
from crm.config import is_https
from crm.db import get_session
from crm.errors import flash_refusal
from crm.inputs import parse_int
from crm.security import passwords
from crm.security.roles import Perm
from crm.security.roles import requires
from crm.web import current_actor
from crm.web import login_manager
from crm.web import public
from crm.web import safe_redirect_target

bp = Blueprint("auth", __name__, url_prefix="/auth")


@bp.record_once
def _register_user_loader(state: BlueprintSetupState) -> None:
    """Tell flask-login how to load a user: auth owns users, the kernel (crm/web.py) does not."""
    login_manager.user_loader(_load_user)


def _load_user(user_id: str) -> User | None:
    """Load the user only while their server-side session is alive."""
    uid = parse_int(user_id)
    if uid is None:
        return None
    check = services.check_session(get_session(), uid, session.get("sid"))
    if check.expired:
        session.pop("sid", None)
        flash(_l("Your session has ended. Please log in again."), "info")
    return check.user


#: How long a password-verified login may wait for its second factor.
PENDING_SECONDS = 600


def mfa_required(db: Any) -> bool:
    """MFA is on unless turned off for development - and always for profile A practices.

    HSLF-FS 2016:40 3 kap. 15 § requires strong authentication for patient data, so a
    licensed practice cannot switch it off. Any profile A controller of the installation
    makes it mandatory for every account (they share the login). Read by table name: auth
    imports no feature.
    """
    if current_app.config["REQUIRE_MFA"]:
        return True
    try:
        licensed = db.execute(text("SELECT 1 FROM controller WHERE profile = 'A' LIMIT 1")).first()
    except SQLAlchemyError:
        db.rollback()
        return True  # cannot tell: be strict
    return licensed is not None


def _safe_next(target: str | None) -> str:
    """Return ``target`` only if it is a path on this site (see crm.web.safe_redirect_target)."""
    return safe_redirect_target(target, url_for("main.dashboard"))


def _set_pending(user: User, stage: str) -> None:
    session["pending"] = {
        "uid": user.id,
        "stage": stage,
        "at": int(time.time()),
        "next": _safe_next(request.args.get("next")),
    }


def _pending_user(stage: str) -> User | None:
    """Return the user whose password was verified moments ago, awaiting ``stage``."""
    pending = session.get("pending")
    if not pending or pending.get("stage") != stage:
        return None
    if time.time() - pending.get("at", 0) > PENDING_SECONDS:
        session.pop("pending", None)
        return None
    user = get_session().get(User, pending["uid"])
    return user if user is not None and user.active else None


def _open_session(user: User, password: str | None = None) -> None:
    """Rotate the session and open a server-side one for a fully authenticated user."""
    db = get_session()
    if password:
        services.rehash_password(user, password)
    session.clear()  # a fresh session: nothing from before login survives (ASVS 7.2.4)
    session["sid"] = services.start_session(
        db, user, request.user_agent.string, audit.Actor("user", user.id, request.remote_addr)
    )
    session.permanent = True
    login_user(user)
    db.commit()


def device_id(user: Any) -> str | None:
    """Return the browser's device id if it holds a valid device cookie for ``user``."""
    return throttle.device_id_from_cookie(request.cookies.get(throttle.DEVICE_COOKIE), user.email)


def _with_device_cookie(response: BaseResponse, user: User) -> BaseResponse:
    """Mark this browser as one the user logged in from (see crm/auth/throttle.py)."""
    response.set_cookie(
        throttle.DEVICE_COOKIE,
        throttle.new_device_cookie(user.email),
        max_age=throttle.DEVICE_COOKIE_DAYS * 86400,
        httponly=True,
        secure=is_https(current_app),
        samesite="Lax",
        path="/auth/",
    )
    return response


def codes_locked(db: Session, user_id: int, device: str | None) -> bool:
    """Whether wrong second-factor codes locked the account (on this device) for now.

    If so, it says so. Every form that asks for a code checks this first (crm/auth/throttle.py).
    """
    if throttle.mfa_throttled(db, user_id, device):
        flash(_("Too many wrong codes. Wait 15 minutes and try again."), "error")
        return True
    return False


def count_wrong_code(db: Session, user_id: int, device: str | None, err: Exception) -> None:
    """Count a refused re-authentication towards the lock and say what was wrong.

    Commits, so the audit row the service wrote is kept along with the count.
    """
    throttle.record_mfa_failure(db, user_id, device)
    db.commit()
    flash(_(str(err)), "error")


def complete_login(user: User, next_url: str, password: str | None = None) -> BaseResponse:
    """Open the session and send the user where they were going."""
    _open_session(user, password)
    return _with_device_cookie(redirect(next_url), user)


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> ResponseReturnValue:
    """Check email and password, then go on to the second factor."""
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = forms.LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    db = get_session()
    email = services.normalise_email(form.email.data)
    attempt = throttle.Attempt(
        email,
        request.remote_addr or "-",
        throttle.device_id_from_cookie(request.cookies.get(throttle.DEVICE_COOKIE), email),
    )
    if throttle.is_throttled(db, attempt):
        audit.record(db, current_actor(), "auth.login_throttled")
        db.commit()
        flash(_("Too many failed attempts. Wait 15 minutes and try again."), "error")
        return render_template("auth/login.html", form=form), 429
    user = services.get_user_by_email(db, email)
    if user is None or not user.active:
        passwords.burn_time(form.password.data)
        ok = False
    else:
        ok = passwords.verify_password(user.password_hash, form.password.data)
    if user is None or not ok:
        throttle.record_failure(db, attempt)
        audit.record(
            db,
            current_actor(),
            "auth.login_failed",
            object_type="user" if user else None,
            object_id=user.id if user else None,
        )
        db.commit()
        flash(_("Wrong email or password."), "error")
        return render_template("auth/login.html", form=form), 401
    throttle.record_success(db, attempt)
    db.commit()
    if user.mfa_enabled:
        _set_pending(user, "mfa")
        return redirect(url_for("auth.mfa_verify"))
    if mfa_required(db):
        _set_pending(user, "enrol")
        return redirect(url_for("auth.mfa_setup"))
    return complete_login(user, _safe_next(request.args.get("next")), form.password.data)


@bp.route("/mfa", methods=["GET", "POST"])
@public
def mfa_verify() -> ResponseReturnValue:
    """Ask for the TOTP code (or a recovery code) after a correct password."""
    user = _pending_user("mfa")
    if user is None:
        flash(_("Please log in again."), "info")
        return redirect(url_for("auth.login"))
    form = forms.CodeForm()
    if not form.validate_on_submit():
        return render_template("auth/mfa_verify.html", form=form)
    db = get_session()
    actor = audit.Actor("user", user.id, request.remote_addr)
    device = device_id(user)
    if codes_locked(db, user.id, device):
        return render_template("auth/mfa_verify.html", form=form), 429
    if not services.verify_second_factor(db, user, form.code.data, actor):
        throttle.record_mfa_failure(db, user.id, device)
        audit.record(db, actor, "auth.mfa_failed", obj=user)
        db.commit()
        flash(_("The code is wrong or already used."), "error")
        return render_template("auth/mfa_verify.html", form=form), 401
    throttle.record_mfa_success(db, user.id, device)
    next_url = session["pending"]["next"]
    return complete_login(user, next_url)


@bp.route("/mfa/setup", methods=["GET", "POST"])
@public
def mfa_setup() -> ResponseReturnValue:
    """Enrol an authenticator app: during a login that requires MFA, or from the account page.

    From the account page (a logged-in session) the user re-authenticates first: without
    that, anyone holding the session could swap the second factor and take the account over.
    During a login the password was checked moments ago and there is no factor yet to ask for.
    """
    logging_in = not current_user.is_authenticated
    user = _pending_user("enrol") if logging_in else current_user._get_current_object()
    if user is None:
        return redirect(url_for("auth.login"))
    db = get_session()
    if not logging_in and not _reauthenticated_recently():
        return _reauth_page(user, "auth/mfa_reauth.html", "auth.mfa_setup")
    secret = services.begin_mfa_enrolment(db, user)
    db.commit()
    form = forms.CodeForm()
    if form.validate_on_submit():
        actor = audit.Actor("user", user.id, request.remote_addr)
        try:
            codes = services.confirm_mfa_enrolment(db, user, form.code.data, actor)
        except services.AccountError as err:
            flash(_(str(err)), "error")
        else:
            db.commit()
            session.pop(REAUTH_KEY, None)  # one re-authentication, one change
            if logging_in:
                _open_session(user)
            response = make_response(render_template("auth/recovery_codes.html", codes=codes))
            return _with_device_cookie(response, user) if logging_in else response
    uri = mfa.provisioning_uri(secret, user.email)
    return render_template("auth/mfa_setup.html", form=form, qr=mfa.qr_svg(uri), secret=secret)


#: Session key and lifetime of a re-authentication before changing the second factor.
REAUTH_KEY = "reauth_at"
REAUTH_SECONDS = 300


def _reauthenticated_recently() -> bool:
    at = session.get(REAUTH_KEY)
    return isinstance(at, int) and 0 <= time.time() - at <= REAUTH_SECONDS


def _reauth_page(user: User, template: str, endpoint: str) -> ResponseReturnValue:
    """Ask for the password (and the current second factor); remember success for a while."""
    form = forms.ReauthForm(prefix="re")
    if not form.validate_on_submit():
        return render_template(template, form=form)
    db = get_session()
    actor = audit.Actor("user", user.id, request.remote_addr)
    device = device_id(user)
    if codes_locked(db, user.id, device):
        return render_template(template, form=form), 429
    try:
        services.reauthenticate(db, user, form.password.data, form.code.data, actor)
    except services.ReauthError as err:
        count_wrong_code(db, user.id, device, err)
        return render_template(template, form=form), 401
    # A secret shown before this re-authentication (to whoever held the session) is not used.
    user.totp_pending_secret = None
    db.commit()
    session[REAUTH_KEY] = int(time.time())
    return redirect(url_for(endpoint))


@bp.route("/logout", methods=["POST"])
@requires(Perm.ACCOUNT)
def logout() -> ResponseReturnValue:
    """End the server-side session and clear the cookie."""
    db = get_session()
    services.revoke_session(db, session.get("sid"))
    audit.record(db, current_actor(), "auth.logout", obj=current_user)
    db.commit()
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/setup/<token>", methods=["GET", "POST"])
@public
def setup(token: str) -> ResponseReturnValue:
    """Create an account from a one-time link (the first owner, or an invited colleague)."""
    db = get_session()
    row = services.find_setup_token(db, token)
    if row is None:
        return render_template("auth/setup_invalid.html"), 404
    form = forms.SetupForm()
    if request.method == "GET" and row.email:
        form.email.data = row.email
    if form.validate_on_submit():
        try:
            services.redeem_setup_token(
                db,
                token,
                name=form.name.data,
                email=form.email.data,
                password=form.password.data,
                actor=current_actor(),
            )
        except services.AccountError as err:
            flash_refusal(db, err)
        else:
            db.commit()
            flash(
                _("Your account is ready. Log in to set up two-factor authentication."), "success"
            )
            return redirect(url_for("auth.login"))
    return render_template("auth/setup.html", form=form, first_owner=row.email is None)


# One's own account and the owners' user management are pages of this blueprint too: their
# modules add their routes to ``bp`` when imported here (they import ``bp`` from this module).
from crm.auth import account_pages  # noqa: E402, F401
from crm.auth import user_pages  # noqa: E402, F401
