"""Outgoing links follow the address actually served (issue 16, defect 5)."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from click.testing import CliRunner
from flask.cli import ScriptInfo

from crm import cli
from crm import create_app
from crm.web import absolute_url
from tests.conftest import app_config

ROOT = Path(__file__).resolve().parent.parent


def test_make_run_takes_a_port():
    dry = subprocess.run(
        ["make", "-n", "run", "PORT=5055"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "--port 5055" in dry.stdout


def test_development_run_derives_the_base_url_from_the_port(database_url, monkeypatch):
    served = {}
    monkeypatch.delenv("CRM_BASE_URL", raising=False)
    monkeypatch.setattr(cli, "run_simple", lambda host, port, app, **kw: served.update(app=app))
    app = create_app(app_config(database_url, ENV="development", BASE_URL="http://127.0.0.1:5000"))
    result = CliRunner().invoke(
        cli.run_command, ["--port", "5055"], obj=ScriptInfo(create_app=lambda: app)
    )
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:5055/auth/setup/" in result.output
    assert app.config["BASE_URL"] == "http://127.0.0.1:5055"
    with app.app_context():
        assert absolute_url("public.subscribe") == "http://127.0.0.1:5055/subscribe"
    app.extensions["crm.db"]["engine"].dispose()


def test_an_explicit_base_url_wins_in_development(database_url, monkeypatch):
    monkeypatch.setenv("CRM_BASE_URL", "http://crm.lan:8000")
    monkeypatch.setattr(cli, "run_simple", lambda *a, **kw: None)
    app = create_app(app_config(database_url, ENV="development", BASE_URL="http://crm.lan:8000"))
    result = CliRunner().invoke(
        cli.run_command, ["--port", "5055"], obj=ScriptInfo(create_app=lambda: app)
    )
    assert result.exit_code == 0, result.output
    assert app.config["BASE_URL"] == "http://crm.lan:8000"
    app.extensions["crm.db"]["engine"].dispose()


def test_production_refuses_a_host_other_than_the_base_url(database_url, caplog):
    app = create_app(app_config(database_url, BASE_URL="https://crm.example.se"))
    client = app.test_client()
    assert client.get("/auth/login", base_url="https://crm.example.se").status_code == 200
    with caplog.at_level(logging.WARNING):
        refused = client.get("/auth/login", base_url="https://evil.example")
    assert refused.status_code == 400
    assert "evil.example" in caplog.text and "CRM_BASE_URL names crm.example.se" in caplog.text
    app.extensions["crm.db"]["engine"].dispose()
