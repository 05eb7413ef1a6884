"""Account operations: setup links, users, login sessions, MFA, passwords, roles.

Services take a SQLAlchemy session and plain values, never the request, so the CLI and the
tests call exactly what the views call. They flush but leave committing to the caller.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from flask import current_app
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from crm import audit
from crm.audit import Actor
from crm.auth import mfa
from crm.auth.models import RecoveryCode
from crm.auth.models import Role
from crm.auth.models import SetupToken
from crm.auth.models import User
from crm.auth.models import UserSession
from crm.controllers import Controller
from crm.db import rowcount
from crm.db import utcnow
from crm.errors import DomainError
from crm.i18n import N_
from crm.security import emails
from crm.security import passwords


class AccountError(DomainError):
    """An account operation was refused; the message is an English msgid for the user."""


class ReauthError(AccountError):
    """Re-authentication failed: the caller counts it as a failed attempt and keeps the audit."""


def hash_token(raw: str) -> str:
    """Hash a random bearer token for storage (it has enough entropy; no salt needed)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def normalise_email(email: str) -> str:
    """Return the stored form of an email address: trimmed and lower-case."""
    return email.strip().lower()


def user_count(session: Session) -> int:
    """Return how many accounts exist."""
    return session.scalar(select(func.count()).select_from(User)) or 0


def get_user_by_email(session: Session, email: str) -> User | None:
    """Return the account for an address, if any."""
    return session.scalar(select(User).where(User.email == normalise_email(email)))


# --- setup links ------------------------------------------------------------------------------


def create_setup_token(
    session: Session,
    role: Role,
    *,
    email: str | None = None,
    created_by: User | None = None,
    controller_id: int | None = None,
) -> str:
    """Create a one-time account-creation link token and return it (only its hash is stored).

    The owner chooses the role (and, with several controllers, the one controller) when
    inviting, so the new account can read no more than that from its first login.

    :raises AccountError: ``email`` is given but not one plain address, or the controller
        does not exist or is given for an owner.
    """
    if email is not None and not emails.is_valid(normalise_email(email)):
        raise AccountError(N_("Enter a valid email address."))
    _check_controller(session, role, controller_id)
    raw = secrets.token_urlsafe(32)
    hours = current_app.config["SETUP_LINK_HOURS"]
    session.add(
        SetupToken(
            token_hash=hash_token(raw),
            role=role,
            email=normalise_email(email) if email else None,
            expires_at=utcnow() + timedelta(hours=hours),
            created_by_id=created_by.id if created_by else None,
            controller_id=controller_id,
        )
    )
    session.flush()
    return raw


