"""Password hashing (argon2id) and the password policy (ASVS 5.0 V6.2).

The policy is length (12 to 128 characters), no composition rules, and a refusal of the
30,000 most common passwords (the list zxcvbn ships), compared case-insensitively.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2 import Type
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError
from flask import current_app

from crm.i18n import N_

MIN_LENGTH = 12
MAX_LENGTH = 128


def hasher() -> PasswordHasher:
    """Return the argon2id hasher configured for this app."""
    cfg = current_app.config
    return PasswordHasher(
        time_cost=cfg["ARGON2_TIME_COST"],
        memory_cost=cfg["ARGON2_MEMORY_COST"],
        parallelism=cfg["ARGON2_PARALLELISM"],
        type=Type.ID,
    )


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Check a password against its hash in constant time."""
    try:
        return hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Tell whether a hash was made with weaker parameters than the current ones."""
    return hasher().check_needs_rehash(stored_hash)


@cache
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    return PasswordHasher(time_cost, memory_cost, parallelism=parallelism).hash("not a password")


def burn_time(password: str) -> None:
    """Spend as long as a real verification, so unknown accounts cannot be told by timing."""
    cfg = current_app.config
    dummy = _dummy_hash(
        cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"]
    )
    verify_password(dummy, password)


@cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"])


class PasswordPolicyError(ValueError):
    """A new password does not meet the policy; the message says why, for the user."""


def check_policy(password: str, *, email: str = "") -> None:
    """Raise :class:`PasswordPolicyError` when a new password is too weak.

    Messages are plain English msgids so the caller can translate them.
    """
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(N_("The password must be at least 12 characters long."))
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(N_("The password must be at most 128 characters long."))
    lowered = password.lower()
    if lowered in _common_passwords() or lowered.strip() in _common_passwords():
        raise PasswordPolicyError(N_("This password is too common. Choose another one."))
    if email and lowered == email.lower():
        raise PasswordPolicyError(N_("The password must not be your email address."))
    if len(set(password)) < 4:
        raise PasswordPolicyError(N_("This password is too common. Choose another one."))
