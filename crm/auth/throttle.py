"""Login throttling that an attacker cannot turn into a lockout of the owner.

Failures are counted in three kinds of bucket (OWASP "device cookies"):

- per IP address: any account, from any browser (stops one host guessing many accounts);
- per account, for browsers *without* a valid device cookie for that account;
- per device cookie: a signed cookie a browser gets after a successful login.

An attacker who guesses at the owner's account without the owner's device cookie exhausts only
the untrusted-account bucket; the owner's own browser still logs in. The per-IP bucket is not
consulted for a trusted device, so a shared office NAT under attack does not lock the owner out
either. Per-account limits stay far under ASVS's 100 failures per hour.

Wrong second-factor codes (at login and when re-authenticating) are counted the same way, per
device cookie or else per account, so knowing the password is not enough to lock the owner
out of the second step either.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy.orm import Session

from crm.security import ratelimit
from crm.security import tokens

DEVICE_COOKIE = "crm_device"
DEVICE_COOKIE_DAYS = 180


@dataclass(frozen=True)
class Attempt:
    """What the throttle knows about one login attempt."""

    email: str
    ip: str
    device_id: str | None  # a device cookie valid for this email, or None

    def buckets(self) -> dict[str, str]:
        """Return the bucket names this attempt counts against."""
        names = {"ip": ratelimit.bucket("login-ip", self.ip)}
        if self.device_id:
            names["device"] = ratelimit.bucket("login-device", self.device_id)
        else:
            names["account"] = ratelimit.bucket("login-account", self.email)
        return names


def _window() -> timedelta:
    return timedelta(minutes=current_app.config["LOGIN_WINDOW_MINUTES"])


def device_id_from_cookie(cookie: str | None, email: str) -> str | None:
    """Return the device id if ``cookie`` is a valid device cookie for ``email``."""
    if not cookie:
        return None
    try:
        payload = tokens.verify(
            tokens.Purpose.LOGIN_DEVICE, cookie, max_age=DEVICE_COOKIE_DAYS * 86400
        )
    except tokens.InvalidToken:
        return None
    if not isinstance(payload, dict) or payload.get("e") != email:
        return None
    return str(payload.get("d"))


def new_device_cookie(email: str) -> str:
    """Return a signed device cookie for a browser that just logged in as ``email``."""
    return tokens.sign(tokens.Purpose.LOGIN_DEVICE, {"e": email, "d": secrets.token_hex(16)})


def is_throttled(session: Session, attempt: Attempt) -> bool:
    """Tell whether this attempt must be refused before the password is even checked."""
    cfg = current_app.config
    names = attempt.buckets()
    if "device" in names:
        # A trusted browser is limited only by its own failures.
        return (
            ratelimit.count(session, names["device"], _window())
            >= cfg["LOGIN_MAX_FAILURES_PER_DEVICE"]
        )
    if ratelimit.count(session, names["ip"], _window()) >= cfg["LOGIN_MAX_FAILURES_PER_IP"]:
        return True
    return (
        ratelimit.count(session, names["account"], _window())
        >= cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    )


def record_failure(session: Session, attempt: Attempt) -> None:
    """Count a failed attempt in every bucket it belongs to."""
    for name in attempt.buckets().values():
        ratelimit.hit(session, name)


def record_success(session: Session, attempt: Attempt) -> None:
    """Forget this device's failures (not the account's: those may be an ongoing attack)."""
    names = attempt.buckets()
    if "device" in names:
        ratelimit.clear(session, names["device"])


def _mfa_bucket(user_id: int, device_id: str | None) -> tuple[str, int]:
    """The bucket a second-factor attempt counts in, and its limit.

    Like logins: a browser with this user's device cookie counts only its own failures; every
    other browser shares the account's bucket. Someone who knows the password (but not the
    TOTP secret) can so exhaust only the untrusted bucket, while the owner's own browser still
    gets through.
    """
    cfg = current_app.config
    if device_id:
        return ratelimit.bucket("mfa-device", device_id), cfg["LOGIN_MAX_FAILURES_PER_DEVICE"]
    return ratelimit.bucket("mfa-user", str(user_id)), cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]


def mfa_throttled(session: Session, user_id: int, device_id: str | None = None) -> bool:
    """Tell whether second-factor attempts from this browser must wait (see ``_mfa_bucket``).

    :param device_id: from :func:`device_id_from_cookie` for the user's email, or None.
    """
    name, limit = _mfa_bucket(user_id, device_id)
    return ratelimit.count(session, name, _window()) >= limit


def record_mfa_failure(session: Session, user_id: int, device_id: str | None = None) -> None:
    """Count a wrong TOTP or recovery code, server-side (a cookie counter could be replayed)."""
    ratelimit.hit(session, _mfa_bucket(user_id, device_id)[0])


def record_mfa_success(session: Session, user_id: int, device_id: str | None = None) -> None:
    """Forget this device's failures (not the account's: those may be an ongoing attack)."""
    if device_id:
        ratelimit.clear(session, _mfa_bucket(user_id, device_id)[0])
