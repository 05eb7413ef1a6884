"""The first-run flow in a real browser: Debian's Chromium driven by Playwright.

Skipped, with instructions, on machines without /usr/bin/chromium; CI installs it.
Screenshots land in test-artifacts/ for a human to look at.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from crm.auth import services
from crm.db import get_session
from crm.people.models import Person
from crm.testimonials.models import TestimonialMedia
from tests.conftest import PASSWORD
from tests.test_testimonials import jpeg_with_gps

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="browser tests need Debian's Chromium: run `apt-get install chromium` (CI does)",
)


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """Serve the test app on a free port of 127.0.0.1 in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def page() -> Iterator[object]:
    """A fresh Chromium page; fails the test on any console error (e.g. a CSP violation)."""
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(locale="sv-SE")
        pg = context.new_page()
        errors: list[str] = []
        pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        yield pg
        context.close()
        browser.close()
        assert errors == [], errors


def log_in(page, live_server: str, app, owner) -> None:
    """Log the owner in through the login and two-factor pages, as a person would."""
    page.goto(f"{live_server}/auth/login")
    page.fill("#email", owner.email)
    page.fill("#password", owner.password)
    page.click("main button[type=submit]")
    page.fill("#code", owner.code(app))
    page.click("main button[type=submit]")


def test_first_run_owner_mfa_client_search_and_audit(app, live_server, page):
    with app.app_context():
        db = get_session()
        token = services.first_owner_token(db)
        db.commit()

    # 1. the one-time link printed by `make run`
    page.goto(f"{live_server}/auth/setup/{token}")
    assert page.locator("html").get_attribute("lang") == "sv"
    page.fill("#name", "Anna Terapeut")
    page.fill("#email", "anna@example.se")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.screenshot(path=ARTIFACTS / "01-setup.png", full_page=True)
    page.click("main button[type=submit]")

    # 2. log in: password, then enrol MFA by scanning (here: reading) the key
    page.wait_for_url("**/auth/login")
    page.fill("#email", "anna@example.se")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/auth/mfa/setup")
    assert page.locator(".qr svg").count() == 1
    page.screenshot(path=ARTIFACTS / "02-mfa-setup.png", full_page=True)
    secret = page.locator("#totp-secret").text_content().strip()
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("main button[type=submit]")
    assert page.locator("#recovery-codes li").count() == 10
    page.screenshot(path=ARTIFACTS / "03-recovery-codes.png", full_page=True)
    page.click("main a.button")

    # 3. add a client with a personnummer
    page.goto(f"{live_server}/people/new")
    page.fill("#name", "Kalle Klient")
    page.fill("#email", "kalle@example.se")
    page.fill("#personnummer", "811228-9874")
    page.click("main button[type=submit]")
    page.wait_for_url("**/people/*")
    assert "811228-****" in page.locator("#personnummer").text_content()

    # 4. find them again by personnummer (another written form of the same number)
    page.goto(f"{live_server}/people/")
    page.fill("#q", "19811228-9874")
    page.click("form.search button[type=submit]")
    assert "9874" not in page.url  # searched with a POST: the number is in no URL
    page.screenshot(path=ARTIFACTS / "04-search.png", full_page=True)
    page.click("text=Kalle Klient")

    # 5. reveal the number: shown once, and audited
    page.click("#personnummer ~ form button")
    assert page.locator("#personnummer").text_content().strip() == "811228-9874"
    page.screenshot(path=ARTIFACTS / "05-person.png", full_page=True)
    page.goto(f"{live_server}/audit")
    # the trail in words (crm/main/events.py), not its codes
    assert page.locator("td", has_text="Personnummer visat").count() == 1
    assert page.locator("td", has_text="Tvåstegsverifiering påslagen").count() == 1
    page.screenshot(path=ARTIFACTS / "06-audit.png", full_page=True)


def test_newsletter_signup_confirm_one_click_unsubscribe_and_timeline(
    app, live_server, page, inbox, owner
):

    app.config["BASE_URL"] = live_server  # links in mails point at this server

    # 1. a visitor signs up; the consent box starts unticked and is required
    page.goto(f"{live_server}/subscribe")
    assert not page.is_checked("#consent")
    page.fill("#email", "besokare@example.se")
    page.fill("#name", "Besökare")
    page.check("#consent")
    page.screenshot(path=ARTIFACTS / "10-subscribe.png", full_page=True)
    page.click("main button[type=submit]")
    assert page.locator("h1").text_content() == "Titta i din inkorg"

    # 2. the confirmation mail arrived at the local SMTP server; open and confirm
    confirm = re.search(r"(http://\S+/confirm/\S+)", inbox.last("besokare@").get_content())
    page.goto(confirm.group(1))
    page.screenshot(path=ARTIFACTS / "11-confirm.png", full_page=True)
    page.click("main button[type=submit]")
    assert page.locator("h1").text_content() == "Tack!"

    # 3. the welcome mail's List-Unsubscribe URL, POSTed the way Gmail does (RFC 8058)
    welcome = inbox.last("besokare@")
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = welcome["List-Unsubscribe"].strip("<>")
    request = page.context.request  # shares nothing but the browser; send no cookies
    response = request.post(
        url, form={"List-Unsubscribe": "One-Click"}, headers={"Cookie": ""}, max_redirects=0
    )
    assert response.status == 200

    # 4. the owner logs in and sees the consent timeline: grant, confirm, withdraw
    log_in(page, live_server, app, owner)
    page.goto(f"{live_server}/newsletter/")
    page.click("text=besokare@example.se")
    items = page.locator("#timeline li strong").all_text_contents()
    assert items == ["Samtycke lämnat", "Bekräftat", "Återkallat"]
    assert "ett klick i e-postprogrammet" in page.locator("#timeline").text_content()
    page.screenshot(path=ARTIFACTS / "12-timeline.png", full_page=True)
    page.goto(f"{live_server}/integrations/")
    assert page.locator("#provider-mailchimp").count() == 1
    page.screenshot(path=ARTIFACTS / "13-integrations.png", full_page=True)


