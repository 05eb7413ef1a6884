"""Field encryption, blind indexes, key rotation and signed tokens."""

from __future__ import annotations

import base64
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from crm import create_app
from crm.db import get_session
from crm.newsletter import suppression
from crm.newsletter.models import Reason
from crm.people.search import find_by_personnummer
from crm.security import tokens
from crm.security.crypto import CryptoError
from crm.security.crypto import Keyring
from tests.conftest import TEST_KEY
from tests.conftest import app_config
from tests.helpers import post_form

NEW_KEY = base64.urlsafe_b64encode(b"n" * 32).decode()


def test_roundtrip_and_context_binding():
    ring = Keyring(TEST_KEY)
    token = ring.encrypt_text("Migrän", "client_card.health_notes")
    assert "Migr" not in token
    assert ring.decrypt_text(token, "client_card.health_notes") == "Migrän"
    with pytest.raises(CryptoError):
        ring.decrypt_text(token, "person.personnummer")  # moved to another column


def test_tampered_ciphertext_is_refused():
    ring = Keyring(TEST_KEY)
    token = ring.encrypt_text("x" * 20, "c")
    head, payload = token.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(payload))
    raw[-1] ^= 1
    with pytest.raises(CryptoError):
        ring.decrypt_text(f"{head}:{base64.urlsafe_b64encode(bytes(raw)).decode()}", "c")


def test_rotation_keeps_old_values_readable():
    old = Keyring(TEST_KEY)
    token = old.encrypt_text("secret", "c")
    rotated = Keyring(f"{NEW_KEY},{TEST_KEY}")
    assert rotated.decrypt_text(token, "c") == "secret"
    assert rotated.needs_rotation(token)
    assert old.blind_index("1", "p") in rotated.blind_indexes("1", "p")


def test_bad_keys_are_refused():
    with pytest.raises(ValueError):
        Keyring("")
    with pytest.raises(ValueError):
        Keyring(base64.urlsafe_b64encode(b"short").decode())


def test_rotate_keys_command_reencrypts_everything(app, auth_client, db, database_url):
    post_form(auth_client, "/people/new", {"name": "Rot", "personnummer": "811228-9874"})

    with db() as s:
        suppression.suppress(s, "erased@example.se", Reason.ERASED)
        s.commit()
    rotated_app = create_app(app_config(database_url, ENCRYPTION_KEY=f"{NEW_KEY},{TEST_KEY}"))
    result = rotated_app.test_cli_runner().invoke(args=["rotate-keys"])
    assert result.exit_code == 0, result.output
    new_kid = Keyring(NEW_KEY).primary_kid
    with db() as s:
        values = (
            s.execute(
                text(
                    "SELECT personnummer FROM person UNION ALL SELECT totp_secret FROM user_account"
                )
            )
            .scalars()
            .all()
        )
    assert values and all(v.split(":")[1] == new_kid for v in values)
    # with only the new key, the person is still found by personnummer
    new_only = create_app(app_config(database_url, ENCRYPTION_KEY=NEW_KEY))
    with new_only.app_context():
        assert find_by_personnummer(get_session(), "811228-9874").name == "Rot"
        # the suppression key is not derived from the rotated key: old entries still match
        assert suppression.is_suppressed(get_session(), "Erased@example.se")
    for a in (rotated_app, new_only):
        a.extensions["crm.db"]["engine"].dispose()


def _token_app(secret: str = "s" * 40, fallbacks: tuple[str, ...] = ()):
    """A throw-away app for signing tokens (an in-memory database it never touches)."""
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": secret,
            "ENCRYPTION_KEY": TEST_KEY,
            "SECRET_KEY_FALLBACKS": list(fallbacks),
            "DATABASE_URL": "sqlite://",
        }
    )


@pytest.fixture(scope="module")
def token_app():
    """One throw-away app for the property tests (building one per example is slow)."""
    return _token_app()


@given(st.text(min_size=1, max_size=40))
def test_tokens_of_one_purpose_are_refused_by_another(token_app, payload):
    with token_app.app_context():
        token = tokens.sign(tokens.Purpose.UNSUBSCRIBE, payload)
        assert tokens.verify(tokens.Purpose.UNSUBSCRIBE, token) == payload
        with pytest.raises(tokens.InvalidToken):
            tokens.verify(tokens.Purpose.CONFIRM, token)


@given(st.integers(min_value=0, max_value=200), st.sampled_from("ABCabc-_0123"))
def test_altered_tokens_are_refused(token_app, position, char):
    with token_app.app_context():
        token = tokens.sign(tokens.Purpose.UNSUBSCRIBE, "p-123")
        i = position % len(token)
        altered = token[:i] + char + token[i + 1 :]
        if altered == token:
            return
        with pytest.raises(tokens.InvalidToken):
            tokens.verify(tokens.Purpose.UNSUBSCRIBE, altered)


def test_old_secret_keys_still_verify_after_rotation():
    old = _token_app("o" * 40)
    new = _token_app("n" * 40, fallbacks=("o" * 40,))
    with old.app_context():
        token = tokens.sign(tokens.Purpose.UNSUBSCRIBE, "p-1")
    with new.app_context():
        assert tokens.verify(tokens.Purpose.UNSUBSCRIBE, token) == "p-1"
        assert tokens.sign(tokens.Purpose.UNSUBSCRIBE, "p-1") != token


def test_expired_token(monkeypatch):
    app = _token_app()
    with app.app_context():
        token = tokens.sign(tokens.Purpose.CONFIRM, "p")

        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + 8 * 86400)
        with pytest.raises(tokens.ExpiredToken):
            tokens.verify(tokens.Purpose.CONFIRM, token, max_age=7 * 86400)


def test_non_canonical_signature_spelling_is_refused(token_app):
    """Found by hypothesis: base64's spare bits let a changed last character decode the same."""
    with token_app.app_context():
        token = tokens.sign(tokens.Purpose.UNSUBSCRIBE, "p-123")
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        twins = [token[:-1] + c for c in alphabet if c != token[-1]]
        for altered in twins:
            with pytest.raises(tokens.InvalidToken):
                tokens.verify(tokens.Purpose.UNSUBSCRIBE, altered)
