"""The controller's name from Inställningar is the one every public page and mail uses.

Issue 16 defect 1: the sign-up said "nyhetsbrev från Praktiken", mails were signed "Praktiken"
and came from "CRM <no-reply@localhost>" although the owner had named the practice.
``CRM_PRACTICE_NAME`` ("Praktiken" in the tests) only stands in until a name is saved.
"""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import render_template

from crm.controllers import Controller

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
NAME = "Kbt-verkstan i Umeå"
DEFAULT = "Praktiken"


def _name_the_practice(db) -> int:
    with db() as s:
        from crm import controllers

        cid = controllers.first_id(s.connection())
        s.get(Controller, cid).name = NAME
        s.commit()
        return cid


def mail_templates() -> list[str]:
    return sorted(
        str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.txt") if "mail" in p.parts
    )


def test_the_walk_finds_every_feature_s_mails() -> None:
    found = {name.split("/")[0] for name in mail_templates()}
    assert {"newsletter", "privacy", "testimonials"} <= found


@pytest.mark.parametrize("template", mail_templates())
def test_every_mail_is_signed_with_the_configured_name(app, db, template):
    cid = _name_the_practice(db)
    now = datetime(2026, 12, 2, 10, tzinfo=UTC)
    person = SimpleNamespace(id=1, name="Karin Klient", email="karin@example.se", controller_id=cid)
    request = SimpleNamespace(
        controller_id=cid,
        received_at=now,
        due_at=now,
        extension_reason="Många handlingar",
        outcome="Klart",
    )
    context = {
        "person": person,
        "name": person.name,
        "t": SimpleNamespace(person=person),
        "request": request,
        "url": "https://crm.example/x",
        "status_url": "https://crm.example/s",
        "unsubscribe_url": "https://crm.example/u",
        "preferences_url": "https://crm.example/p",
        "days": 7,
        "hours": 72,
        "note": "Uppgifterna är rättade.",
        "receipt": "Raderat.",
        "channels": ["website"],
        "lists": [],
        "version": SimpleNamespace(controller_id=cid, number=2, published_at=now),
        "added": SimpleNamespace(purposes=["Kurser"], recipients=[]),
    }
    with app.test_request_context():
        text = render_template(template, **context)
    assert NAME in text.strip().splitlines()[-1]  # signed by the controller
    assert DEFAULT not in text


def test_a_mail_comes_from_the_controller_by_name(app, client, db, inbox):
    _name_the_practice(db)
    page = client.get("/subscribe").get_data(as_text=True)
    assert f"nyhetsbrev från {NAME}" in page and DEFAULT not in page
    text_id = re.search(r'name="consent_text_id" value="(\d+)"', page).group(1)
    client.post(
        "/subscribe",
        data={
            "email": "lisa@example.se",
            "name": "Lisa",
            "consent": "1",
            "consent_text_id": text_id,
        },
    )
    mail = inbox.last("lisa@example.se")
    assert mail["From"].addresses[0].display_name == NAME
    assert mail["From"].addresses[0].addr_spec == "info@praktiken.example"  # MAIL_FROM's
    assert NAME in mail.get_content() and DEFAULT not in mail.get_content()


def test_naming_the_practice_later_gives_the_sign_up_a_new_consent_version(app, client, db):
    """The default text written before the name was saved names "Praktiken": superseded."""
    first = client.get("/subscribe").get_data(as_text=True)
    assert f"nyhetsbrev från {DEFAULT}" in first
    _name_the_practice(db)
    page = client.get("/subscribe").get_data(as_text=True)
    assert f"nyhetsbrev från {NAME}" in page
    with db() as s:
        from crm.newsletter.models import ConsentText

        versions = [r.version for r in s.query(ConsentText).order_by(ConsentText.version)]
    assert versions == [1, 2]  # consents given to version 1 keep the text they saw


def test_an_edited_consent_text_is_never_replaced(app, auth_client, client, db):
    with app.app_context():
        from crm.audit import Actor
        from crm.db import get_session
        from crm.newsletter import mailing_lists as services

        s = get_session()
        services.update_consent_text(
            s, "Ja, skicka mig brev om kurser från oss, tills jag säger stopp.", Actor.cli()
        )
        s.commit()
    _name_the_practice(db)
    page = client.get("/subscribe").get_data(as_text=True)
    assert "brev om kurser" in page


@pytest.mark.parametrize("path", ["/subscribe", "/integritetspolicy", "/integritet"])
def test_public_pages_name_the_practice(app, client, db, path):
    _name_the_practice(db)
    html = client.get(path).get_data(as_text=True)
    assert NAME in html and DEFAULT not in html
    assert "<title>" in html and f"· {NAME}</title>" in html
