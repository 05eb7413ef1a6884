"""Swedish as a Swede writes it (issue 16, "Swedish phrasing").

Translation-ese is caught in the catalogue itself; the rest where it shows: buttons name their
action, greetings use the first name, formats are written ÅÅMMDD-NNNN, periods "tio år".
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import render_template
from flask_babel import force_locale

from crm.i18n import period
from crm.people.models import Person

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "crm/translations/sv/LC_MESSAGES/messages.po"
#: phrases that read as translated, with what a Swede writes instead
TRANSLATIONESE = {
    "glömd": "raderad",
    "Hoppades över": "inte tillagd",
    "anmälde skräppost": "markerade som skräppost",
    "YYMMDD": "ÅÅMMDD",
    "YYYY": "ÅÅÅÅ",
    "120 månader": "tio år",
}
BUTTON = re.compile(r'<button[^>]*>\s*\{\{ _\("([^"]+)"\) \}\}\s*</button>')
#: a button that says only this does not say what it does
VAGUE_BUTTONS = {
    "Save",
    "Change",
    "Link",
    "Register",
    "Document",
    "Told",
    "Upload",
    "Add",
    "Extend",
    "Refuse",
    "Submit",
    "OK",
    "Send",
}


def _strings() -> list[tuple[str, str]]:
    with PO.open("rb") as fh:
        catalogue = read_po(fh)
    pairs = []
    for message in catalogue:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strs = message.string if isinstance(message.string, tuple) else (message.string,)
        pairs += [(ids[0], s) for s in strs]
    return pairs


@pytest.mark.parametrize("phrase", sorted(TRANSLATIONESE))
def test_no_translation_ese_in_the_catalogue(phrase: str) -> None:
    found = [msgid for msgid, text in _strings() if phrase in text]
    assert found == [], f"write {TRANSLATIONESE[phrase]!r}: {found}"


def test_buttons_name_their_action() -> None:
    vague = [
        f"{path.relative_to(ROOT)}: {label}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for label in re.findall(
            r'<button[^>]*>\s*\{\{ _\("([^"]+)"\) \}\}\s*</button>', path.read_text()
        )
        if label in VAGUE_BUTTONS
    ]
    assert vague == []


def test_periods_in_years_are_written_out(app) -> None:
    with app.test_request_context():
        with force_locale("sv"):
            assert period(120) == "tio år" and period(84) == "sju år" and period(12) == "ett år"
            assert period(18) == "18 månader" and period(1) == "1 månad"
        with force_locale("en"):
            assert period(120) == "ten years" and period(18) == "18 months"


def test_the_policy_says_ten_years(app, client, db) -> None:
    with db() as s:
        from crm import controllers

        first = s.get(controllers.Controller, controllers.first_id(s.connection()))
        first.profile, first.address = "A", "Storgatan 1"  # filled in: the policy is published
        s.commit()
    policy = client.get("/integritetspolicy").get_data(as_text=True)
    assert "tio år efter den senaste journalanteckningen" in policy and "120 månader" not in policy


def test_greetings_use_the_first_name(app) -> None:
    person = Person(name="Karin Maria Klient", email="karin@example.se")
    with app.test_request_context():
        text = render_template(
            "newsletter/mail/welcome.txt", person=person, unsubscribe_url="u", preferences_url="p"
        )
        nameless = render_template(
            "privacy/mail/export_link.txt", person=Person(name="", email="a@b.se"), url="u", hours=1
        )
    assert text.splitlines()[0] == "Hej Karin!"
    assert nameless.splitlines()[0] == "Hej!"


def test_the_personnummer_field_shows_the_swedish_format(app, auth_client) -> None:
    html = auth_client.get("/people/new").get_data(as_text=True)
    assert 'placeholder="ÅÅMMDD-NNNN"' in html
