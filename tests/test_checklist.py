"""The first-run checklist on the dashboard (issue 16, "First-run checklist").

Each step is read from the data; the walk through the pages in a browser is in
tests/test_first_run.py.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlalchemy import select

from crm import controllers
from crm.db import utcnow
from crm.main import checklist
from crm.main.checklist import SetupStep
from crm.provider_settings import ProviderSetting
from crm.sync.models import SyncRun
from tests.conftest import post_form


def _state(page: str) -> dict[str, bool]:
    """Each step on the dashboard: done or not."""
    return {
        key: "done" in cls.split()
        for cls, key in re.findall(r'<li class="([^"]*)" id="step-([a-z_]+)"', page)
    }


def _steps(app, db) -> dict[str, bool]:
    with db() as s:
        return {step.key: step.done for step in checklist.steps(s, app.config)}


def test_an_empty_installation_shows_every_step_to_do_and_no_policy(app, auth_client, client):
    page = auth_client.get("/").get_data(as_text=True)
    assert 'id="setup"' in page
    state = _state(page)
    assert list(state) == [
        "controller",
        "profile",
        "processors",
        "consent_text",
        "mfa",
        "providers",
        "nightly",
    ]
    assert state["mfa"] is True  # the test owner has MFA; everything else is still to do
    assert not any(v for k, v in state.items() if k != "mfa")
    policy = client.get("/integritetspolicy").get_data(as_text=True)
    body = policy[policy.index("<main") :]
    assert "inte publicerad" in body and "Praktiken" not in body


def test_each_step_follows_the_data(app, db, auth_client, make_user):
    with db() as s:
        first = controllers.first(s)
        first.name, first.address, first.contact_email = "Terapi Anna", "Gatan 1", "a@anna.se"
        s.commit()
    assert _steps(app, db)["controller"] and not _steps(app, db)["profile"]
    with db() as s:
        first = controllers.first(s)
        first.profile, first.profession = "A", "psykolog"
        s.commit()
    assert _steps(app, db)["profile"]
    # a mail provider in use must be among the processors, and tested
    app.config.update(BREVO_API_KEY="k", BREVO_LIST_ID="3")
    with db() as s:
        from crm.privacy import practice

        practice.load(s).processors = '[{"name": "Loopia", "purpose": "Webbhotell"}]'
        s.commit()
    assert not _steps(app, db)["processors"] and not _steps(app, db)["providers"]
    with db() as s:
        practice.load(s).processors = json.dumps(
            [
                {"name": "Loopia", "purpose": "Webbhotell"},
                {"name": "Brevo", "purpose": "Nyhetsbrev"},
            ]
        )
        s.add(ProviderSetting(provider="brevo", secrets="{}", list_id="", check_result="ok"))
        s.commit()
    assert _steps(app, db)["processors"] and _steps(app, db)["providers"]
    # a user without MFA, and a nightly run that is too old
    make_user("assistent@example.se", mfa_on=False)
    with db() as s:
        s.add(SyncRun(trigger="nightly", started_at=utcnow() - timedelta(days=3)))
        s.flush()
        s.scalar(select(SyncRun)).finished_at = utcnow() - timedelta(days=3)
        s.commit()
    steps = _steps(app, db)
    assert not steps["mfa"] and not steps["nightly"]


def test_judgement_steps_are_confirmed_by_the_owner_and_the_list_goes_away(
    app, db, auth_client, client
):
    with db() as s:
        first = controllers.first(s)
        first.name, first.address, first.contact_email = "Terapi Anna", "Gatan 1", "a@anna.se"
        from crm.privacy import practice

        practice.load(s).processors = '[{"name": "Loopia", "purpose": "Webbhotell"}]'
        s.add(SyncRun(trigger="nightly", finished_at=utcnow()))
        s.commit()
    for step in ("profile", "consent_text", "providers"):
        response = post_form(auth_client, f"/checklist/{step}/confirm", {}, page="/")
        assert response.status_code == 302
    assert post_form(auth_client, "/checklist/mfa/confirm", {}, page="/").status_code == 404
    page = auth_client.get("/").get_data(as_text=True)
    assert 'id="setup"' not in page
    with db() as s:
        assert s.scalar(select(SetupStep.id).where(SetupStep.step == "complete"))
    # the policy names the practice now
    policy = client.get("/integritetspolicy").get_data(as_text=True)
    assert "Terapi Anna" in policy and "inte publicerad" not in policy


def test_an_address_or_an_email_is_enough_to_publish(db, client):
    """The seeds give one or the other: Självkraft no address, Kbt-verkstan no e-mail."""
    with db() as s:
        first = controllers.first(s)
        first.name, first.contact_email = "Självkraft", "lena@sjalvkraft.se"
        s.commit()
    assert "Självkraft" in client.get("/integritetspolicy").get_data(as_text=True)
