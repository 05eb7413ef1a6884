"""TOTP (RFC 6238) enrolment and verification, and one-time recovery codes.

Codes are single-use (ASVS 6.5.1): the accepted time step is stored and no step at or before it
is accepted again. One step of clock drift either way is tolerated.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
import segno

ISSUER = "Praktik-CRM"
STEP_SECONDS = 30
RECOVERY_CODE_COUNT = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud and typed by hand


def new_secret() -> str:
    """Return a new random base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account: str) -> str:
    """Return the otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """Render the URI as an inline SVG QR code, on the server: no script, no external service."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, title="QR")


def match_counter(
    secret: str, code: str, last_counter: int | None, now: float | None = None
) -> int | None:
    """Return the time step ``code`` belongs to, or None if it is wrong or already used."""
    code = "".join(code.split())
    # ASCII digits only: "²" passes isdigit(), and compare_digest raises on non-ASCII str
    if not (code.isascii() and code.isdecimal() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int((now if now is not None else time.time()) // STEP_SECONDS)
    for counter in (current - 1, current, current + 1):
        if last_counter is not None and counter <= last_counter:
            continue
        if hmac.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def new_recovery_codes() -> list[str]:
    """Return fresh human-typable recovery codes such as ``k7mq-x2vd-9hfn``."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def hash_recovery_code(code: str) -> str:
    """Hash a recovery code after normalising what people type (case, spaces, dashes)."""
    normalised = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(normalised.encode()).hexdigest()
