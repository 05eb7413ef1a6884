"""Every page, empty and filled, owner and public, through axe-core and the Nu HTML Checker.

axe-core runs in Debian's Chromium (Playwright) on the page as a visitor gets it, CSP included,
and fails the suite on any critical or serious violation. The Nu checker (vnu.jar from npm's
`vnu-jar`, run on a Java runtime) reads the HTML exactly as the server sent it and fails on any
error. `make test` installs vnu.jar under .venv/ when npm is there; `.ci/run` installs Java, npm
and Chromium. Both are skipped, saying what is missing, on a machine without them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import sync_playwright

from crm.db import get_session
from crm.people.models import Person
from crm.privacy.models import PortalRequest
from crm.security import tokens
from tests.helpers import post_form
from tests.test_browser import live_server  # noqa: F401 - a fixture
from tests.test_browser import log_in

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "pages"
CHROMIUM = Path("/usr/bin/chromium")
VNU_JAR = ROOT / ".venv" / "vnu" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
#: axe impacts that fail the suite (issue 16: "zero critical or serious violations").
FAILING_IMPACTS = {"critical", "serious"}


def _person(auth_client, name: str, email: str, personnummer: str = "") -> int:
    fields = {"name": name, "email": email, "phone": "070-123 45 67", "address": "Storgatan 1"}
    response = post_form(auth_client, "/people/new", {**fields, "personnummer": personnummer})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[-1])


def _filled_installation(app, auth_client, client, inbox) -> dict[str, str]:
    """A practice in use: a client, a subscriber, a testimonial, a request, a breach entry.

    Returns the signed public links a visitor would get by mail.
    """
    pid = _person(auth_client, "Karin Klient", "karin@example.se", "811228-9874")
    # a newsletter subscriber through the public sign-up and its double opt-in
    page = client.get("/subscribe").get_data(as_text=True)
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
    confirm = re.search(
        r"http://localhost(/confirm/\S+)", inbox.last("lisa@example.se").get_content()
    )
    post_form(client, confirm.group(1), {})
    welcome = inbox.last("lisa@example.se")
    unsubscribe = re.search(r"<http://localhost(/u/[^>]+)>", welcome["List-Unsubscribe"]).group(1)
    preferences = re.search(r"http://localhost(/preferences/\S+)", welcome.get_content())
    # a testimonial with a consent request
    response = post_form(
        auth_client,
        "/testimonials/new",
        {"person_id": pid, "text": "Det hjälpte mig verkligen.", "display_mode": "first_name"},
        page=f"/testimonials/new?person={pid}",
    )
    tid = response.headers["Location"].rsplit("/", 1)[-1]
    post_form(auth_client, f"/testimonials/{tid}/request-consent", {}, page=f"/testimonials/{tid}")
    consent = re.search(
        r"http://localhost(/t/consent/\S+)", inbox.last("karin@example.se").get_content()
    )
    # a data-subject request and a breach entry
    response = post_form(
        auth_client,
        "/privacy/requests",
        {"person_id": pid, "kind": "access", "channel": "email", "received_on": "2026-11-20"},
    )
    rid = response.headers["Location"].rsplit("/", 1)[-1]
    response = post_form(
        auth_client,
        "/privacy/breaches",
        {
            "discovered_on": "2026-11-28",
            "discovered_time": "09:30",
            "description": "Mobilen med klientmejl glömdes på tåget",
            "affected": "E-post från cirka 20 klienter",
            "consequences": "Andra kan läsa att de går i terapi",
            "measures": "Mobilen spärrad på distans",
            "risk": "risk",
        },
    )
    bid = response.headers["Location"].rsplit("/", 1)[-1]
    # a request filed through the privacy portal by a representative, confirmed and extended
    post_form(
        client,
        "/integritet",
        {
            "kind": "rectification",
            "email": "olle@example.se",
            "name": "Olle Ombud",
            "details": "Adressen är fel",
            "for": "other",
            "represented_name": "Karin Klient",
            "representative_role": "power_of_attorney",
        },
    )
    portal_mail = inbox.last("olle@example.se").get_content()
    portal_confirm = re.search(r"http://localhost(/integritet/bekrafta/\S+)", portal_mail).group(1)
    portal_status = re.search(r"http://localhost(/integritet/status/\S+)", portal_mail).group(1)
    portal_received = post_form(client, portal_confirm, {}).headers["Location"]
    with app.app_context():
        portal_rid = get_session().query(PortalRequest.request_id).scalar()
    # a published policy, then a free processing activity (issue 15 part 1) and a second,
    # material version (part 2): its edit page, the earlier version and the mail to tell
    post_form(auth_client, "/privacy/activities/publish", {}, page="/privacy/activities/")
    post_form(
        auth_client,
        "/privacy/activities/new",
        {
            "name": "Kundtjänst via sociala medier",
            "purpose": "Att svara på frågor som ställs via Instagram och Facebook.",
            "legal_basis": "legitimate_interest",
            "basis_detail": "att kunna svara den som frågar",
            "retention": "12 månader efter senaste kontakt",
        },
    )
    with app.app_context():
        from crm.privacy.models import ProcessingActivity

        activity = get_session().query(ProcessingActivity.id).filter_by(key="").scalar()
    post_form(auth_client, "/privacy/activities/publish", {}, page="/privacy/activities/")
    with app.app_context():
        from crm.privacy.models import PolicyVersion

        versions = [v.id for v in get_session().query(PolicyVersion).order_by(PolicyVersion.id)]
    post_form(
        auth_client,
        f"/privacy/requests/{portal_rid}/extend",
        {"ext-months": "1", "ext-reason": "Vi väntar på fullmakten"},
        page=f"/privacy/requests/{portal_rid}",
    )
    with app.app_context():
        db = get_session()
        public_id = db.get(Person, pid).public_id
        revoke = tokens.sign(tokens.Purpose.TESTIMONIAL_REVOKE, "unknown-testimonial")
        export = tokens.sign(tokens.Purpose.EXPORT, {"r": int(rid), "p": public_id})
    return {
        "person": str(pid),
        "testimonial": tid,
        "request": rid,
        "breach": bid,
        "unsubscribe": unsubscribe,
        "preferences": preferences.group(1) if preferences else "",
        "consent": consent.group(1),
        "revoke": f"/t/revoke/{revoke}",
        "export": f"/export/{export[:-4]}AAAA",  # a tampered download link: its error page
        "portal_request": str(portal_rid),
        "portal_confirm": portal_confirm,
        "portal_received": portal_received,
        "portal_status": portal_status,
        "activity": str(activity),
        "first_version": str(versions[0]),
        "material_version": str(versions[-1]),
    }


OWNER_PAGES = [
    "/",
    "/people/",
    "/people/new",
    "/people/purchases",
    "/newsletter/",
    "/newsletter/add",
    "/newsletter/import",
    "/newsletter/settings",
    "/testimonials/",
    "/privacy/requests",
    "/privacy/breaches",
    "/privacy/record",
    "/privacy/settings",
    "/privacy/activities/",
    "/privacy/activities/new",
    "/integrations/",
    "/audit",
    "/auth/account",
    "/auth/users",
]
PUBLIC_PAGES = [
    "/subscribe",
    "/integritetspolicy",
    "/integritet",
    "/integritet/skickat",
    "/embed/testimonials",
    "/no-such-page",
]


def _filled_pages(links: dict[str, str]) -> tuple[list[str], list[str]]:
    owner = OWNER_PAGES + [
        f"/people/{links['person']}",
        f"/people/{links['person']}/edit",
        f"/newsletter/people/{links['person']}",
        f"/testimonials/{links['testimonial']}",
        f"/testimonials/new?person={links['person']}",
        f"/privacy/requests/{links['request']}",
        f"/privacy/breaches/{links['breach']}",
        f"/privacy/requests/{links['portal_request']}",
        # the confirmation step of irreversible actions (crm/confirm.py)
        f"/people/{links['person']}/archive",
        f"/privacy/people/{links['person']}/restrict",
        f"/privacy/people/{links['person']}/object",
        f"/privacy/people/{links['person']}/objection",
        f"/people/{links['person']}/health-notes/erase",
        f"/people/{links['person']}/representatives",
        f"/privacy/activities/{links['activity']}/edit",
        f"/policy/{links['material_version']}/inform",
    ]
    public = PUBLIC_PAGES + [
        links["unsubscribe"],
        links["consent"],
        links["revoke"],
        links["export"],
        "/u/tampered-token",
        links["portal_confirm"],
        links["portal_received"],
        links["portal_status"],
        f"/integritetspolicy/version/{links['first_version']}",
    ]
    if links["preferences"]:
        public.append(links["preferences"])
    return owner, public


def _pages(app, auth_client, client, inbox, filled: bool) -> tuple[list[str], list[str]]:
    if not filled:
        return OWNER_PAGES, PUBLIC_PAGES
    return _filled_pages(_filled_installation(app, auth_client, client, inbox))


def _screenshot(page, who: str, url: str, filled: bool, width: int, failures: list[str]) -> None:
    """Save a full-page screenshot for a human, and record a page wider than the screen."""
    name = re.sub(r"[^a-z0-9]+", "-", url.split("?")[0].lower()).strip("-")[:60] or "root"
    folder = ARTIFACTS / ("filled" if filled else "empty")
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=folder / f"{who}-{name}-{width}.png", full_page=True)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width > width:
        failures.append(f"{url}: {scroll_width} px wide at a {width} px screen")
    rows = page.evaluate(
        "new Set([...document.querySelectorAll('.top nav a')].map(a => a.offsetTop)).size"
    )
    if rows > 1:
        failures.append(f"{url}: the menu wraps onto {rows} rows at a {width} px screen")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="axe needs Debian's Chromium (CI installs it)")
@pytest.mark.parametrize("filled", [False, True], ids=["empty", "filled"])
def test_every_page_passes_axe(app, auth_client, client, inbox, owner, live_server, filled):  # noqa: F811

    owner_pages, public_pages = _pages(app, auth_client, client, inbox, filled)
    axe = Axe()
    failures: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for who, urls in (("public", public_pages), ("owner", owner_pages)):
            context = browser.new_context(locale="sv-SE")
            page = context.new_page()
            if who == "owner":
                log_in(page, live_server, app, owner)
                page.wait_for_url(f"{live_server}/")
            for url in urls:
                page.set_viewport_size({"width": 1280, "height": 900})
                page.goto(live_server + url)
                _screenshot(page, who, url, filled, 1280, failures)
                page.set_viewport_size({"width": 390, "height": 844})
                _screenshot(page, who, url, filled, 390, failures)
                for violation in axe.run(page).response["violations"]:
                    if violation["impact"] in FAILING_IMPACTS:
                        targets = [n["target"] for n in violation["nodes"]][:3]
                        failures.append(
                            f"{url}: {violation['id']} ({violation['impact']}) {targets}"
                        )
            context.close()
        browser.close()
    assert failures == [], "\n".join(failures)


def _vnu_errors(pages: dict[str, str], workdir: Path) -> list[str]:
    """Check the given HTML documents with one run of the Nu checker; return its errors."""
    files = {}
    for i, (url, html) in enumerate(pages.items()):
        path = workdir / f"page{i}.html"
        path.write_text(html, encoding="utf-8")
        files[path.resolve().as_uri()] = url
    run = subprocess.run(
        [
            "java",
            "-jar",
            str(VNU_JAR),
            "--format",
            "json",
            "--exit-zero-always",
            *map(str, sorted(workdir.glob("*.html"))),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    messages = json.loads(run.stderr or run.stdout)["messages"]
    return [
        f"{files.get(unquote(m.get('url', '')), m.get('url'))}:{m.get('lastLine')}: {m['message']}"
        for m in messages
        if m["type"] == "error"
    ]


@pytest.mark.skipif(
    not (VNU_JAR.exists() and shutil.which("java")),
    reason="the Nu HTML checker needs Java and vnu.jar (`make test` installs it with npm; CI does)",
)
@pytest.mark.parametrize("filled", [False, True], ids=["empty", "filled"])
def test_every_page_passes_the_nu_html_checker(app, auth_client, client, inbox, tmp_path, filled):
    owner_pages, public_pages = _pages(app, auth_client, client, inbox, filled)
    pages: dict[str, str] = {}
    for who, urls in (("owner", owner_pages), ("public", public_pages)):
        browser = auth_client if who == "owner" else app.test_client()
        for url in urls:
            response = browser.get(url)
            assert response.mimetype == "text/html", url
            pages[url] = response.get_data(as_text=True)
    # The checker itself must see errors, or an empty result proves nothing.
    broken = tmp_path / "broken"
    broken.mkdir()
    assert _vnu_errors({"broken": "<!doctype html><title>x</title><p id=a><p id=a>"}, broken)
    checked = tmp_path / "pages"
    checked.mkdir()
    errors = _vnu_errors(pages, checked)
    assert errors == [], "\n".join(errors)
