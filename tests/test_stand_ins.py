"""Stand-in contact details are flagged, not published (issue 15 part 5, seed 004).

Seed 004 names no practice, so examples/practices/coach.toml uses a stand-in name and an
address under ``.example``. Loading it says so by key, the first-run checklist keeps "who the
practice is" to do, and the privacy policy is not published with the fake contact data.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from crm import controllers
from crm.main import checklist
from crm.privacy import practice
from crm.privacy.models import PolicyVersion

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "practices"
WARNING = (
    "warning: controllers[0].contact_email is a stand-in (a reserved example domain, RFC 2606)"
)


@pytest.mark.parametrize(
    ("value", "stand_in"),
    [
        ("kontakt@coachningspraktiken.example", True),
        ("info@praktiken.test", True),
        ("hej@example.org", True),
        ("Besök www.mottagning.example.com", True),
        ("nobody@host.invalid", True),
        ("lena@sjalvkraft.se", False),
        ("Rommehedslägret 7, 784 63 Borlänge", False),
        ("S:t Eriksgatan 12, 112 39 Stockholm", False),
        ("info@example.se", False),  # a real Swedish domain
        ("", False),
    ],
)
def test_a_stand_in_is_an_address_under_a_reserved_example_domain(value, stand_in):
    assert controllers.is_stand_in(value) is stand_in


def _load(app, path: Path, *options: str):
    return app.test_cli_runner().invoke(args=["practice", "load", *options, str(path)])


def _controller_step(app, db) -> checklist.Step:
    with db() as s:
        return next(step for step in checklist.steps(s, app.config) if step.key == "controller")


def test_loading_the_coach_file_warns_by_key_and_publishes_nothing(app, db, auth_client, client):
    dry = _load(app, EXAMPLES / "coach.toml", "--dry-run")
    assert dry.exit_code == 0 and WARNING in dry.output, dry.output
    result = _load(app, EXAMPLES / "coach.toml")
    assert result.exit_code == 0, result.output
    assert f"{EXAMPLES / 'coach.toml'}: {WARNING}" in result.output
    # the changes are listed first, as for any file; no policy version names the stand-in
    assert result.output.startswith("Changed ")
    assert "policy_version" not in result.output
    with db() as s:
        assert s.scalars(select(PolicyVersion)).all() == []
        assert controllers.first(s).stand_ins == ["contact_email"]
    policy = client.get("/integritetspolicy").get_data(as_text=True)
    assert "inte publicerad" in policy and "coachningspraktiken.example" not in policy
    # the checklist keeps "who the practice is" to do, and says why
    step = _controller_step(app, db)
    assert not step.done and "stand-ins" in step.hint
    page = auth_client.get("/").get_data(as_text=True)
    assert re.search(r'<li class="(?![^"]*\bdone\b)[^"]*" id="step-controller"', page)
    assert "Kontaktuppgifterna är påhittade" in page
    # and the settings page, where they are put right, says so above the fields
    settings = auth_client.get("/privacy/settings").get_data(as_text=True)
    assert 'id="stand-ins"' in settings and "Kontaktuppgifterna är påhittade" in settings
    # loading it again warns again: the stand-in is still there
    again = _load(app, EXAMPLES / "coach.toml")
    assert again.output.startswith("Nothing changed") and WARNING in again.output


def test_the_practices_own_contact_clears_the_warning_and_publishes(app, db, client, tmp_path):
    own = tmp_path / "coach.toml"
    text = (EXAMPLES / "coach.toml").read_text(encoding="utf-8")
    own.write_text(text.replace("coachningspraktiken.example", "coachning.se"), encoding="utf-8")
    result = _load(app, own)
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    assert "controllers[0].policy_version" in result.output
    assert _controller_step(app, db).done
    policy = client.get("/integritetspolicy").get_data(as_text=True)
    assert "kontakt@coachning.se" in policy and "inte publicerad" not in policy


def test_a_stand_in_typed_in_the_settings_keeps_the_step_to_do(app, db):
    with db() as s:
        first = controllers.first(s)
        first.name, first.contact_email = "Terapi Anna", "anna@terapi.example"
        s.commit()
    assert not _controller_step(app, db).done
    with db() as s:
        controllers.first(s).contact_email = "anna@terapianna.se"
        s.commit()
    assert _controller_step(app, db).done


def test_without_a_newsletter_the_consent_text_step_does_not_apply(app, db):
    """Its page is closed while the newsletter is off (crm/features.py): nothing to do there."""

    def consent_step() -> bool:
        with db() as s:
            steps = checklist.steps(s, app.config)
            return next(st.done for st in steps if st.key == "consent_text")

    assert not consent_step()
    with db() as s:
        practice.load(s).features = '{"newsletter": false}'
        s.commit()
    assert consent_step()
