"""Data-subject requests (deadlines with a frozen clock), restriction and objection."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy import text

from crm import create_app
from crm.audit import Actor
from crm.audit import AuditEvent
from crm.auth import services as auth
from crm.auth.models import Role
from crm.db import get_session
from crm.db import utcnow
from crm.newsletter import common as newsletter_common
from crm.newsletter import mailing_lists
from crm.newsletter import subscribing
from crm.newsletter.models import Suppression
from crm.outbox import OutboxOp
from crm.outbox import ProviderLink
from crm.people.models import Person
from crm.privacy import data_requests
from crm.privacy import practice
from crm.privacy.models import Breach
from crm.privacy.models import DataRequest
from tests.conftest import PASSWORD
from tests.conftest import app_config
from tests.conftest import wipe
from tests.helpers import login
from tests.helpers import post_form


@pytest.mark.parametrize(
    ("start", "months", "due"),
    [
        (datetime(2026, 1, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2028, 1, 31, tzinfo=UTC), 1, datetime(2028, 2, 29, tzinfo=UTC)),  # leap year
        (datetime(2026, 3, 15, tzinfo=UTC), 1, datetime(2026, 4, 15, tzinfo=UTC)),
        (datetime(2026, 11, 30, tzinfo=UTC), 3, datetime(2027, 2, 28, tzinfo=UTC)),
        (datetime(2026, 12, 10, tzinfo=UTC), 1, datetime(2027, 1, 10, tzinfo=UTC)),
    ],
)
def test_one_calendar_month(start, months, due):
    assert data_requests.add_months(start, months) == due


def test_request_lifecycle_with_extension_and_notice(app, db, auth_client, inbox, make_person):
    pid = make_person("Anna Andersson", "anna@example.se")
    received = (utcnow() - timedelta(days=10)).date()
    response = post_form(
        auth_client,
        "/privacy/requests",
        {
            "person_id": pid,
            "kind": "access",
            "channel": "email",
            "received_on": received.isoformat(),
        },
    )
    rid = int(response.headers["Location"].rsplit("/", 1)[-1])
    with db() as s:
        row = s.get(DataRequest, rid)
    assert row.due_at == data_requests.add_months(row.received_at, 1)
    post_form(
        auth_client,
        f"/privacy/requests/{rid}/identity",
        {"id-method": "known_in_person"},
        page=f"/privacy/requests/{rid}",
    )
    post_form(
        auth_client,
        f"/privacy/requests/{rid}/extend",
        {"ext-months": "2", "ext-reason": "Stora mängder journalhandlingar"},
        page=f"/privacy/requests/{rid}",
    )
    with db() as s:
        row = s.get(DataRequest, rid)
    assert row.identity_method == "known_in_person" and row.identity_verified_by_id
    detail = auth_client.get(f"/privacy/requests/{rid}").get_data(as_text=True)
    assert "av Test User" in detail  # who checked, by name
    assert row.due_at == data_requests.add_months(row.received_at, 3)
    notice = inbox.last("anna@example.se").get_content()
    assert "Stora mängder journalhandlingar" in notice and "IMY" in notice
    # only once
    post_form(
        auth_client,
        f"/privacy/requests/{rid}/extend",
        {"ext-months": "1", "ext-reason": "igen"},
        page="/privacy/requests",
    )
    with db() as s:
        assert s.get(DataRequest, rid).due_at == data_requests.add_months(row.received_at, 3)
    post_form(
        auth_client,
        f"/privacy/requests/{rid}/complete",
        {"done-text": "Kopia skickad med rekommenderat brev"},
        page=f"/privacy/requests/{rid}",
    )
    with db() as s:
        row = s.get(DataRequest, rid)
    assert row.status == "completed" and row.completed_at and row.completed_by_id
    with db() as s:
        raw = s.execute(text("SELECT outcome FROM data_request")).scalar()
    assert raw.startswith("v1:") and "Kopia" not in raw  # encrypted at rest


def test_extension_only_within_the_first_month(app, db, make_person):
    pid = make_person("Anna Andersson", "anna@example.se")
    with db() as s:
        person = s.get(Person, pid)
        row = data_requests.open_request(
            s, person, "erasure", "letter", utcnow() - timedelta(days=40), Actor.cli()
        )
        with pytest.raises(data_requests.RequestError):
            data_requests.extend(s, row, 1, "för sent", Actor.cli())
        with pytest.raises(data_requests.RequestError):
            data_requests.extend(s, row, 3, "för länge", Actor.cli(), now=row.received_at)
        with pytest.raises(data_requests.RequestError):
            data_requests.open_request(
                s, person, "erasure", "letter", utcnow() + timedelta(days=1), Actor.cli()
            )


def test_refusal_tells_the_person_about_imy(app, db, auth_client, inbox, make_person):
    pid = make_person("Anna Andersson", "anna@example.se")
    with db() as s:
        row = data_requests.open_request(
            s, s.get(Person, pid), "erasure", "email", utcnow(), Actor.cli()
        )
        s.commit()
        rid = row.id
    post_form(
        auth_client,
        f"/privacy/requests/{rid}/refuse",
        {"no-text": "Journalen ska sparas i tio år enligt patientdatalagen."},
        page=f"/privacy/requests/{rid}",
    )
    mail = inbox.last("anna@example.se").get_content()
    assert "patientdatalagen" in mail and "Integritetsskyddsmyndigheten" in mail
    with db() as s:
        assert s.get(DataRequest, rid).status == "refused"


def test_overdue_requests_stand_out(app, db, auth_client, make_person):
    pid = make_person("Anna Andersson", "anna@example.se")
    with db() as s:
        data_requests.open_request(
            s, s.get(Person, pid), "access", "phone", utcnow() - timedelta(days=45), Actor.cli()
        )
        s.commit()
    page = auth_client.get("/privacy/requests").get_data(as_text=True)
    assert 'class="overdue"' in page and "försenad" in page
    assert "försenad" in auth_client.get("/").get_data(as_text=True)


def test_restriction_blocks_edits_and_lifting_needs_a_note(
    app, db, auth_client, inbox, make_person
):
    pid = make_person("Anna Andersson", "anna@example.se")
    post_form(auth_client, f"/privacy/people/{pid}/restrict", {"confirmed": "yes"})
    page = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    assert "GDPR art. 18" in page
    post_form(auth_client, f"/people/{pid}/edit", {"name": "Ändrad"})
    with db() as s:
        assert s.get(Person, pid).name == "Anna Andersson"
    post_form(
        auth_client, f"/privacy/people/{pid}/lift-restriction", {"note": ""}, page=f"/people/{pid}"
    )
    with db() as s:
        assert s.get(Person, pid).restricted_at is not None
    # Art. 18(3): told first; if the notice cannot be mailed, the restriction stays
    port = app.config["SMTP_PORT"]
    app.config["SMTP_PORT"] = 1  # nothing listens there
    lift = {"note": "Uppgifterna är rättade."}
    post_form(auth_client, f"/privacy/people/{pid}/lift-restriction", lift, page=f"/people/{pid}")
    with db() as s:
        assert s.get(Person, pid).restricted_at is not None
    assert "begränsningen ligger kvar" in auth_client.get(f"/people/{pid}").get_data(as_text=True)
    app.config["SMTP_PORT"] = port
    post_form(auth_client, f"/privacy/people/{pid}/lift-restriction", lift, page=f"/people/{pid}")
    with db() as s:
        assert s.get(Person, pid).restricted_at is None
    assert "Uppgifterna är rättade." in inbox.last("anna@example.se").get_content()


def test_objection_is_absolute_and_reaches_every_provider(app, db, auth_client, make_person):
    app.config.update(
        BREVO_API_KEY="k", BREVO_LIST_ID="1", MAILCHIMP_API_KEY="k-us1", MAILCHIMP_LIST_ID="1"
    )
    pid = make_person("Anna Andersson", "anna@example.se")
    with db() as s:
        subscribing.add_manual(
            s,
            email="anna@example.se",
            name="",
            method="verbal",
            note="",
            list_id=mailing_lists.default_list(s).id,
            actor=Actor.cli(),
        )
        s.add(ProviderLink(person_id=pid, provider="mailerlite", status="active"))
        s.commit()
    post_form(auth_client, f"/privacy/people/{pid}/object", {"confirmed": "yes"})
    with db() as s:
        person = s.get(Person, pid)
        assert person.marketing_objection_at is not None
        assert "objection" in s.scalars(select(Suppression.reason)).all()
        ops = {(o.provider, o.op) for o in s.scalars(select(OutboxOp))}
    assert {
        ("mailerlite", "unsubscribe"),
        ("brevo", "unsubscribe"),
        ("mailchimp", "unsubscribe"),
    } <= ops
    with db() as s:
        with pytest.raises(newsletter_common.NewsletterError):
            subscribing.add_manual(
                s,
                email="anna@example.se",
                name="",
                method="verbal",
                note="",
                list_id=mailing_lists.default_list(s).id,
                actor=Actor.cli(),
            )


def _settings(auth_client, **overrides):
    data = {
        "name": "Terapi Anna AB",
        "org_number": "556703-7485",
        "address": "Storgatan 1",
        "contact_name": "Anna",
        "contact_email": "dataskydd@praktiken.se",
        "profile": "A",
        "profession": "psykoterapeut",
        "proc-Mailchimp": "1",
        "proc-Fortnox": "1",
        "other_processors": "Journalia | Journalsystem | nej | ",
        **{f"ret-{k}": v for k, v in {"journal": 120, "bookkeeping": 84}.items()},
    }
    data.update(overrides)
    return post_form(auth_client, "/privacy/settings", data)


def test_settings_feed_the_policy_and_the_record(app, auth_client, client):
    assert _settings(auth_client).status_code == 302
    policy = client.get("/integritetspolicy").get_data(as_text=True)
    assert "Terapi Anna AB" in policy and "556703-7485" in policy
    assert "Mailchimp" in policy and "Data Privacy Framework" in policy
    assert "Journalia" in policy and "Fortnox" in policy and "Loopia" not in policy
    assert "tio år efter den senaste journalanteckningen" in policy  # not "120 månader"
    assert "Integritetsskyddsmyndigheten" in policy
    record = auth_client.get("/privacy/record").get_data(as_text=True)
    # client care, representatives (issue 14), newsletter, testimonials, bookkeeping, requests
    assert record.count('class="card activity"') == 6
    csv_text = auth_client.get("/privacy/record.csv").get_data(as_text=True)
    assert "Terapi Anna AB" in csv_text and "Nyhetsbrev" in csv_text or "Newsletter" in csv_text


def test_configured_mail_providers_are_always_in_the_policy_and_record(app, auth_client, client):
    """A provider the CRM sends addresses to is a processor, ticked in the settings or not."""
    assert _settings(auth_client, **{"proc-Mailchimp": ""}).status_code == 302
    policy = client.get("/integritetspolicy").get_data(as_text=True)
    assert "Mailchimp" not in policy  # not ticked, not configured
    app.config["MAILCHIMP_API_KEY"] = "key-us1"
    policy = client.get("/integritetspolicy").get_data(as_text=True)
    assert "Mailchimp" in policy and "Data Privacy Framework" in policy
    record = auth_client.get("/privacy/record").get_data(as_text=True)
    newsletter = record[record.index("Nyhetsbrev") :]
    assert "Mailchimp" in newsletter
    assert "alla uppgifter stannar inom EU/EES" not in newsletter[: newsletter.index("</section>")]


def test_retention_below_the_legal_minimum_is_refused_with_the_reason(app, auth_client, client):
    response = _settings(auth_client, **{"ret-journal": "60"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "patientdatalagen 3 kap. 17 §" in body
    assert "Terapi Anna AB" not in client.get("/integritetspolicy").get_data(as_text=True)


def test_invalid_settings_are_refused(app, auth_client):
    assert _settings(auth_client, org_number="556703-7484").status_code == 422
    assert _settings(auth_client, profession="").status_code == 422  # profile A needs it
    assert _settings(auth_client, profile="B", profession="").status_code == 302


def test_staff_cannot_change_settings(app, client, make_user):
    staff = make_user("staff@example.se", role="practitioner")
    login(client, app, staff)
    assert client.get("/privacy/settings").status_code == 403
    assert client.get("/privacy/record").status_code == 200


def test_profile_a_makes_mfa_mandatory_even_when_turned_off(database_url):
    app = create_app(app_config(database_url, REQUIRE_MFA=False))
    with app.app_context():
        s = get_session()
        auth.create_user(
            s,
            email="dev@example.se",
            name="D",
            password=PASSWORD,
            role=Role.OWNER,
            actor=Actor.cli(),
        )
        practice.load(s).profile = "A"
        s.commit()
    client = app.test_client()
    response = post_form(client, "/auth/login", {"email": "dev@example.se", "password": PASSWORD})
    assert response.headers["Location"] == "/auth/mfa/setup"
    app.extensions["crm.db"]["engine"].dispose()
    wipe(database_url)


def test_every_view_of_a_person_is_logged(app, db, auth_client, make_person):
    pid = make_person("Anna Andersson", "anna@example.se")
    auth_client.get(f"/people/{pid}")
    auth_client.get(f"/people/{pid}")
    with db() as s:
        views = s.scalars(select(AuditEvent).where(AuditEvent.action == "person.view")).all()
    assert len(views) == 2 and all(v.object_id == str(pid) and v.actor_user_id for v in views)


def test_first_use_of_the_settings_survives_a_racing_first_use(app, db, monkeypatch):
    """Two first page views at once: the loser of the insert still gets the settings.

    Before, it failed on the unique key: a 500 on a GET.
    """
    with db() as s:
        first = practice.load(s, "Praktiken")
        s.commit()
        real_get = s.get
        calls = []

        def get_missing_once(model, key):
            calls.append(key)
            return None if len(calls) == 1 else real_get(model, key)

        monkeypatch.setattr(s, "get", get_missing_once)
        again = practice.load(s, "Another name")
        s.commit()
        assert len(calls) == 2 and again.id == first.id and again.name == "Praktiken"


def _breach(auth_client, **overrides):
    data = {
        "discovered_on": (utcnow() - timedelta(days=4)).date().isoformat(),
        "discovered_time": "09:30",
        "description": "Mobilen med klientmejl glömdes på tåget",
        "affected": "E-post från cirka 20 klienter, några med hälsouppgifter",
        "consequences": "Andra kan läsa att de går i terapi",
        "measures": "Mobilen spärrad på distans, lösenord bytta",
        "risk": "risk",
        **overrides,
    }
    return post_form(auth_client, "/privacy/breaches", data)


def test_breach_register_with_the_72_hour_clock(app, auth_client, db):
    """Art. 33: every breach documented; a risky one reported to IMY within 72 hours."""
    response = _breach(auth_client)
    assert response.status_code == 302
    detail_url = response.headers["Location"]
    detail = auth_client.get(detail_url).get_data(as_text=True)
    assert "Mobilen med klientmejl" in detail and 'id="imy"' in detail
    assert "flash-error" in detail  # discovered four days ago: the 72 hours are over
    dashboard = auth_client.get("/").get_data(as_text=True)
    owed = dashboard[dashboard.index('id="breaches-owed"') :]
    assert "anmäl till IMY senast" in owed and "försenad" in owed
    with db() as s:
        row = s.scalar(select(Breach))
        stockholm = row.discovered_at.astimezone(ZoneInfo("Europe/Stockholm"))
        assert stockholm.strftime("%H:%M") == "09:30"  # typed as the practice's local time
        assert row.discovered_at.utcoffset() == timedelta(0)  # stored as UTC
        raw = s.execute(text("SELECT description FROM breach")).scalar()
        assert "Mobilen" not in raw  # encrypted at rest
    post_form(
        auth_client, f"{detail_url}/reported", {"rep-reference": "IMY-2026-123"}, page=detail_url
    )
    assert "IMY-2026-123" in auth_client.get(detail_url).get_data(as_text=True)
    assert 'id="breaches-owed"' not in auth_client.get("/").get_data(as_text=True)
    with db() as s:
        actions = s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    assert actions[-2:] == ["breach.record", "breach.reported"]


def test_breach_without_risk_needs_the_reason_and_a_high_risk_one_a_notice(app, auth_client, db):
    refused = _breach(auth_client, risk="none")
    assert refused.status_code == 422 and "Skriv varför" in refused.get_data(as_text=True)
    assert _breach(auth_client, risk="none", no_report_reason="Krypterad disk").status_code == 302
    assert 'id="breaches-owed"' not in auth_client.get("/").get_data(as_text=True)
    future = _breach(auth_client, discovered_on=(utcnow() + timedelta(days=2)).date().isoformat())
    assert future.status_code == 422
    high = _breach(auth_client, risk="high")
    url = high.headers["Location"]
    post_form(auth_client, f"{url}/reported", {}, page=url)
    owed = auth_client.get("/").get_data(as_text=True)
    assert "berätta för de drabbade" in owed
    post_form(auth_client, f"{url}/informed", {}, page=url)
    assert 'id="breaches-owed"' not in auth_client.get("/").get_data(as_text=True)
    register = auth_client.get("/privacy/breaches").get_data(as_text=True)
    assert register.count("/privacy/breaches/") >= 2 and "inte anmäld" in register
