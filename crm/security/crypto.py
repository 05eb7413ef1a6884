"""Field encryption (AES-256-GCM with key ids) and keyed blind indexes.

Why AES-GCM with our own key ids instead of MultiFernet: GCM is the authenticated cipher the
legal requirements name (4.26), and binding each value to its column through associated data
means a ciphertext copied into another column (a personnummer pasted into a health note) fails
to decrypt instead of leaking.

Key rotation: ``CRM_ENCRYPTION_KEY`` holds comma-separated keys, newest first. The first
encrypts; every key decrypts and every key's blind index is accepted on lookup. ``crm
rotate-keys`` re-encrypts all values and recomputes all indexes with the first key, after which
old keys can be removed.

The audit trail is keyed from the same material (its own HKDF label, so the key is never the
AES or blind-index key): see :meth:`Keyring.audit_tag` and ``crm/audit.py``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

VERSION = "v1"
NONCE_BYTES = 12


class CryptoError(Exception):
    """A value could not be decrypted: wrong key, altered ciphertext or wrong column."""


def _derive(key: bytes, info: bytes) -> bytes:
    """Derive a 32-byte sub-key so the AES key is never used directly as an HMAC key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


@dataclass(frozen=True)
class _Key:
    kid: str
    aead: AESGCM
    index_key: bytes
    audit_key: bytes


class Keyring:
    """The app's encryption keys, newest first."""

    def __init__(self, encoded_keys: str | Sequence[str]) -> None:
        if isinstance(encoded_keys, str):
            encoded_keys = [k.strip() for k in encoded_keys.split(",") if k.strip()]
        if not encoded_keys:
            raise ValueError("at least one encryption key is required")
        self._keys: list[_Key] = []
        for encoded in encoded_keys:
            raw = base64.urlsafe_b64decode(encoded.encode())
            if len(raw) != 32:
                raise ValueError("each encryption key must be 32 bytes, urlsafe-base64 encoded")
            kid = hashlib.sha256(raw).hexdigest()[:8]
            aead = AESGCM(_derive(raw, b"crm field encryption"))
            self._keys.append(
                _Key(
                    kid,
                    aead,
                    _derive(raw, b"crm blind index"),
                    _derive(raw, b"crm audit chain"),
                )
            )
        self._by_kid = {k.kid: k for k in self._keys}

    @property
    def primary_kid(self) -> str:
        """Key id of the key that encrypts new values."""
        return self._keys[0].kid

    def encrypt(self, plaintext: bytes, context: str) -> bytes:
        """Encrypt bytes; ``context`` (e.g. the column) is authenticated, not stored."""
        key = self._keys[0]
        nonce = os.urandom(NONCE_BYTES)
        return nonce + key.aead.encrypt(nonce, plaintext, context.encode())

    def decrypt(self, blob: bytes, kid: str, context: str) -> bytes:
        """Decrypt bytes made by :meth:`encrypt` with the key ``kid``."""
        key = self._by_kid.get(kid)
        if key is None:
            raise CryptoError(f"unknown key id {kid}; is an old key missing from the keyring?")
        try:
            return key.aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
        except InvalidTag as err:
            raise CryptoError("value does not decrypt (altered, or from another column)") from err

    def encrypt_text(self, plaintext: str, context: str) -> str:
        """Encrypt a string into a self-describing token ``v1:<kid>:<base64>``."""
        blob = self.encrypt(plaintext.encode(), context)
        return f"{VERSION}:{self.primary_kid}:{base64.urlsafe_b64encode(blob).decode()}"

    def decrypt_text(self, token: str, context: str) -> str:
        """Decrypt a token made by :meth:`encrypt_text`."""
        try:
            version, kid, payload = token.split(":", 2)
        except ValueError as err:
            raise CryptoError("not an encrypted value") from err
        if version != VERSION:
            raise CryptoError(f"unsupported format {version}")
        return self.decrypt(base64.urlsafe_b64decode(payload), kid, context).decode()

    def needs_rotation(self, token: str) -> bool:
        """Tell whether a stored token was encrypted with a key other than the primary."""
        return token.split(":", 2)[1] != self.primary_kid

    def blind_index(self, value: str, purpose: str) -> str:
        """Return the keyed hash used to find an exact value without decrypting (primary key)."""
        return self._index(self._keys[0], value, purpose)

    def blind_indexes(self, value: str, purpose: str) -> list[str]:
        """Return the value's index under every key, for lookups during a key rotation."""
        return [self._index(key, value, purpose) for key in self._keys]

    def audit_tag(self, chain_hash: str, kid: str | None = None) -> tuple[str, str]:
        """Return ``(kid, HMAC-SHA256)`` of an audit row's chain hash (primary key by default).

        Why keyed: anyone holding the database can recompute a plain SHA-256 chain after
        deleting rows; nobody can recompute these tags without CRM_ENCRYPTION_KEY.

        :raises CryptoError: ``kid`` is not in the keyring (an old key was removed too early).
        """
        key = self._keys[0] if kid is None else self._by_kid.get(kid)
        if key is None:
            raise CryptoError(f"unknown key id {kid}; is an old key missing from the keyring?")
        message = b"crm audit\x00" + chain_hash.encode()
        return key.kid, hmac.new(key.audit_key, message, hashlib.sha256).hexdigest()

    @staticmethod
    def _index(key: _Key, value: str, purpose: str) -> str:
        message = purpose.encode() + b"\x00" + value.encode()
        return hmac.new(key.index_key, message, hashlib.sha256).hexdigest()


def keyring() -> Keyring:
    """Return the current app's keyring."""
    return current_app.extensions["crm.keyring"]


def init_app(app: Any) -> None:
    """Build the keyring from ``ENCRYPTION_KEY`` once per app."""
    app.extensions["crm.keyring"] = Keyring(app.config["ENCRYPTION_KEY"])


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted; the column name is the authenticated context.

    Values are encrypted on the way in and decrypted on the way out, so no code path can store
    a plaintext health note by forgetting a call.
    """

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        """Encrypt on write."""
        if value is None:
            return None
        return keyring().encrypt_text(value, self.context)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        """Decrypt on read."""
        if value is None:
            return None
        return keyring().decrypt_text(value, self.context)
