"""Feature switches are enforced at every door (issue 15 part 1, crm/features.py).

A practice that switched the newsletter, testimonials or the journal off has a policy that does
not mention it; these tests walk every route of each feature (the app's url_map, like
tests/test_roles.py) with the switches off and check the class: a closed route answers a clear
404 and stores nothing; the links that let a person leave or be forgotten still work.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from flask import url_for
from playwright.sync_api import sync_playwright
from sqlalchemy import func
from sqlalchemy import select

from crm import features
from crm.audit import Actor
from crm.db import Base
from crm.db import get_session
from crm.newsletter import mailing_lists
from crm.newsletter import subscribing
from crm.newsletter.models import Status
from crm.newsletter.models import Subscription
from crm.people.models import JournalEntry
from crm.people.models import Person
from crm.privacy import practice
from crm.security import tokens
from crm.security.roles import Role
from crm.testimonials.models import Testimonial
from tests.helpers import csrf_token
from tests.helpers import login
from tests.test_browser import CHROMIUM_ARGS
from tests.test_browser import live_server  # noqa: F401 - a fixture
from tests.test_browser import log_in
from tests.test_page_quality import CHROMIUM
from tests.test_page_quality import FAILING_IMPACTS
from tests.test_page_quality import VNU_JAR
from tests.test_page_quality import _vnu_errors
from tests.test_roles import _fill

#: What works while its feature is off: leaving, revoking, seeing and removing what is held.
ALWAYS_OPEN = {
    "newsletter": {
        "public.unsubscribe",  # RFC 8058
        "public.preferences_link",
        "public.preferences",  # leaving lists and "forget me" (privacy_public.forget)
        "public.preferences_data",
        "newsletter.index",
        "newsletter.subscriber",
        "newsletter.unsubscribe",
        "newsletter.export",
    },
    "testimonials": {
        "testimonials_public.revoke",
        "testimonials.index",
        "testimonials.detail",
        "testimonials.media",
        "testimonials.delete_media",
        "testimonials.revoke",
        "testimonials.tick_removed",
    },
    "journal": set(),
}
#: What a switched-off feature closes: everything that takes something in or publishes.
CLOSED = {
    "newsletter": {
        "public.subscribe",
        "public.confirm",
        "newsletter.add",
        "newsletter.settings",
        "newsletter.import_csv",
        "newsletter.import_confirm",
    },
    "testimonials": {
        "testimonials_public.consent",
        "testimonials_public.consent_media",
        "testimonials_public.embed",
        "testimonials_public.embed_json",
        "testimonials_public.embed_media",
        "testimonials.create",
        "testimonials.edit",
        "testimonials.upload",
        "testimonials.request_consent",
        "testimonials.add_publication",
    },
    "journal": {"people.add_journal"},
}
#: A form that would create something on any of the closed routes, were they open.
EVERYTHING = {
    "email": "ny.person@example.se",
    "name": "Ny Person",
    "consent": "1",
    "text": "Nytt omdöme eller ny journalanteckning",
    "person": "1",
    "channel": "social",
    "note": "Sa ja i telefon",
    "method": "verbal",
    "list_id": "1",
    "channels": "social",
    "parts": "text",
}


def _switch(app: Flask, **on: bool) -> None:
    with app.app_context():
        s = get_session()
        row = practice.load(s)
        stored = json.loads(row.features or "{}")
        row.features = json.dumps({**stored, **on})
        s.commit()


def _counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        s = get_session()
        return {
            name: s.scalar(select(func.count()).select_from(table)) or 0
            for name, table in Base.metadata.tables.items()
        }


def _tokens(app: Flask, person_id: int) -> dict[str, str]:
    """A real signed token for each token route: closed means closed, not "bad link"."""
    with app.app_context():
        s = get_session()
        person = s.get(Person, person_id)
        t = s.scalars(select(Testimonial).where(Testimonial.person_id == person_id)).first()
        lists = [mailing_lists.default_list(s)]
        confirm = tokens.sign(tokens.Purpose.CONFIRM, subscribing.confirm_payload(person, lists))
        unsubscribe = tokens.sign(tokens.Purpose.UNSUBSCRIBE, person.public_id)
        preferences = tokens.sign(tokens.Purpose.PREFERENCES, person.public_id)
        consent = tokens.sign(tokens.Purpose.TESTIMONIAL_CONSENT, {"t": t.public_id, "h": "x"})
        revoke = tokens.sign(tokens.Purpose.TESTIMONIAL_REVOKE, t.public_id)
    return {
        "public.confirm": confirm,
        "public.unsubscribe": unsubscribe,
        "public.preferences_link": unsubscribe,
        "public.preferences": preferences,
        "public.preferences_data": preferences,
        "privacy_public.forget": preferences,
        "testimonials_public.consent": consent,
        "testimonials_public.consent_media": consent,
        "testimonials_public.revoke": revoke,
    }


def _url(app: Flask, rule: Any, ids: dict[str, Any], signed: dict[str, str]) -> str:
    values = {arg: ids.get(arg, 1) for arg in rule.arguments}
    if "token" in rule.arguments:
        values["token"] = signed.get(rule.endpoint, "no-token")
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def _routes(app: Flask) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {key: set() for key in features.KEYS}
    for rule in app.url_map.iter_rules():
        feature = features.guarded_by(app, rule.endpoint)
        if feature is not None:
            found[feature].add(rule.endpoint)
    return found


def test_every_route_of_each_feature_is_classified(app):
    """A route added to a feature is closed by default; opening it is a decision made here."""
    found = _routes(app)
    for key in features.KEYS:
        assert found[key] == ALWAYS_OPEN[key] | CLOSED[key], key
        closed = {e for e in found[key] if features.feature_of(app, e) is not None}
        assert closed == CLOSED[key], key
    # the feature's blueprints are guarded as a whole, so nothing of them is left out
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rpartition(".")[0]
        if blueprint in {"public", "newsletter", "testimonials", "testimonials_public"}:
            assert features.guarded_by(app, rule.endpoint) is not None, rule.endpoint


@pytest.mark.parametrize("feature", sorted(features.KEYS))
def test_a_switched_off_feature_takes_nothing_in_at_any_door(app, db, make_user, feature):
    owner = make_user()
    ids = _fill(app, {Role.PRACTITIONER: owner})
    signed = _tokens(app, ids["person_id"])
    staff, visitor = app.test_client(), app.test_client()
    login(staff, app, owner)
    token = csrf_token(staff.get("/auth/account").get_data(as_text=True))
    # the visitor's own CSRF token (the portal's form): a refusal is then the switch's own
    visitor_token = csrf_token(visitor.get("/integritet").get_data(as_text=True))
    _switch(app, **{feature: False})
    before = _counts(app)
    rules = [r for r in app.url_map.iter_rules() if r.endpoint in CLOSED[feature]]
    assert {r.endpoint for r in rules} == CLOSED[feature]
    for rule in rules:
        view = app.view_functions[rule.endpoint]
        is_public = getattr(view, "is_public", False)
        browser = visitor if is_public else staff
        url = _url(app, rule, ids, signed)
        for method in sorted({"GET", "POST"} & rule.methods):
            mine = visitor_token if is_public else token
            data = {**EVERYTHING, "csrf_token": mine} if method == "POST" else None
            response = browser.open(url, method=method, data=data)
            where = (method, rule.rule)
            assert response.status_code == 404, where
            page = response.get_data(as_text=True)
            if response.mimetype == "application/json":
                assert response.get_json()["error"], where
            elif is_public:
                assert "<h1>Erbjuds inte</h1>" in page, where
            else:
                heading = {
                    "newsletter": "Nyhetsbrevet är avstängt.",
                    "testimonials": "Omdömen är avstängda.",
                    "journal": "Journalanteckningar är avstängda.",
                }[feature]
                assert f"<h1>{heading}</h1>" in page, where
                assert 'href="/privacy/settings"' in page, where
            if method == "POST":
                assert "Inget av det du skickade har sparats." in page or response.is_json
    # the sign-up from the practice's website, as JSON: a JSON answer the script can read
    if feature == "newsletter":
        response = visitor.post("/subscribe", json={"email": "x@example.se", "consent": True})
        assert response.status_code == 404
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "nyhetsbrev" in response.get_json()["error"]
    assert _counts(app) == before, "a closed door stored something"
    # switched on again, the doors open again
    _switch(app, **{feature: True})
    for rule in rules:
        if "GET" in rule.methods and not rule.arguments:
            browser = (
                visitor if getattr(app.view_functions[rule.endpoint], "is_public", 0) else staff
            )
            assert browser.get(_url(app, rule, ids, signed)).status_code == 200, rule.rule


def test_the_links_to_leave_and_be_forgotten_work_while_switched_off(app, db, make_user):
    owner = make_user()
    ids = _fill(app, {Role.PRACTITIONER: owner})
    signed = _tokens(app, ids["person_id"])
    _switch(app, newsletter=False, testimonials=False, journal=False)
    staff, visitor = app.test_client(), app.test_client()
    login(staff, app, owner)
    # every always-open page answers (GET), and an owner page says the feature is off
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in set().union(*ALWAYS_OPEN.values()) or "GET" not in rule.methods:
            continue
        is_public = getattr(app.view_functions[rule.endpoint], "is_public", False)
        response = (visitor if is_public else staff).get(_url(app, rule, ids, signed))
        assert response.status_code == 200, rule.rule
        if not is_public and response.mimetype == "text/html":
            page = response.get_data(as_text=True)
            assert "Det som redan finns sparat" in page and 'href="/privacy/settings"' in page, (
                rule.rule
            )
    # the testimonial's consent is revoked by its link
    assert visitor.post(f"/t/revoke/{signed['testimonials_public.revoke']}").status_code == 200
    # RFC 8058 one-click unsubscribe
    one_click = visitor.post(
        f"/u/{signed['public.unsubscribe']}", data={"List-Unsubscribe": "One-Click"}
    )
    assert one_click.status_code == 200
    with db() as s:
        t = s.scalars(select(Testimonial).where(Testimonial.person_id == ids["person_id"])).one()
        assert t.status == "revoked"
        statuses = s.scalars(
            select(Subscription.status).where(Subscription.person_id == ids["person_id"])
        ).all()
        assert statuses and all(st == Status.UNSUBSCRIBED for st in statuses)
    # "forget me", from the preferences page
    prefs = f"/preferences/{signed['public.preferences']}"
    page = visitor.get(prefs).get_data(as_text=True)
    assert "Nyhetsbrevet skickas inte längre." in page
    forgotten = visitor.post(
        f"{prefs}/forget", data={"csrf_token": csrf_token(page), "sure": "yes"}
    )
    assert forgotten.status_code == 200


def test_the_preferences_page_lets_a_person_leave_but_not_join_while_off(app, db, make_subscriber):
    pid = make_subscriber("kvar@example.se")
    with app.app_context():
        s = get_session()
        extra = mailing_lists.create_list(s, "Kurser", Actor.cli())
        s.commit()
        extra_id = extra.id
        person = s.get(Person, pid)
        token = tokens.sign(tokens.Purpose.PREFERENCES, person.public_id)
    _switch(app, newsletter=False)
    visitor = app.test_client()
    page = visitor.get(f"/preferences/{token}").get_data(as_text=True)
    assert "Kurser" not in page  # only the lists one is on can be unticked
    response = visitor.post(
        f"/preferences/{token}",
        data={"csrf_token": csrf_token(page), "lists": [str(extra_id)]},
    )
    assert response.status_code == 200
    with db() as s:
        rows = {
            r.list_id: r.status
            for r in s.scalars(select(Subscription).where(Subscription.person_id == pid))
        }
    assert extra_id not in rows  # no double opt-in started for the new list
    assert all(status == Status.UNSUBSCRIBED for status in rows.values())  # the old one left


def test_the_import_command_refuses_while_the_newsletter_is_off(app, tmp_path, db):
    path = tmp_path / "lista.csv"
    path.write_text("email,name\nny@example.se,Ny\n", encoding="utf-8")
    _switch(app, newsletter=False)
    before = _counts(app)
    result = app.test_cli_runner().invoke(args=["import-subscribers", str(path)])
    assert result.exit_code != 0
    assert "switched off" in result.output
    assert _counts(app) == before


def test_the_person_page_offers_no_journal_entry_while_off(app, db, make_user):
    owner = make_user()
    ids = _fill(app, {Role.PRACTITIONER: owner})
    staff = app.test_client()
    login(staff, app, owner)
    with app.app_context():
        s = get_session()
        row = practice.load(s)
        row.first_controller().profile, row.first_controller().profession = "A", "psykolog"
        s.commit()
    page = staff.get(f"/people/{ids['person_id']}").get_data(as_text=True)
    assert 'name="text" required' in page and "journal-text" in page
    _switch(app, journal=False)
    page = staff.get(f"/people/{ids['person_id']}").get_data(as_text=True)
    assert 'id="journal"' in page  # the entries kept are still shown
    assert "journal-text" not in page
    assert "Journalanteckningar är avstängda i inställningarna" in page
    with db() as s:
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == 1


# --- the pages a switched-off feature shows, checked like every other page ----------------------


def _off_pages(app: Flask, db: Any, owner: Any) -> tuple[list[str], list[str]]:
    ids = _fill(app, {Role.PRACTITIONER: owner})
    signed = _tokens(app, ids["person_id"])
    _switch(app, newsletter=False, testimonials=False)
    owner_pages = ["/newsletter/add", "/newsletter/", f"/testimonials/{ids['testimonial_id']}"]
    public_pages = [
        "/subscribe",
        "/embed/testimonials",
        f"/preferences/{signed['public.preferences']}",
    ]
    return owner_pages, public_pages


@pytest.mark.skipif(
    not (VNU_JAR.exists() and shutil.which("java")),
    reason="the Nu HTML checker needs Java and vnu.jar (`make test` installs it)",
)
def test_the_switched_off_pages_pass_the_nu_html_checker(app, db, make_user, tmp_path):
    owner = make_user()
    owner_pages, public_pages = _off_pages(app, db, owner)
    staff = app.test_client()
    login(staff, app, owner)
    pages = {}
    for browser, urls in ((staff, owner_pages), (app.test_client(), public_pages)):
        for url in urls:
            response = browser.get(url)
            assert response.mimetype == "text/html", url
            pages[url] = response.get_data(as_text=True)
    assert _vnu_errors(pages, tmp_path) == []


@pytest.mark.skipif(not CHROMIUM.exists(), reason="axe needs Debian's Chromium")
def test_the_switched_off_pages_pass_axe_and_fit_a_phone(app, db, owner, live_server):  # noqa: F811
    owner_pages, public_pages = _off_pages(app, db, owner)
    failures: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for who, urls in (("public", public_pages), ("owner", owner_pages)):
            page = browser.new_context(locale="sv-SE").new_page()
            if who == "owner":
                log_in(page, live_server, app, owner)
                page.wait_for_url(f"{live_server}/")
            for url in urls:
                page.set_viewport_size({"width": 390, "height": 844})
                page.goto(live_server + url)
                if page.evaluate("document.documentElement.scrollWidth") > 390:
                    failures.append(f"{url}: wider than a 390 px screen")
                for violation in Axe().run(page).response["violations"]:
                    if violation["impact"] in FAILING_IMPACTS:
                        failures.append(f"{url}: {violation['id']} ({violation['impact']})")
        browser.close()
    assert failures == []
