"""Shared fixtures: a migrated database per session, a fresh app per test, users, login.

The database is migrated once through Alembic (so every test runs on the schema that
production gets), and every table is emptied after each test. Set CRM_TEST_DATABASE_URL to a
``postgresql+psycopg://`` URL to run the whole suite on PostgreSQL.
"""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine
from sqlalchemy import text

from crm import controllers
from crm import create_app
from crm.audit import Actor
from crm.auth import mfa
from crm.auth import services
from crm.auth.models import Role
from crm.cli import upgrade_database
from crm.db import Base
from crm.db import get_session
from crm.newsletter import mailing_lists
from crm.newsletter import subscribing
from crm.people.models import Person
from crm.testimonials import services as testimonials
from tests.helpers import TestUser
from tests.helpers import csrf_token as csrf_token
from tests.helpers import login
from tests.helpers import post_form as post_form

TEST_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
TEST_SECRET = "test-secret-key-that-is-long-enough-for-production-checks"
PASSWORD = "korrekt häst batteri häftklammer"


# --- no network beyond this machine -----------------------------------------------------------

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise RuntimeError(f"test tried to reach {host}: tests may only use 127.0.0.1")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt to reach a real host."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


# --- database ---------------------------------------------------------------------------------


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated to head once per test session."""
    url = os.environ.get("CRM_TEST_DATABASE_URL")
    if url:
        _reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    upgrade_database(url)
    return url


def wipe(url: str) -> None:
    """Empty every table and reset the audit chain head, leaving the schema in place."""
    engine = create_engine(url)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            # app_secret too: a test may have rotated it to another key; it is regenerated
            conn.execute(table.delete())
        conn.execute(
            text("INSERT INTO audit_chain (id, seq, last_hash) VALUES (1, 0, :h)"), {"h": "0" * 64}
        )
    engine.dispose()


class Inbox:
    """Mails received by the test SMTP server."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []  # the same mails exactly as they came over the wire
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Store each mail as it arrives (aiosmtpd handler hook)."""
        self.raw.append(envelope.original_content)
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"

    def last(self, to: str | None = None) -> EmailMessage:
        """Return the newest mail (to ``to``, if given)."""
        found = [m for m in self.messages if to is None or to in m["To"]]
        assert found, f"no mail{' to ' + to if to else ''} arrived"
        return found[-1]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[Inbox]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 for the whole test session."""
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        inbox.port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


@pytest.fixture
def inbox(smtp_server: Inbox) -> Inbox:
    """The test SMTP server's inbox, emptied for this test."""
    smtp_server.messages.clear()
    smtp_server.raw.clear()
    return smtp_server


SMTP_PORT: dict[str, int] = {}


def app_config(database_url: str, **overrides: Any) -> dict[str, Any]:
    """Settings for a test app: cheap argon2, fixed keys, the session's database, local SMTP."""
    return {
        "MAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": SMTP_PORT.get("port", 1),
        "SMTP_SECURITY": "none",
        "SMTP_TIMEOUT": 5,
        "MAIL_FROM": "Praktiken <info@praktiken.example>",
        "PRACTICE_NAME": "Praktiken",
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "ENCRYPTION_KEY": TEST_KEY,
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 1024,
        "BASE_URL": "http://localhost",
        **overrides,
    }


@pytest.fixture(scope="session", autouse=True)
def instance_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep tests away from the developer's instance/ (its config, database and media)."""
    old = os.environ.get("CRM_INSTANCE_PATH")
    os.environ["CRM_INSTANCE_PATH"] = str(tmp_path_factory.mktemp("instance"))
    yield
    if old is None:
        os.environ.pop("CRM_INSTANCE_PATH", None)
    else:
        os.environ["CRM_INSTANCE_PATH"] = old


@pytest.fixture
def app(database_url: str, smtp_server: Inbox, tmp_path: Any) -> Iterator[Flask]:
    """A fresh app on the shared, emptied database, mailing to the local SMTP server.

    Each test has its own instance folder, so media and uploads never leak between tests.
    """
    SMTP_PORT["port"] = smtp_server.port
    application = create_app(app_config(database_url))
    application.instance_path = str(tmp_path / "instance")
    _record_full_personnummer(application)
    yield application
    application.extensions["crm.db"]["engine"].dispose()
    wipe(database_url)


