"""Swedish by default, English selectable; the catalogue is complete and compiled."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from tests.helpers import login
from tests.helpers import post_form

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "crm/translations/sv/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")


def test_every_string_in_the_code_is_in_the_catalogue(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "N_",
            "-o",
            str(pot),
            "crm",
            "templates",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    extracted = {m.id for m in read_po(pot.open("rb")) if m.id}
    catalogue = read_po(PO.open("rb"))
    known = {m.id for m in catalogue if m.id}
    assert extracted - known == set(), "run `make translations` and translate the new strings"
    untranslated = [
        m.id
        for m in catalogue
        if m.id and not all(m.string if isinstance(m.string, tuple) else [m.string])
    ]
    assert untranslated == []


def test_compiled_catalogue_is_up_to_date():
    compiled = io.BytesIO()
    write_mo(compiled, read_po(PO.open("rb")))
    compiled.seek(0)
    fresh = {_key(m.id): _key(m.string) for m in read_mo(compiled) if m.id}
    shipped = {_key(m.id): _key(m.string) for m in read_mo(MO.open("rb")) if m.id}
    assert fresh == shipped, "run `make translations` (pybabel compile)"


def _key(value):
    return tuple(value) if isinstance(value, list | tuple) else value


def test_swedish_by_default(app, client):
    body = client.get("/auth/login").get_data(as_text=True)
    assert '<html lang="sv">' in body and "Logga in" in body


def test_visitor_can_switch_to_english(app, client):
    response = post_form(client, "/lang", {"lang": "en", "next": "/auth/login"}, page="/auth/login")
    assert response.headers["Location"] == "/auth/login"
    assert "Log in" in client.get("/auth/login").get_data(as_text=True)


def test_user_language_is_saved_on_the_account(app, client, owner):
    login(client, app, owner)
    assert "Personer" in client.get("/").get_data(as_text=True)
    post_form(client, "/auth/account", {"lang-locale": "en"})
    assert ">People<" in client.get("/").get_data(as_text=True)


def test_service_errors_are_translated(app, client, owner):
    login(client, app, owner)
    body = post_form(client, "/people/new", {"name": "X", "personnummer": "811228-9875"})
    assert "Kontrollsiffran stämmer inte" in body.get_data(as_text=True)