def first_owner_token(session: Session) -> str | None:
    """Return a fresh first-owner link token while no account exists, else None.

    Earlier unused first-owner links are voided, so only the newest printed link works.
    """
    if user_count(session):
        return None
    session.execute(
        update(SetupToken)
        .where(SetupToken.email.is_(None), SetupToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    return create_setup_token(session, Role.OWNER)


def find_setup_token(session: Session, raw: str) -> SetupToken | None:
    """Return the unused, unexpired setup token for ``raw``, if any."""
    row = session.scalar(select(SetupToken).where(SetupToken.token_hash == hash_token(raw)))
    if row is None or row.used_at is not None or row.expires_at < utcnow():
        return None
    if row.email is None and user_count(session):
        return None  # a first-owner link is dead once any account exists
    return row


def redeem_setup_token(
    session: Session, raw: str, *, name: str, email: str, password: str, actor: Actor
) -> User:
    """Create the account a setup link promises and void the link."""
    token = find_setup_token(session, raw)
    if token is None:
        raise AccountError(N_("This link is invalid, expired or already used."))
    if token.email and normalise_email(email) != token.email:
        raise AccountError(N_("Use the email address the invitation was sent for."))
    user = create_user(
        session, email=email, name=name, password=password, role=Role(token.role), actor=actor
    )
    user.controller_id = token.controller_id
    token.used_at = utcnow()
    return user


# --- users ------------------------------------------------------------------------------------


def create_user(
    session: Session, *, email: str, name: str, password: str, role: Role, actor: Actor
) -> User:
    """Create an account after checking the address is free and the password is strong."""
    email = normalise_email(email)
    if not emails.is_valid(email):
        raise AccountError(N_("Enter a valid email address."))
    if get_user_by_email(session, email):
        raise AccountError(N_("An account with this email address already exists."))
    try:
        passwords.check_policy(password, email=email)
    except passwords.PasswordPolicyError as err:
        raise AccountError(str(err)) from err
    user = User(
        email=email,
        name=name.strip() or email,
        role=role,
        password_hash=passwords.hash_password(password),
        locale=current_app.config["BABEL_DEFAULT_LOCALE"],
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", obj=user, details={"role": str(role)})
    return user


def owners_left(session: Session, excluding: User) -> int:
    """Return how many other active owners exist."""
    stmt = select(func.count()).where(
        User.role == Role.OWNER, User.active.is_(True), User.id != excluding.id
    )
    return session.scalar(stmt) or 0


def set_role(session: Session, user: User, role: Role, actor: Actor) -> None:
    """Change a user's role; the last active owner cannot be demoted."""
    if user.role == Role.OWNER and role != Role.OWNER and not owners_left(session, user):
        raise AccountError(N_("The last owner cannot be demoted."))
    user.role = role
    if role == Role.OWNER:
        user.controller_id = None  # an owner sees every controller
    audit.record(session, actor, "user.role", obj=user, details={"role": str(role)})


def set_controller(session: Session, user: User, controller_id: int | None, actor: Actor) -> None:
    """Limit an account to one controller's people (seed 000), or lift the limit (None).

    An owner manages the whole installation, so only the other roles can be limited.
    """
    _check_controller(session, Role(user.role), controller_id)
    user.controller_id = controller_id
    audit.record(session, actor, "user.controller", obj=user, details={"controller": controller_id})


def _check_controller(session: Session, role: Role, controller_id: int | None) -> None:
    if controller_id is None:
        return
    if session.get(Controller, controller_id) is None:
        raise AccountError(N_("Choose the controller."))
    if role == Role.OWNER:
        raise AccountError(N_("An owner sees every controller; choose another role first."))


def set_active(session: Session, user: User, active: bool, actor: Actor) -> None:
    """Activate or deactivate an account; deactivation ends its sessions at once."""
    if not active and user.role == Role.OWNER and not owners_left(session, user):
        raise AccountError(N_("The last owner cannot be deactivated."))
    user.active = active
    if not active:
        revoke_all_sessions(session, user.id)
    audit.record(session, actor, "user.activate" if active else "user.deactivate", obj=user)


# --- login sessions ---------------------------------------------------------------------------


def start_session(session: Session, user: User, user_agent: str, actor: Actor) -> str:
    """Open a server-side session for a fully authenticated user; return the cookie token."""
    raw = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            token_hash=hash_token(raw), user_id=user.id, user_agent=(user_agent or "")[:120]
        )
    )
    user.last_login_at = utcnow()
    audit.record(session, actor, "auth.login", obj=user)
    return raw


def rehash_password(user: User, password: str) -> None:
    """Rehash with the current argon2 parameters after a successful login, if they changed."""
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)


@dataclass(frozen=True)
class SessionCheck:
    """Outcome of :func:`check_session`."""

    user: User | None
    expired: bool = False


def check_session(
    session: Session, user_id: int, raw: str | None, now: datetime | None = None
) -> SessionCheck:
    """Return the user when the session token is live: not revoked, not idle, not too old.

    Touches ``last_seen_at`` at most once a minute to keep writes off most requests.
    """
    if not raw:
        return SessionCheck(None)
    now = now or utcnow()
    row = session.scalar(select(UserSession).where(UserSession.token_hash == hash_token(raw)))
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        return SessionCheck(None)
    cfg = current_app.config
    idle = timedelta(minutes=cfg["SESSION_IDLE_MINUTES"])
    absolute = timedelta(hours=cfg["SESSION_ABSOLUTE_HOURS"])
    if now - row.last_seen_at > idle or now - row.created_at > absolute:
        row.revoked_at = now
        session.commit()
        return SessionCheck(None, expired=True)
    user = session.get(User, user_id)
    if user is None or not user.active:
        return SessionCheck(None)
    if now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
        session.commit()
    return SessionCheck(user)


