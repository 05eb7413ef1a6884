"""Signed links and cookies: one itsdangerous salt per purpose, HMAC-SHA256, key rotation.

A token signed for one purpose never verifies for another (the salt is part of the key), and
``SECRET_KEY_FALLBACKS`` keeps links signed with an older secret working after a rotation.
Payloads are opaque public ids, never an email address or other personal data.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any

from flask import current_app
from itsdangerous import BadData
from itsdangerous import BadSignature
from itsdangerous import SignatureExpired
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode
from itsdangerous.encoding import base64_encode


class Purpose(StrEnum):
    """Every purpose a signed token can have; each is its own salt."""

    UNSUBSCRIBE = "unsubscribe"
    CONFIRM = "confirm"
    PREFERENCES = "preferences"
    TESTIMONIAL_CONSENT = "testimonial-consent"
    TESTIMONIAL_REVOKE = "testimonial-revoke"
    EXPORT = "export"
    LOGIN_DEVICE = "login-device"
    #: confirms the address of a request filed through the privacy portal (7 days)
    PRIVACY_REQUEST = "privacy-request"
    #: lets the requester see where their portal request stands
    PRIVACY_REQUEST_STATUS = "privacy-request-status"


class InvalidToken(Exception):
    """The token was altered, signed for another purpose, or with an unknown key."""


class ExpiredToken(InvalidToken):
    """The token's signature is valid but it is older than allowed."""


def _serializer(purpose: Purpose) -> URLSafeTimedSerializer:
    """Build a serializer whose newest key signs and whose every key verifies."""
    keys = [*current_app.config.get("SECRET_KEY_FALLBACKS", []), current_app.config["SECRET_KEY"]]
    return URLSafeTimedSerializer(
        keys, salt=f"crm/{purpose.value}", signer_kwargs={"digest_method": hashlib.sha256}
    )


def sign(purpose: Purpose, payload: Any) -> str:
    """Return a URL-safe token carrying ``payload`` for ``purpose``."""
    return _serializer(purpose).dumps(payload)


def _require_canonical_signature(token: str) -> None:
    """Refuse a signature written in a non-canonical base64 form.

    The last base64 character carries unused bits, so a few different strings decode to the
    same signature bytes. Accepting them would be harmless (the signature is the same), but
    "an altered link is refused" should hold for every character; found by hypothesis.
    """
    signature = token.rsplit(".", 1)[-1]
    try:
        canonical = base64_encode(base64_decode(signature)).decode()
    except (ValueError, BadData) as err:
        raise InvalidToken("malformed signature") from err
    if canonical != signature:
        raise InvalidToken("non-canonical signature")


def verify(purpose: Purpose, token: str, max_age: int | None = None) -> Any:
    """Return the payload of a token made by :func:`sign` for the same purpose.

    :param max_age: seconds a token stays valid; ``None`` for links that never expire.
    :raises ExpiredToken: the signature is valid but older than ``max_age``.
    :raises InvalidToken: anything else is wrong with it.
    """
    _require_canonical_signature(token)
    try:
        return _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as err:
        raise ExpiredToken(str(err)) from err
    except (BadSignature, UnicodeError, ValueError) as err:
        raise InvalidToken(str(err)) from err
