"""Login throttling that an attacker cannot turn into a lockout of the owner.

Failures are counted in three kinds of bucket (OWASP "device cookies"):

- per IP address: any account, from any browser (stops one host guessing many accounts);
- per account, for browsers *without* a valid device cookie for that account;
- per device cookie: a signed cookie a browser gets after a successful login.

An attacker who guesses at the owner's account without the owner's device cookie exhausts only
the untrusted-account bucket; the owner's own browser still logs in. The per-IP bucket is not
consulted for a trusted device, so a shared office NAT under attack does not lock the owner out
either. Per-account limits stay far under ASVS's 100 failures per hour.
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


def mfa_throttled(session: Session, user_id: int) -> bool:
    """Tell whether a user has failed the second factor too often lately."""
    name = ratelimit.bucket("mfa-user", str(user_id))
    return (
        ratelimit.count(session, name, _window())
        >= current_app.config["LOGIN_MAX_FAILURES_PER_DEVICE"]
    )


def record_mfa_failure(session: Session, user_id: int) -> None:
    """Count a wrong TOTP or recovery code, server-side (a cookie counter could be replayed)."""
    ratelimit.hit(session, ratelimit.bucket("mfa-user", str(user_id)))
