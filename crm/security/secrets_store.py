"""Application secrets generated once and kept in the database, encrypted with the keyring.

Why: some keyed hashes must never change, or what they protect is lost. The suppression list
holds only HMACs of addresses whose plaintext is gone after an erasure; if its key rotated with
CRM_ENCRYPTION_KEY or CRM_SECRET_KEY, old entries could never match again and an erased person
could be re-added. So its key is a random value generated once, stored here encrypted (a
database dump alone does not reveal it) and re-encrypted, unchanged, by ``crm rotate-keys``.
"""

from __future__ import annotations

import base64
import os

from flask import current_app
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from crm.db import Base
from crm.security.crypto import EncryptedText


class AppSecret(Base):
    """A named random secret."""

    __tablename__ = "app_secret"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(EncryptedText("app_secret.value"))


def get_or_create(session: Session, name: str) -> bytes:
    """Return the secret ``name``, generating it in the caller's transaction on first use.

    ``crm init`` creates the secrets right after migrating (:func:`ensure`), so generation on
    first use only happens in development; two processes racing there would make one of
    them fail on the unique name, never end up with two different secrets.
    """
    cache = current_app.extensions.setdefault("crm.app_secrets", {})
    if name in cache:
        return cache[name]
    row = session.get(AppSecret, name)
    if row is None:
        row = AppSecret(name=name, value=base64.urlsafe_b64encode(os.urandom(32)).decode())
        session.add(row)
        session.flush()
    cache[name] = base64.urlsafe_b64decode(row.value)
    return cache[name]


#: Every secret the app needs; created by ``crm init``.
NAMES = ("suppression",)


def ensure(session: Session) -> None:
    """Create any missing app secret (called after migrating)."""
    for name in NAMES:
        get_or_create(session, name)