def revoke_session(session: Session, raw: str | None) -> None:
    """End one session (logout)."""
    if raw:
        session.execute(
            update(UserSession)
            .where(UserSession.token_hash == hash_token(raw), UserSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


def revoke_all_sessions(session: Session, user_id: int) -> int:
    """End every session of a user (password change, deactivation); return how many."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return rowcount(result)


def change_password(
    session: Session, user: User, current: str, code: str, new: str, actor: Actor
) -> None:
    """Change a password after re-authentication; every session of the user ends.

    The new password's policy is checked first (it reveals nothing and spends no code); then
    :func:`reauthenticate` asks for the current password and, when enrolled, the second factor:
    someone holding only a stolen session must not lock the owner out with a new password.
    """
    try:
        passwords.check_policy(new, email=user.email)
    except passwords.PasswordPolicyError as err:
        raise AccountError(str(err)) from err
    reauthenticate(session, user, current, code, actor)
    user.password_hash = passwords.hash_password(new)
    user.password_changed_at = utcnow()
    revoke_all_sessions(session, user.id)
    audit.record(session, actor, "auth.password_change", obj=user)


def reauthenticate(session: Session, user: User, password: str, code: str, actor: Actor) -> None:
    """Check the password and, when MFA is enrolled, a fresh TOTP or unused recovery code.

    Security-sensitive account changes (password, second factor, recovery codes) call this
    first, so a session alone - a forgotten logged-in browser, a stolen cookie - cannot take
    the account over (ASVS V6.3 re-authentication). A recovery code given here is spent.

    :raises ReauthError: with the same message whichever of the two was wrong.
    """
    ok = passwords.verify_password(user.password_hash, password or "")
    if ok and user.mfa_enabled:
        ok = verify_second_factor(session, user, (code or "").strip(), actor)
    if not ok:
        audit.record(session, actor, "auth.reauth_failed", obj=user)
        raise ReauthError(N_("The password or the code is wrong."))


# --- MFA --------------------------------------------------------------------------------------


def begin_mfa_enrolment(session: Session, user: User) -> str:
    """Return the pending TOTP secret to show, creating one if needed."""
    if user.totp_pending_secret is None:
        user.totp_pending_secret = mfa.new_secret()
        session.flush()
    return user.totp_pending_secret


def confirm_mfa_enrolment(session: Session, user: User, code: str, actor: Actor) -> list[str]:
    """Enable TOTP once a code proves the secret was scanned; return new recovery codes."""
    secret = user.totp_pending_secret
    counter = mfa.match_counter(secret, code, None) if secret else None
    if counter is None:
        raise AccountError(N_("The code is wrong. Check the time on your phone and try again."))
    user.totp_secret, user.totp_pending_secret = secret, None
    user.totp_last_counter = counter
    user.totp_enabled_at = utcnow()
    codes = _replace_recovery_codes(session, user)
    audit.record(session, actor, "auth.mfa_enable", obj=user)
    return codes


def _replace_recovery_codes(session: Session, user: User) -> list[str]:
    codes = mfa.new_recovery_codes()
    user.recovery_codes.clear()
    session.flush()
    user.recovery_codes.extend(RecoveryCode(code_hash=mfa.hash_recovery_code(c)) for c in codes)
    return codes


def regenerate_recovery_codes(
    session: Session, user: User, password: str, code: str, actor: Actor
) -> list[str]:
    """Replace all recovery codes after re-authentication (the old ones stop working)."""
    reauthenticate(session, user, password, code, actor)
    codes = _replace_recovery_codes(session, user)
    audit.record(session, actor, "auth.recovery_codes", obj=user)
    return codes


def verify_second_factor(session: Session, user: User, code: str, actor: Actor) -> bool:
    """Accept a fresh TOTP code or an unused recovery code (which is then spent)."""
    if user.totp_secret:
        counter = mfa.match_counter(user.totp_secret, code, user.totp_last_counter)
        if counter is not None:
            user.totp_last_counter = counter
            return True
    wanted = mfa.hash_recovery_code(code)
    for rc in user.recovery_codes:
        if rc.used_at is None and secrets.compare_digest(rc.code_hash, wanted):
            rc.used_at = utcnow()
            audit.record(session, actor, "auth.recovery_code_used", obj=user)
            return True
    return False


def unused_recovery_codes(user: User) -> int:
    """Return how many recovery codes are left."""
    return sum(1 for rc in user.recovery_codes if rc.used_at is None)


def reset_mfa(session: Session, user: User, actor: Actor) -> None:
    """Remove a user's second factor (an owner helping staff who lost a phone)."""
    user.totp_secret = user.totp_pending_secret = None
    user.totp_enabled_at = user.totp_last_counter = None
    user.recovery_codes.clear()
    revoke_all_sessions(session, user.id)
    audit.record(session, actor, "auth.mfa_reset", obj=user)
