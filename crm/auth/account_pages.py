"""One's own account: password, language and recovery codes (routes on the auth blueprint)."""

from __future__ import annotations

from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from crm import controllers
from crm.auth import forms
from crm.auth import services
from crm.auth.models import Role
from crm.auth.views import bp
from crm.auth.views import codes_locked
from crm.auth.views import complete_login
from crm.auth.views import count_wrong_code
from crm.auth.views import device_id
from crm.db import get_session
from crm.errors import flash_refusal
from crm.security.roles import ROLE_DESCRIPTIONS
from crm.security.roles import ROLE_LABELS
from crm.security.roles import Perm
from crm.security.roles import requires
from crm.web import current_actor


@bp.route("/account", methods=["GET", "POST"])
@requires(Perm.ACCOUNT)
def account() -> ResponseReturnValue:
    """Change one's password, language and recovery codes."""
    password_form = forms.PasswordForm(prefix="pw")
    locale_form = forms.LocaleForm(prefix="lang", locale=current_user.locale)
    db = get_session()
    # Two forms on one page: the field prefix tells which one was sent.
    if "pw-current" in request.form and password_form.validate_on_submit():
        device = device_id(current_user)
        if codes_locked(db, current_user.id, device):
            return _account_page(password_form, locale_form), 429
        try:
            services.change_password(
                db,
                current_user,
                password_form.current.data,
                password_form.code.data or "",
                password_form.new.data,
                current_actor(),
            )
        except services.ReauthError as err:
            count_wrong_code(db, current_user.id, device, err)
            return _account_page(password_form, locale_form), 401
        except services.AccountError as err:
            flash_refusal(db, err)
        else:
            # Every session ended, this one too; open a fresh one for this browser.
            return _login_again_after_password_change()
    elif "lang-locale" in request.form and locale_form.validate_on_submit():
        current_user.locale = locale_form.locale.data
        db.commit()
        flash(_("Language saved."), "success")
        return redirect(url_for("auth.account"))
    return _account_page(password_form, locale_form)


def _account_page(
    password_form: forms.PasswordForm,
    locale_form: forms.LocaleForm,
    codes_form: forms.ReauthForm | None = None,
) -> str:
    return render_template(
        "auth/account.html",
        password_form=password_form,
        locale_form=locale_form,
        codes_form=codes_form or forms.ReauthForm(prefix="rc"),
        codes_left=services.unused_recovery_codes(current_user),
        # what the account may see, so nobody wonders why a menu item is missing
        role=(ROLE_LABELS[Role(current_user.role)], ROLE_DESCRIPTIONS[Role(current_user.role)]),
        controller=(
            controllers.get(get_session(), current_user.controller_id).display_name(
                current_app.config["PRACTICE_NAME"]
            )
            if current_user.controller_id is not None
            else None
        ),
    )


def _login_again_after_password_change() -> BaseResponse:
    user = current_user._get_current_object()
    flash(_("Password changed. Other sessions have been logged out."), "success")
    return complete_login(user, url_for("auth.account"))


@bp.route("/account/recovery-codes", methods=["POST"])
@requires(Perm.ACCOUNT)
def recovery_codes() -> ResponseReturnValue:
    """Replace the recovery codes after re-authentication and show the new ones once."""
    form = forms.ReauthForm(prefix="rc")

    def again() -> str:  # the account page with this form's errors in place
        return _account_page(
            forms.PasswordForm(formdata=None, prefix="pw"),
            forms.LocaleForm(formdata=None, prefix="lang", locale=current_user.locale),
            form,
        )

    if not form.validate_on_submit():
        return again(), 422
    db = get_session()
    device = device_id(current_user)
    if codes_locked(db, current_user.id, device):
        return again(), 429
    try:
        codes = services.regenerate_recovery_codes(
            db, current_user, form.password.data, form.code.data or "", current_actor()
        )
    except services.ReauthError as err:
        count_wrong_code(db, current_user.id, device, err)
        return again(), 401
    db.commit()
    return render_template("auth/recovery_codes.html", codes=codes)
