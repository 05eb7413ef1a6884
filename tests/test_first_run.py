"""From an empty installation to a configured practice, in a real browser (issue 16, done-when).

The owner follows the dashboard's first-run checklist: who the practice is, its profile, its
processors, the consent text, MFA, a mail provider whose connection is tested (against the
local fake Brevo), the nightly job. Every stage and then every owner page is photographed at
1280 px and 390 px, and a page wider than the screen fails the test.
"""

from __future__ import annotations

import re

import pyotp

from tests import fakes
from tests.conftest import PASSWORD
from tests.test_browser import ARTIFACTS
from tests.test_browser import live_server  # noqa: F401 - a fixture
from tests.test_browser import page  # noqa: F401 - a fixture
from tests.test_browser import pytestmark  # noqa: F401 - skipped without Chromium
from tests.test_page_quality import OWNER_PAGES

SHOTS = ARTIFACTS / "first-run"


def _shoot(page, name: str, failures: list[str]) -> None:  # noqa: F811
    """Screenshots at a desktop and a phone width; a page wider than the screen is a failure."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=SHOTS / f"{name}-{width}.png", full_page=True)
        wide = page.evaluate("document.documentElement.scrollWidth")
        if wide > width:
            failures.append(f"{name}: {wide} px wide at a {width} px screen")
    page.set_viewport_size({"width": 1280, "height": 900})


def _steps(page) -> dict[str, bool]:  # noqa: F811
    """The checklist on the dashboard: step -> done."""
    found = {}
    for item in page.locator("#setup li.step").all():
        key = item.get_attribute("id").removeprefix("step-")
        found[key] = "done" in item.get_attribute("class").split()
    return found


def test_the_first_run_checklist_from_empty_to_configured(app, live_server, page):  # noqa: F811
    from crm.auth import services
    from crm.db import get_session
    from crm.sync import runner

    failures: list[str] = []
    with app.app_context():
        db = get_session()
        token = services.first_owner_token(db)
        db.commit()

    # 1. the first owner, with two-factor authentication
    page.goto(f"{live_server}/auth/setup/{token}")
    page.fill("#name", "Anna Terapeut")
    page.fill("#email", "anna@example.se")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/auth/login")
    page.fill("#email", "anna@example.se")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/auth/mfa/setup")
    secret = page.locator("#totp-secret").text_content().strip()
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("main button[type=submit]")
    page.click("main a.button")

    # 2. the dashboard lists what is left; the policy is not published yet
    page.goto(f"{live_server}/")
    steps = _steps(page)
    assert list(steps) == [
        "controller",
        "profile",
        "processors",
        "consent_text",
        "mfa",
        "providers",
        "nightly",
    ]
    assert [k for k, done in steps.items() if done] == ["mfa"]
    _shoot(page, "01-checklist-empty", failures)
    page.goto(f"{live_server}/integritetspolicy")
    assert "inte publicerad" in page.locator("h1").text_content()
    assert "Praktiken" not in page.locator("main").text_content()
    _shoot(page, "02-policy-unpublished", failures)

    # 3. who the practice is, and its processors, through the checklist's link
    page.goto(f"{live_server}/")
    page.click("#step-controller a")
    page.wait_for_url("**/privacy/settings*")
    page.fill("#name", "Terapi Anna AB")
    page.fill("#org_number", "556677-8899")
    page.fill("#address", "Storgatan 1\n903 26 Umeå")
    page.fill("#contact_name", "Anna Terapeut")
    page.fill("#contact_email", "anna@terapianna.se")
    page.check("input[name='proc-Brevo']")
    page.check("input[name='proc-Loopia']")
    _shoot(page, "03-settings", failures)
    page.locator("main form").first.locator("button[type=submit]").click()
    page.wait_for_url("**/privacy/settings*")
    page.goto(f"{live_server}/")
    steps = _steps(page)
    assert steps["controller"] and steps["processors"] and not steps["profile"]

    # 4. the owner's judgements: profile B, and the consent text as it stands
    page.click("#step-profile button")
    page.wait_for_url("**/#setup")
    page.click("#step-consent_text button")
    page.wait_for_url("**/#setup")
    assert _steps(page)["profile"] and _steps(page)["consent_text"]
    _shoot(page, "04-checklist-half", failures)

    # 5. the mail provider: key and list entered, connection tested against the local fake
    with fakes.serve("brevo") as brevo:
        app.config["BREVO_BASE_URL"] = brevo.url
        page.click("#step-providers a")
        page.wait_for_url("**/integrations/")
        card = page.locator("#provider-brevo")
        card.locator("#brevo-api_key").fill("xkeysib-0123456789abcdef-TEST")
        card.locator("#brevo-list_id").fill("7")
        card.locator("form", has=page.locator("#brevo-api_key")).locator("button").click()
        page.wait_for_url("**/integrations/#provider-brevo")
        assert "xkeysib-0123456789abcdef-TEST" not in page.content()
        assert "TEST" in page.locator("#provider-brevo").text_content()  # the last four
        page.locator("#provider-brevo form[action$='/check'] button").click()
        page.wait_for_url("**/integrations/#provider-brevo")
        assert "nyckeln fungerar och listan finns" in page.locator("main").text_content()
        assert [r["path"] for r in brevo.log] == ["/v3/contacts/lists/7"]
        _shoot(page, "05-provider-tested", failures)

        # 6. the nightly job runs (cron would start scripts/nightly_sync.py)
        with app.app_context():
            runner.run_sync(get_session(), trigger="nightly")

    # 7. a configured practice: the checklist is gone, the policy names the practice
    page.goto(f"{live_server}/")
    assert page.locator("#setup").count() == 0
    _shoot(page, "06-dashboard-configured", failures)
    page.goto(f"{live_server}/integritetspolicy")
    assert "Terapi Anna AB" in page.locator("main").text_content()
    _shoot(page, "07-policy-published", failures)

    # 8. every owner page of the configured practice, at both widths
    for url in OWNER_PAGES:
        page.goto(live_server + url)
        name = re.sub(r"[^a-z0-9]+", "-", url.lower()).strip("-") or "dashboard"
        _shoot(page, f"owner-{name}", failures)
    assert failures == [], "\n".join(failures)
