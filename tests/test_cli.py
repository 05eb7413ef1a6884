"""The real ``crm`` command and gunicorn, run from a fresh shell environment."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import PASSWORD
from tests.conftest import TEST_KEY
from tests.conftest import TEST_SECRET

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env["CRM_INSTANCE_PATH"] = str(tmp_path / "instance")
    env["CRM_ARGON2_MEMORY_COST"] = "1024"
    env["CRM_ARGON2_TIME_COST"] = "1"
    env.update(extra)
    return env


def _crm(env: dict[str, str], *args: str, stdin: str | None = None):
    return subprocess.run(
        [str(BIN / "crm"), *args],
        env=env,
        input=stdin,
        text=True,
        capture_output=True,
        timeout=60,
        cwd=ROOT,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, seconds: float = 30) -> requests.Response:
    """GET ``url`` as soon as the server answers; fail early if the server process exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return requests.get(url, timeout=10)
        # a worker that has bound the port but is still importing the app answers late: on a
        # loaded two-core machine that took over 2 s, which is a wait, not a failure
        except (requests.ConnectionError, requests.Timeout):
            try:  # wait for the server to come up, or to die
                proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue
            output = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"server exited: {output}") from None
    raise AssertionError(f"{url} did not answer")


def test_production_refuses_to_start_without_secrets(tmp_path):
    result = _crm(_env(tmp_path), "init")
    assert result.returncode != 0
    assert "CRM_SECRET_KEY" in result.stderr and "CRM_ENCRYPTION_KEY" in result.stderr
    assert "secrets.token_urlsafe" in result.stderr  # says how to generate them


def test_production_refuses_plain_http_on_a_public_address(tmp_path):
    env = _env(tmp_path, CRM_SECRET_KEY=TEST_SECRET, CRM_ENCRYPTION_KEY=TEST_KEY)
    public = _crm({**env, "CRM_BASE_URL": "http://crm.example.se"}, "init")
    assert public.returncode != 0 and "https://" in public.stderr and "Caddy" in public.stderr
    # loopback (trying it out on the machine itself) and HTTPS are fine
    assert _crm({**env, "CRM_BASE_URL": "http://127.0.0.1:8000"}, "init").returncode == 0
    assert _crm({**env, "CRM_BASE_URL": "https://crm.example.se"}, "init").returncode == 0


def test_init_and_create_user_from_stdin(tmp_path):
    env = _env(tmp_path, CRM_SECRET_KEY=TEST_SECRET, CRM_ENCRYPTION_KEY=TEST_KEY)
    assert _crm(env, "init").returncode == 0
    weak = _crm(env, "create-user", "ägare@example.se", stdin="password1234\n")
    assert weak.returncode == 1 and "too common" in weak.stderr
    ok = _crm(env, "create-user", "Owner@Example.se", "--name", "Anna", stdin=PASSWORD + "\n")
    assert ok.returncode == 0, ok.stderr
    assert "owner@example.se" in ok.stdout
    again = _crm(env, "create-user", "owner@example.se", stdin=PASSWORD + "\n")
    assert again.returncode == 1 and "already exists" in again.stderr


def _start_run(env: dict[str, str], port: int) -> tuple[subprocess.Popen, str]:
    """Start `crm run` and return it with its output up to the "Serving on" line."""
    proc = subprocess.Popen(
        [str(BIN / "crm"), "run", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Serving on" in line:
            break
    return proc, "".join(lines)


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=10)


def test_crm_run_on_a_fresh_machine(tmp_path):
    """What `make run` does: generate dev secrets, migrate, print the owner link, serve."""
    if os.environ.get("CRM_TEST_DATABASE_URL"):
        pytest.skip("exercises the embedded SQLite database")
    port = _free_port()
    env = _env(tmp_path, CRM_ENV="development")
    proc, output = _start_run(env, port)
    try:
        assert "Generated development secrets" in output
        link = re.search(r"(http://127\.0\.0\.1:\d+/auth/setup/\S+)", output).group(1)
        page = _wait_for(link, proc)
        assert page.status_code == 200 and "csrf_token" in page.text
        config = tmp_path / "instance" / "config.py"
        assert oct(config.stat().st_mode)[-3:] == "600"
        assert (tmp_path / "instance" / "crm.sqlite3").exists()
    finally:
        _stop(proc)
    # a second start keeps the stored secrets (a new key would orphan encrypted data)
    before = config.read_text()
    again, output = _start_run(env, port)
    _stop(again)
    assert "Generated development secrets" not in output
    assert config.read_text() == before


def test_gunicorn_serves_wsgi_app(tmp_path):
    env = _env(tmp_path, CRM_SECRET_KEY=TEST_SECRET, CRM_ENCRYPTION_KEY=TEST_KEY)
    if os.environ.get("CRM_TEST_DATABASE_URL"):
        env["CRM_DATABASE_URL"] = os.environ["CRM_TEST_DATABASE_URL"]
    assert _crm(env, "init").returncode == 0
    port = _free_port()
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        response = _wait_for(f"http://127.0.0.1:{port}/auth/login", proc)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