def test_testimonial_consent_feed_and_revocation(
    app, live_server, page, inbox, owner, db, tmp_path
):

    app.config["BASE_URL"] = live_server
    with db() as s:
        s.add(Person(name="Karin Klient", email="karin@example.se"))
        s.commit()
        person_id = s.query(Person.id).scalar()

    # the owner logs in, writes the testimonial and adds a photo
    log_in(page, live_server, app, owner)
    page.goto(f"{live_server}/testimonials/new?person={person_id}")
    page.fill("#text", "Samtalen gav mig verktyg jag använder varje dag.")
    page.select_option("#display_mode", "first_name")
    page.click("main button.primary")
    photo = tmp_path / "foto.jpg"
    photo.write_bytes(jpeg_with_gps())
    page.set_input_files("#file", str(photo))
    page.click("form[enctype] button[type=submit]")
    page.click("text=Skicka förfrågan om samtycke")
    page.screenshot(path=ARTIFACTS / "20-testimonial-owner.png", full_page=True)

    # the request arrives at the local SMTP server; the client consents to the website
    link = re.search(r"(http://\S+/t/consent/\S+)", inbox.last("karin@").get_content()).group(1)
    client = page.context.browser.new_context(locale="sv-SE").new_page()
    client.goto(link)
    assert client.locator("#shown-name").text_content() == "Karin"
    client.check("input[value=website]")
    client.check("input[value=social]")
    client.check("input[value=text]")
    client.check("input[value=image]")
    client.screenshot(path=ARTIFACTS / "21-testimonial-consent.png", full_page=True)
    client.click("main button[type=submit]")
    assert client.locator("h1").text_content() == "Tack!"

    # it is in the feed, with the photo
    client.goto(f"{live_server}/embed/testimonials")
    assert client.locator("figure.testimonial blockquote").count() == 1
    assert client.locator("figure.testimonial img").count() == 1
    client.screenshot(path=ARTIFACTS / "22-feed.png", full_page=True)
    image_src = client.locator("figure.testimonial img").get_attribute("src")

    # the owner records the Instagram post
    page.reload()
    page.select_option("#pub-channel", "social")
    page.fill("#pub-description", "Instagram-inlägg")
    page.fill("#pub-url", "https://instagram.example/p/42")
    page.click("text=Registrera publicering")

    # the client revokes from the link in the confirmation mail
    revoke = re.search(r"(http://\S+/t/revoke/\S+)", inbox.last("karin@").get_content()).group(1)
    client.goto(revoke)
    client.click("main button[type=submit]")
    assert client.locator("h1").text_content() == "Samtycket är återkallat"
    client.goto(f"{live_server}/embed/testimonials")
    assert client.locator("figure.testimonial").count() == 0
    feed_json = client.request.get(f"{live_server}/embed/testimonials.json").json()
    assert feed_json == {"testimonials": []}
    assert client.request.get(f"{live_server}{image_src}").status == 404
    with db() as s:
        stored = s.query(TestimonialMedia.stored_name).scalar()
    assert not (Path(app.instance_path) / "media" / stored).exists()

    # the removal task for the Instagram post is on the owner's dashboard
    page.goto(f"{live_server}/")
    tasks = page.locator("#removal-tasks")
    assert "instagram.example/p/42" in tasks.text_content()
    page.screenshot(path=ARTIFACTS / "23-dashboard-task.png", full_page=True)
    client.context.close()


