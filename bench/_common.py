"""Shared helpers for the benchmarks: a throw-away migrated database and app."""

from __future__ import annotations

import base64
import os
import re
import tempfile
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy import text

from crm import create_app
from crm.audit import Actor
from crm.auth import services as auth
from crm.auth.models import Role
from crm.cli import upgrade_database
from crm.db import get_session

KEY = base64.urlsafe_b64encode(b"b" * 32).decode()
SECRET = "bench-secret-key-that-is-long-enough-to-pass-checks"
OWNER_EMAIL = "bench@example.se"
PASSWORD = "ett långt lösenord för mätningar"


def bench_env(tmp: Path) -> dict[str, str]:
    """Environment for a benchmark app (also for gunicorn subprocesses)."""
    url = os.environ.get("CRM_BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'bench.sqlite3'}"
    return {
        "CRM_DATABASE_URL": url,
        "CRM_SECRET_KEY": SECRET,
        "CRM_ENCRYPTION_KEY": KEY,
        "CRM_INSTANCE_PATH": str(tmp / "instance"),
        "CRM_BASE_URL": "http://127.0.0.1",
    }


def bench_app(tmp: Path):
    """Create the app on a freshly migrated database."""
    env = bench_env(tmp)
    os.environ.update(env)
    if env["CRM_DATABASE_URL"].startswith("postgresql"):
        # a PostgreSQL bench database is reused between runs: start from an empty schema
        engine = create_engine(env["CRM_DATABASE_URL"])
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade_database(env["CRM_DATABASE_URL"])
    return create_app({"BASE_URL": "http://127.0.0.1"})


def tmpdir() -> Path:
    """A temporary directory that lives as long as the process."""
    return Path(tempfile.mkdtemp(prefix="crm-bench-"))


def create_owner(app) -> None:
    """Add the owner account the benchmarks log in as."""
    with app.app_context():
        db = get_session()
        auth.create_user(
            db,
            email=OWNER_EMAIL,
            name="B",
            password=PASSWORD,
            role=Role.OWNER,
            actor=Actor.cli(),
        )
        db.commit()


def login(client) -> None:
    """Log the test client in through the real form (the app must have REQUIRE_MFA off)."""
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post(
        "/auth/login", data={"csrf_token": token, "email": OWNER_EMAIL, "password": PASSWORD}
    )
