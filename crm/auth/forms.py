"""Forms for login, MFA, account setup and user management (all CSRF-protected)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms import PasswordField
from wtforms import SelectField
from wtforms import StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import EqualTo
from wtforms.validators import Length
from wtforms.validators import Optional

from crm.security.roles import ROLE_LABELS
from crm.security.roles import Role


def _new_password(label: LazyString) -> PasswordField:
    return PasswordField(
        label,
        validators=[DataRequired(), Length(max=128)],
        render_kw={"autocomplete": "new-password"},
    )


def _repeat(field: str, label: LazyString) -> PasswordField:
    """The same new password again: a typo would lock the person out."""
    return PasswordField(
        label,
        validators=[DataRequired(), EqualTo(field, message=_l("The passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


def _optional_code() -> StringField:
    """The second factor where an account without one leaves it empty (the service checks)."""
    return StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[Optional(), Length(max=32)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "text"},
    )


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])


class CodeForm(FlaskForm):
    """A six-digit TOTP code or a recovery code."""

    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Length(max=32)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True},
    )


class SetupForm(FlaskForm):
    """Create an account from a one-time link."""

    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = _new_password(_l("Password (at least 12 characters)"))
    confirm = _repeat("password", _l("Repeat the password"))


class PasswordForm(FlaskForm):
    """Change one's own password (with the second factor when enrolled)."""

    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired()],
        render_kw={"autocomplete": "current-password"},
    )
    code = _optional_code()
    new = _new_password(_l("New password (at least 12 characters)"))
    confirm = _repeat("new", _l("Repeat the new password"))


class ReauthForm(FlaskForm):
    """Prove it is still the account's owner before a security-sensitive change."""

    password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(), Length(max=128)],
        render_kw={"autocomplete": "current-password"},
    )
    code = _optional_code()


class LocaleForm(FlaskForm):
    """Pick the interface language."""

    locale = SelectField(
        _l("Language"), choices=[SelectChoice("sv", "Svenska"), SelectChoice("en", "English")]
    )


#: The roles in the order offered: the narrowest that fits is the one to choose, so the
#: widest (owner) comes last.
ROLE_ORDER = (Role.PRACTITIONER, Role.ASSISTANT, Role.BOOKKEEPING, Role.OWNER)


def role_choices() -> list[SelectChoice]:
    """The four roles with their labels (Behandlare, Assistent, Ekonomi, Ägare)."""
    return [SelectChoice(role.value, ROLE_LABELS[role]) for role in ROLE_ORDER]


class InviteForm(FlaskForm):
    """Invite a colleague: the address, the role and (with several) the controller."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    role = SelectField(_l("Role"), choices=role_choices(), default=Role.PRACTITIONER.value)
    #: choices are set by the view when there are several controllers; "" means every one
    controller_id = SelectField(_l("Controller"), choices=[], validate_choice=False)


class RoleForm(FlaskForm):
    """Change a user's role."""

    role = SelectField(_l("Role"), choices=role_choices())


class ButtonForm(FlaskForm):
    """A form with only a CSRF token, for POST buttons."""