def _record_full_personnummer(application: Flask) -> None:
    """Most tests type full personnummer; a new controller records only the birth date.

    The minimisation itself is tested in tests/test_controllers.py, which sets it back.
    """
    with application.app_context():
        session = get_session()
        first = controllers.first(session)
        first.id_number_mode, first.id_number_reason = "full", "Patientjournal"
        session.commit()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client (CSRF protection stays on, as in production)."""
    return app.test_client()


@pytest.fixture
def db(app: Flask) -> Callable[[], Any]:
    """Return a context manager giving the app's session in a short-lived app context.

    Short-lived on purpose: while an app context is active, Flask's test client reuses it for
    every request, so ``g`` (and the logged-in user) would leak between requests and clients.
    """

    @contextmanager
    def open_session() -> Iterator[Any]:
        with app.app_context():
            yield get_session()

    return open_session


# --- users ------------------------------------------------------------------------------------


@pytest.fixture
def make_user(app: Flask) -> Callable[..., TestUser]:
    """Return a factory for users, with MFA enrolled unless ``mfa=False``."""

    def factory(
        email: str = "owner@example.se",
        *,
        role: str = "owner",
        mfa_on: bool = True,
        password: str = PASSWORD,
        name: str = "Test User",
    ) -> TestUser:
        with app.app_context():
            db = get_session()
            user = services.create_user(
                db, email=email, name=name, password=password, role=Role(role), actor=Actor.cli()
            )
            secret = None
            if mfa_on:
                secret = mfa.new_secret()
                user.totp_secret = secret
            db.commit()
            return TestUser(user.id, user.email, password, secret)

    return factory


@pytest.fixture
def owner(make_user: Callable[..., TestUser]) -> TestUser:
    """The practice owner, with MFA."""
    return make_user()


@pytest.fixture
def auth_client(app: Flask, client: FlaskClient, owner: TestUser) -> FlaskClient:
    """A client logged in as the owner."""
    login(client, app, owner)
    return client


# --- factories --------------------------------------------------------------------------------


@pytest.fixture
def make_person(db: Callable[[], Any]) -> Callable[..., int]:
    """Return a factory for people: ``make_person(name, email, **columns)`` -> the new id.

    The one way a test puts a person straight into the database (no page, no audit row);
    ``columns`` are any other Person attributes (``created_at``, ``client_card``...).
    """

    def factory(
        name: str = "Karin Klient", email: str | None = "karin@example.se", **columns: Any
    ) -> int:
        with db() as s:
            person = Person(name=name, email=email, **columns)
            s.add(person)
            s.commit()
            return person.id

    return factory


@pytest.fixture
def make_subscriber(db: Callable[[], Any]) -> Callable[..., int]:
    """Return a factory for subscribers added by hand to the default list -> the person's id.

    Through the newsletter's own service (subscribing.add_manual), so the subscription, its
    consent record and the outbox row are what the owner's form would have made.
    """

    def factory(
        email: str = "lisa@example.se", name: str = "Lisa", *, method: str = "verbal"
    ) -> int:
        with db() as s:
            sub = subscribing.add_manual(
                s,
                email=email,
                name=name,
                list_id=mailing_lists.default_list(s).id,
                method=method,
                note="",
                actor=Actor.cli(),
            )
            s.commit()
            return sub.person_id

    return factory


@pytest.fixture
def make_testimonial(db: Callable[[], Any], make_person: Callable[..., int]) -> Callable[..., int]:
    """Return a factory for testimonials (a draft, through the service) -> the testimonial's id.

    Without ``person_id`` a new person is made for it.
    """

    def factory(
        text: str = "Det hjälpte mig verkligen.",
        mode: str = "first_name",
        *,
        person_id: int | None = None,
    ) -> int:
        pid = person_id if person_id is not None else make_person()
        with db() as s:
            t = testimonials.create(s, s.get(Person, pid), text, mode, Actor.cli())
            s.commit()
            return t.id

    return factory
