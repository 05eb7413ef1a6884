"""Owner pages: the accounts of the practice (invite, role, controller, deactivate, reset MFA)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms.fields import SelectChoice

from crm import audit
from crm import controllers
from crm.auth import forms
from crm.auth import services
from crm.auth.models import Role
from crm.auth.models import User
from crm.auth.views import bp
from crm.db import get_session
from crm.errors import flash_refusal
from crm.inputs import form_int
from crm.security import emails
from crm.security.roles import ROLE_DESCRIPTIONS
from crm.security.roles import ROLE_LABELS
from crm.security.roles import Perm
from crm.security.roles import requires
from crm.web import current_actor
from crm.web import failed_form
from crm.web import get_or_404
from crm.web import show_again


@bp.route("/users")
@requires(Perm.USERS_ADMIN)
def users() -> Any:
    """List the practice's accounts."""
    db = get_session()
    rows = db.scalars(select(User).order_by(User.name)).all()
    every = controllers.all_controllers(db)
    several = every if len(every) > 1 else None
    return render_template(
        "auth/users.html",
        users=rows,
        invite=failed_form("invite") or _invite_form(several),
        button=forms.ButtonForm(),
        # with one controller there is nothing to limit to: no column (seed 000)
        controllers=several,
        roles=[(choice.value, choice.label) for choice in forms.role_choices()],
        descriptions=[(ROLE_LABELS[role], ROLE_DESCRIPTIONS[role]) for role in forms.ROLE_ORDER],
    )


def _invite_form(several: list | None) -> forms.InviteForm:
    """The invitation form; the controller is offered only when there are several."""
    form = forms.InviteForm()
    if several:
        fallback = current_app.config["PRACTICE_NAME"]
        form.controller_id.choices = [SelectChoice("", _("Every controller"))] + [
            SelectChoice(str(c.id), c.display_name(fallback)) for c in several
        ]
    return form


@bp.route("/users/<int:user_id>/controller", methods=["POST"])
@requires(Perm.USERS_ADMIN)
def change_controller(user_id: int) -> ResponseReturnValue:
    """Limit an account to one controller's people, or lift the limit."""
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    controller_id = form_int(request.form, "controller_id")  # empty: no limit
    return _change(
        user_id,
        lambda db, user: services.set_controller(db, user, controller_id, current_actor()),
        _("Saved."),
    )


def _change(
    user_id: int, change: Callable[[Session, User], None], done: str
) -> ResponseReturnValue:
    """Make one change to an account: a refusal (say, of the last owner) is shown, else saved."""
    db = get_session()
    try:
        change(db, get_or_404(User, user_id))
    except services.AccountError as err:
        flash_refusal(db, err)
    else:
        db.commit()
        flash(done, "success")
    return redirect(url_for("auth.users"))


@bp.route("/users/invite", methods=["POST"])
@requires(Perm.USERS_ADMIN)
def invite() -> Any:
    """Create a one-time invitation link for a colleague and show it once."""
    db = get_session()
    every = controllers.all_controllers(db)
    form = _invite_form(every if len(every) > 1 else None)
    if not form.validate_on_submit():
        return show_again("auth.users", "invite", form)
    controller_id = form_int(request.form, "controller_id")  # empty: every controller
    if not emails.is_valid(services.normalise_email(form.email.data)):
        form.email.errors = [_("Enter a valid email address.")]
        return show_again("auth.users", "invite", form)
    if services.get_user_by_email(db, form.email.data):
        form.email.errors = [_("An account with this email address already exists.")]
        return show_again("auth.users", "invite", form)
    try:
        raw = services.create_setup_token(
            db,
            Role(form.role.data),
            email=form.email.data,
            created_by=current_user,
            controller_id=controller_id,
        )
    except services.AccountError as err:
        db.rollback()
        form.form_errors.append(_(str(err), **err.params))
        return show_again("auth.users", "invite", form)
    audit.record(
        db,
        current_actor(),
        "user.invite",
        details={"role": form.role.data, "controller": controller_id},
    )
    db.commit()
    link = current_app.config["BASE_URL"].rstrip("/") + url_for("auth.setup", token=raw)
    return render_template(
        "auth/invite_link.html", link=link, hours=current_app.config["SETUP_LINK_HOURS"]
    )


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@requires(Perm.USERS_ADMIN)
def change_role(user_id: int) -> ResponseReturnValue:
    """Give a user another role (the last owner stays an owner)."""
    form = forms.RoleForm()
    if not form.validate_on_submit():
        abort(400)
    return _change(
        user_id,
        lambda db, user: services.set_role(db, user, Role(form.role.data), current_actor()),
        _("Role changed."),
    )


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@requires(Perm.USERS_ADMIN)
def toggle_active(user_id: int) -> ResponseReturnValue:
    """Deactivate (ending every session at once) or reactivate an account."""
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    return _change(
        user_id,
        lambda db, user: services.set_active(db, user, not user.active, current_actor()),
        _("Account updated."),
    )


@bp.route("/users/<int:user_id>/reset-mfa", methods=["POST"])
@requires(Perm.USERS_ADMIN)
def reset_mfa(user_id: int) -> ResponseReturnValue:
    """Remove a colleague's second factor so they can enrol a new phone at next login."""
    if not forms.ButtonForm().validate_on_submit():
        abort(400)
    return _change(
        user_id,
        lambda db, user: services.reset_mfa(db, user, current_actor()),
        _("Two-factor authentication was reset. The user sets it up again at next login."),
    )