def test_data_subject_request_from_receipt_to_completion(app, live_server, page, owner, db):
    with db() as s:
        s.add(Person(name="Rut Registrerad", email="rut@example.se"))
        s.commit()
    log_in(page, live_server, app, owner)

    # receipt: a request by mail is registered; it is due in one month
    page.goto(f"{live_server}/privacy/requests")
    page.fill("#person_id-q", "Rut")  # the person is found by searching (issue 16)
    page.click("main form button[name=find]")
    page.select_option("#kind", "access")
    page.select_option("#channel", "email")
    page.fill("#received_on", date.today().isoformat())
    page.click("main form button.primary")
    assert "öppen" in page.locator("#request-status").text_content()
    page.goto(f"{live_server}/")
    assert page.locator("#requests").count() == 1
    # two charts drawn; the sync chart says that no sync has run yet instead of an empty box
    assert page.locator("svg.chart").count() == 2
    assert "Ingen synkronisering har körts än." in page.locator(".charts").text_content()
    page.screenshot(path=ARTIFACTS / "31-dashboard.png", full_page=True)
    page.click("#requests a")

    # identity checked, the export downloaded, the request completed
    page.select_option("#id-method", "known_in_person")
    page.click("form[action$='/identity'] button")
    with page.expect_download() as download:
        page.click("text=Ladda ner")
    assert download.value.suggested_filename.endswith(".zip")
    page.fill("#done-text", "Kopian skickad krypterad via e-post.")
    page.click("text=Markera som klar")
    assert page.locator("#request-status").text_content() == "klar"
    page.screenshot(path=ARTIFACTS / "30-request-done.png", full_page=True)
    page.goto(f"{live_server}/")
    assert page.locator("#requests").count() == 0


def test_breach_documented_and_reported_in_the_browser(app, live_server, page, owner):
    """A lost phone: documented through the form, the 72-hour deadline shown, then reported."""
    log_in(page, live_server, app, owner)
    page.goto(f"{live_server}/privacy/requests")
    page.click("text=Personuppgiftsincidenter")
    page.fill("#discovered_on", "2026-11-20")
    page.fill("#discovered_time", "14:30")
    page.fill("#description", "Mobil med klientmejl borttappad på tåget")
    page.fill("#affected", "Mejl från cirka 20 klienter")
    page.fill("#consequences", "Någon kan se att de går i terapi")
    page.fill("#measures", "Mobilen spärrad och raderad på distans")
    page.select_option("#risk", "risk")
    page.click("main form button[type=submit]")
    assert "Incidenten är dokumenterad" in page.locator("main").text_content()
    page.screenshot(path=ARTIFACTS / "32-breach.png", full_page=True)
    page.goto(f"{live_server}/")
    assert "anmäl till IMY senast" in page.locator("#breaches-owed").text_content()
    page.screenshot(path=ARTIFACTS / "33-dashboard-breach.png", full_page=True)
    page.click("#breaches-owed a")
    page.fill("#rep-reference", "IMY-2026-77")
    page.click("#imy button[type=submit]")
    assert "IMY-2026-77" in page.locator("#imy").text_content()
    page.goto(f"{live_server}/")
    assert page.locator("#breaches-owed").count() == 0


def test_portal_erasure_request_confirmed_by_mail_reaches_the_owner(
    app, live_server, page, inbox, owner
):
    """Issue 15 part 4: an erasure filed at /integritet and confirmed by mail reaches the owner.

    The confirmation mail arrives at the local SMTP server; the owner finds the request on the
    dashboard.
    """
    app.config["BASE_URL"] = live_server  # links in mails point at this server

    # 1. the privacy policy leads to the portal; the visitor asks to be erased
    page.goto(f"{live_server}/integritetspolicy")
    page.click("#portal-link a")
    assert page.locator("h1").text_content() == "Dina personuppgifter"
    page.check("input[name=kind][value=erasure]")
    page.fill("#name", "Vera Besökare")
    page.fill("#email", "vera@example.se")
    page.screenshot(path=ARTIFACTS / "40-portal.png", full_page=True)
    page.click("main button[type=submit]")
    assert page.locator("h1").text_content() == "Titta i din inkorg"
    assert page.url == f"{live_server}/integritet/skickat"

    # 2. the mail at the local SMTP server: open the link, press the button
    mail = inbox.last("vera@example.se").get_content()
    page.goto(re.search(r"(http://\S+/integritet/bekrafta/\S+)", mail).group(1))
    page.screenshot(path=ARTIFACTS / "41-portal-confirm.png", full_page=True)
    page.click("main button[type=submit]")
    assert page.locator("h1").text_content() == "Vi har tagit emot din begäran"
    page.click("text=Se hur det går med din begäran")
    assert page.locator("#portal-status").get_attribute("data-stage") == "identity_check"
    page.screenshot(path=ARTIFACTS / "42-portal-status.png", full_page=True)

    # 3. the owner sees it on the dashboard, due in a month, and what was typed on the request
    log_in(page, live_server, app, owner)
    page.goto(f"{live_server}/")
    row = page.locator("#requests tbody tr")
    assert row.count() == 1
    assert "radering" in row.text_content() and "integritetssidan" in row.text_content()
    page.click("#requests a")
    assert "vera@example.se" in page.locator("#portal-filing").text_content()
    assert "integritetssidan" in page.locator("main").text_content()
    page.screenshot(path=ARTIFACTS / "43-portal-request.png", full_page=True)
