"""Newsletter end to end through the real pages, a real SMTP server and the database."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlalchemy import select

from crm.audit import AuditEvent
from crm.db import utcnow
from crm.newsletter.models import ConsentRecord
from crm.newsletter.models import ConsentText
from crm.newsletter.models import Subscription
from crm.newsletter.models import Suppression
from crm.people.models import Person
from crm.privacy import forget as privacy_forget
from crm.privacy.models import DataRequest
from tests.conftest import post_form

EMAIL = "lisa@example.se"


def _signup(client, email=EMAIL, **extra):
    page = client.get("/subscribe").get_data(as_text=True)
    text_id = re.search(r'name="consent_text_id" value="(\d+)"', page).group(1)
    data = {"email": email, "name": "Lisa", "consent": "1", "consent_text_id": text_id, **extra}
    return client.post("/subscribe", data=data, headers={"User-Agent": "TestBrowser/1.0"})


def _link(mail, path: str) -> str:
    body = mail.get_content()
    return re.search(rf"http://localhost({path}/\S+)", body).group(1)


def _count(db, model, **where) -> int:
    with db() as s:
        return s.scalar(select(func.count()).select_from(model).filter_by(**where))


def _sub(db, email=EMAIL) -> Subscription:
    with db() as s:
        return s.scalar(select(Subscription).join(Person).where(Person.email == email))


def _subscribe_confirmed(client, inbox, email=EMAIL) -> str:
    """Sign up and confirm; return the unsubscribe path from the welcome mail."""
    assert _signup(client, email).status_code == 200
    confirm = _link(inbox.last(email), "/confirm")
    post_form(client, confirm, {})
    welcome = inbox.last(email)
    return re.search(r"<http://localhost(/u/[^>]+)>", welcome["List-Unsubscribe"]).group(1)


def test_signup_form_has_unticked_consent_honeypot_and_policy_link(app, client):
    page = client.get("/subscribe").get_data(as_text=True)
    consent = re.search(r'<input type="checkbox" id="consent"[^>]*>', page).group(0)
    assert "checked" not in consent
    assert 'name="website"' in page and 'href="/integritetspolicy"' in page
    assert client.get("/integritetspolicy").status_code == 200


def test_signup_needs_consent_and_a_valid_address(app, client, db, inbox):
    assert _signup(client, consent="").status_code == 422
    assert _signup(client, email="not-an-address").status_code == 422
    assert _count(db, Person) == 0 and inbox.messages == []


def test_double_opt_in_records_proof(app, client, db, inbox):
    assert _signup(client).status_code == 200
    mail = inbox.last(EMAIL)
    assert mail["Subject"] == "Bekräfta din prenumeration"
    assert "List-Unsubscribe" not in mail  # transactional, not marketing
    assert _sub(db).status == "pending"
    confirm = _link(mail, "/confirm")
    # a link scanner's GET confirms nothing
    assert client.get(confirm).status_code == 200
    assert _sub(db).status == "pending"
    assert post_form(client, confirm, {}).status_code == 200
    assert _sub(db).status == "active"
    with db() as s:
        records = s.scalars(select(ConsentRecord).order_by(ConsentRecord.id)).all()
        text = s.scalar(select(ConsentText))
    assert [r.action for r in records] == ["grant", "confirm"]
    assert records[0].text_hash == text.text_hash and records[0].consent_text_id == text.id
    assert records[0].ip == "127.0.0.1" and records[0].user_agent == "TestBrowser/1.0"
    assert records[1].method == "double_opt_in" and records[1].text_hash == text.text_hash
    welcome = inbox.last(EMAIL)
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert welcome["List-Unsubscribe"].startswith("<http://localhost/u/")
    assert "invända mot all direktmarknadsföring" in welcome.get_content()


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_rfc8058_one_click_unsubscribe(app, client, db, inbox, encoding):
    path = _subscribe_confirmed(client, inbox)
    mail_client = app.test_client()  # no cookies at all, like a mail provider's server
    kwargs = {"data": {"List-Unsubscribe": "One-Click"}}
    if encoding == "multipart":
        kwargs["content_type"] = "multipart/form-data"
    assert mail_client.get(path).status_code == 200
    assert _sub(db).status == "active"  # GET changed nothing
    response = mail_client.post(path, **kwargs)
    assert response.status_code == 200 and "Location" not in response.headers
    assert "Set-Cookie" not in response.headers
    assert _sub(db).status == "unsubscribed"
    with db() as s:
        withdraw = s.scalar(select(ConsentRecord).where(ConsentRecord.action == "withdraw"))
        assert withdraw.method == "one_click"
        assert s.scalar(select(Suppression.reason)) == "unsubscribed"
        assert "newsletter.unsubscribe" in s.scalars(select(AuditEvent.action)).all()
    counts = (_count(db, ConsentRecord), _count(db, Suppression), _count(db, AuditEvent))
    assert mail_client.post(path, **kwargs).status_code == 200  # idempotent
    assert (_count(db, ConsentRecord), _count(db, Suppression), _count(db, AuditEvent)) == counts


def test_unsubscribe_button_page(app, client, db, inbox):
    path = _subscribe_confirmed(client, inbox)
    page = client.get(path).get_data(as_text=True)
    assert f'action="{path}"' in page
    done = client.post(path)
    assert done.status_code == 200 and "Du är avregistrerad" in done.get_data(as_text=True)
    with db() as s:
        assert (
            s.scalar(select(ConsentRecord.method).where(ConsentRecord.action == "withdraw"))
            == "unsubscribe_link"
        )
    # the page is rendered once per language: a reader who chose English gets English
    client.set_cookie("crm_lang", "en")
    again = client.post(path).get_data(as_text=True)
    assert "You are unsubscribed" in again and "Du är avregistrerad" not in again
    client.delete_cookie("crm_lang")
    assert "Du är avregistrerad" in client.post(path).get_data(as_text=True)


def test_tampered_and_unknown_tokens(app, client):
    from crm.security import tokens

    assert client.get("/u/not-a-token").status_code == 400
    assert client.post("/u/not-a-token").status_code == 400
    assert "Länken är inte giltig" in client.get("/u/xyz").get_data(as_text=True)
    with app.app_context():
        unknown = tokens.sign(tokens.Purpose.UNSUBSCRIBE, "no-such-person")
        other_purpose = tokens.sign(tokens.Purpose.CONFIRM, "no-such-person")
    done = client.post(f"/u/{unknown}")
    assert done.status_code == 200 and "Du är avregistrerad" in done.get_data(as_text=True)
    assert client.post(f"/u/{other_purpose}").status_code == 400


@settings(
    max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(position=st.integers(min_value=0, max_value=80), char=st.sampled_from("aZ09-_."))
def test_no_altered_unsubscribe_token_is_accepted(app, client, position, char):
    from crm.security import tokens

    with app.app_context():
        token = tokens.sign(tokens.Purpose.UNSUBSCRIBE, "pid")
    i = position % len(token)
    altered = token[:i] + char + token[i + 1 :]
    if altered != token:
        assert client.post(f"/u/{altered}").status_code in (400, 429)


def test_bad_tokens_are_rate_limited_per_ip(app, client):
    app.config["BAD_TOKEN_MAX_PER_IP"] = 3
    codes = [client.post("/u/bad").status_code for _ in range(5)]
    assert codes[:3] == [400] * 3 and codes[-1] == 429


def test_resubscribing_needs_a_new_double_opt_in(app, client, db, inbox):
    path = _subscribe_confirmed(client, inbox)
    client.post(path)
    assert _count(db, Suppression) == 1
    _signup(client)
    # the anonymous sign-up changes nothing: the withdrawal stands until the click
    assert _sub(db).status == "unsubscribed" and _count(db, Suppression) == 1
    post_form(client, _link(inbox.last(EMAIL), "/confirm"), {})
    assert _sub(db).status == "active" and _count(db, Suppression) == 0


def test_expired_confirmation_link(app, client, inbox, monkeypatch):
    _signup(client)
    confirm = _link(inbox.last(EMAIL), "/confirm")
    import time

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 8 * 86400)
    assert client.get(confirm).status_code == 410


def test_honeypot_stores_nothing(app, client, db, inbox):
    response = _signup(client, website="http://spam.example")
    assert response.status_code == 200
    assert _count(db, Person) == 0 and inbox.messages == []


def test_signup_rate_limits(app, client, db, inbox):
    app.config["SIGNUP_MAX_PER_EMAIL_DAY"] = 2
    assert [_signup(client).status_code for _ in range(3)] == [200, 200, 429]
    assert len(inbox.messages) == 2


def test_json_signup_with_cors(app, client, db, inbox):
    preflight = client.options("/subscribe")
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    response = client.post("/subscribe", json={"email": "json@example.se", "consent": True})
    assert response.status_code == 202 and response.json == {"status": "pending"}
    assert inbox.last("json@example.se")
    assert _sub(db, "json@example.se").source == "api"
    bad = client.post("/subscribe", json={"email": "json@example.se", "consent": "yes"})
    assert bad.status_code == 422 and "error" in bad.json
    assert (
        client.post("/subscribe", data="{nope", content_type="application/json").status_code == 400
    )


def test_mail_server_down_keeps_the_signup(app, client, db):
    app.config["SMTP_PORT"] = 1  # nothing listens there
    response = _signup(client)
    assert response.status_code == 503
    assert "Mejlet kunde inte skickas" in response.get_data(as_text=True)
    assert _sub(db).status == "pending"


def test_preferences_lists_download_and_forget(app, client, db, inbox):
    path = _subscribe_confirmed(client, inbox)
    response = client.post(f"{path}/preferences-link")
    assert response.status_code == 200
    prefs = _link(inbox.last(EMAIL), "/preferences")
    # the button cannot be used to mail-bomb: three mails an hour, the page looks the same
    before = len(inbox.messages)
    for _attempt in range(4):
        assert client.post(f"{path}/preferences-link").status_code == 200
    assert len(inbox.messages) == before + 2
    page = client.get(prefs).get_data(as_text=True)
    assert EMAIL in page
    data = client.get(f"{prefs}/data.json")
    assert data.status_code == 200 and data.json["person"]["email"] == EMAIL
    assert [r["action"] for r in data.json["consent_records"]] == ["grant", "confirm"]
    assert post_form(client, f"{prefs}/forget", {"sure": "yes"}, page=prefs).status_code == 200
    assert _count(db, Person) == 0 and _count(db, ConsentRecord) == 0
    with db() as s:
        assert s.scalar(select(Suppression.reason)) == "erased"
        assert "person.erase" in s.scalars(select(AuditEvent.action)).all()
    assert client.get(prefs).status_code == 404
    # the erased address can never be added by staff or an import
    from crm.audit import Actor
    from crm.newsletter import services

    with db() as s:
        with pytest.raises(services.NewsletterError):
            services.add_manual(
                s,
                email=EMAIL,
                name="",
                list_id=services.default_list(s).id,
                method="verbal",
                note="",
                actor=Actor.cli(),
            )


def test_forget_for_a_client_becomes_a_request(app, client, db, inbox, auth_client):
    path = _subscribe_confirmed(client, inbox)
    person_id = _sub(db).person_id
    post_form(
        auth_client,
        f"/people/{person_id}/client",
        {"card-client_since": "2026-01-01", "card-art9_basis": ""},
        page=f"/people/{person_id}",
    )
    client.post(f"{path}/preferences-link")
    prefs = _link(inbox.last(EMAIL), "/preferences")
    post_form(client, f"{prefs}/forget", {"sure": "yes"}, page=prefs)
    assert _count(db, Person) == 1
    with db() as s:
        request = s.scalar(select(DataRequest))
    assert request.kind == "erasure" and request.status == "open"
    assert _sub(db).status == "unsubscribed"


def test_preferences_leave_one_list_and_join_another(app, client, db, inbox, auth_client):
    post_form(auth_client, "/newsletter/settings", {"list-name": "Kurser"})
    path = _subscribe_confirmed(client, inbox)
    client.post(f"{path}/preferences-link")
    prefs = _link(inbox.last(EMAIL), "/preferences")
    with db() as s:
        from crm.newsletter.models import MailingList

        kurser = s.scalar(select(MailingList).where(MailingList.name == "Kurser")).id
    post_form(client, prefs, {"lists": [str(kurser)]})
    with db() as s:
        statuses = dict(s.execute(select(Subscription.list_id, Subscription.status)).all())
    assert statuses[kurser] == "pending" and "unsubscribed" in statuses.values(), (statuses, kurser)
    assert _count(db, Suppression) == 0  # left one list, not everything
    assert "Bekräfta" in inbox.last(EMAIL)["Subject"]


def test_lists_on_the_signup_form_are_not_ticked_in_advance(app, client, db, auth_client):
    """With several lists, the person ticks the ones they want; ticking none is an error."""
    post_form(auth_client, "/newsletter/settings", {"list-name": "Kurser"})
    page = client.get("/subscribe").get_data(as_text=True)
    boxes = re.findall(r'<input type="checkbox" name="lists"[^>]*>', page)
    assert len(boxes) == 2 and not any("checked" in box for box in boxes)
    none = _signup(client, lists_offered="1")
    assert none.status_code == 422 and "Välj en lista" in none.get_data(as_text=True)
    assert _count(db, Subscription) == 0
    with db() as s:
        from crm.newsletter.models import MailingList

        kurser = s.scalar(select(MailingList).where(MailingList.name == "Kurser")).id
    assert _signup(client, lists_offered="1", lists=[str(kurser)]).status_code == 200
    with db() as s:
        assert s.scalars(select(Subscription.list_id)).all() == [kurser]


def test_consent_text_versions(app, client, db, auth_client, inbox):
    _signup(client, "first@example.se")
    post_form(
        auth_client,
        "/newsletter/settings",
        {"text-text": "Ja tack, skicka mig nyhetsbrevet om stresshantering varje månad."},
    )
    _signup(client, "second@example.se")
    with db() as s:
        rows = s.execute(
            select(Person.email, ConsentText.version)
            .join(ConsentRecord, ConsentRecord.person_id == Person.id)
            .join(ConsentText, ConsentText.id == ConsentRecord.consent_text_id)
        ).all()
    assert dict(rows) == {"first@example.se": 1, "second@example.se": 2}


def test_owner_adds_by_hand_only_with_consent_method(app, auth_client, db):
    with db() as s:
        from crm.newsletter import services

        list_id = services.default_list(s).id
        s.commit()
    response = post_form(
        auth_client,
        "/newsletter/add",
        {
            "email": "papper@example.se",
            "name": "Per",
            "list_id": list_id,
            "method": "",
        },
    )
    assert _count(db, Subscription) == 0 and response.status_code == 200
    soft = {
        "email": "papper@example.se",
        "name": "Per",
        "list_id": list_id,
        "method": "soft_opt_in",
        "note": "klient sedan 2024",
    }
    # soft opt-in (marknadsföringslagen 19 §) only for an existing client
    refused = post_form(auth_client, "/newsletter/add", soft).get_data(as_text=True)
    assert "befintliga klienter" in refused and _count(db, Subscription) == 0
    with db() as s:
        from crm.people.models import ClientCard

        per = Person(name="Per", email="papper@example.se")
        per.client_card = ClientCard()
        s.add(per)
        s.commit()
    post_form(auth_client, "/newsletter/add", soft)
    sub = _sub(db, "papper@example.se")
    assert sub.status == "active" and sub.legal_basis == "soft_opt_in"
    with db() as s:
        record = s.scalar(select(ConsentRecord))
    assert record.method == "soft_opt_in" and record.staff_user_id is not None


def test_owner_sees_timeline_and_unsubscribes_on_behalf(app, client, auth_client, inbox, db):
    _subscribe_confirmed(client, inbox)
    person_id = _sub(db).person_id
    listing = auth_client.get("/newsletter/?status=active").get_data(as_text=True)
    assert EMAIL in listing
    assert EMAIL not in auth_client.get("/newsletter/?status=unsubscribed").get_data(as_text=True)
    post_form(
        auth_client,
        f"/newsletter/people/{person_id}/unsubscribe",
        {},
        page=f"/newsletter/people/{person_id}",
    )
    page = auth_client.get(f"/newsletter/people/{person_id}").get_data(as_text=True)
    timeline = page[page.index('id="timeline"') :]
    assert (
        timeline.index("Samtycke lämnat")
        < timeline.index("Bekräftat")
        < timeline.index("Återkallat")
    )
    assert "av personal för deras räkning" in timeline
    assert "Registrerat av Test User" in timeline  # the staff member by name, not by id
    assert _count(db, Suppression) == 1


def test_purge_unconfirmed_signups(app, client, db, inbox):
    _signup(client, "stale@example.se")
    _signup(client, "fresh@example.se")
    with db() as s:
        stale = s.scalar(
            select(Subscription).join(Person).where(Person.email == "stale@example.se")
        )
        stale.created_at = utcnow() - timedelta(days=15)
        s.commit()
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["retention", "--dry-run"])
    assert "unconfirmed_signups: would delete 1" in dry.output and _count(db, Person) == 2
    result = runner.invoke(args=["retention"])
    assert result.exit_code == 0, result.output
    with db() as s:
        assert s.scalars(select(Person.email)).all() == ["fresh@example.se"]


def test_purging_a_stale_signup_keeps_a_patient_and_their_journal(app, client, db, inbox):
    """A patient who signs up on the website and never confirms keeps everything else."""
    from crm.people.models import JournalEntry

    _signup(client, "patient@example.se")
    with db() as s:
        sub = s.scalar(
            select(Subscription).join(Person).where(Person.email == "patient@example.se")
        )
        sub.created_at = utcnow() - timedelta(days=15)
        s.add(JournalEntry(person_id=sub.person_id, text="Samtal 1", written_at=utcnow()))
        s.commit()
    result = app.test_cli_runner().invoke(args=["retention"])
    assert result.exit_code == 0, result.output
    with db() as s:
        assert s.scalars(select(Person.email)).all() == ["patient@example.se"]
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == 1
        assert s.scalar(select(func.count()).select_from(Subscription)) == 0  # only the sign-up
    # a patient (journal, no client card) who asks to be forgotten gets a request, not an
    # immediate erasure: the owner decides what the journal hold keeps
    _subscribe_confirmed(client, inbox, "patient@example.se")
    with app.app_context():
        from crm.audit import Actor
        from crm.db import get_session
        from crm.newsletter import services

        session = get_session()
        patient = services.find_person(session, "patient@example.se")
        assert privacy_forget.forget(session, patient, Actor("public")) == "requested"


def test_unsubscribe_url_command(app, client, inbox, db):
    _subscribe_confirmed(client, inbox)
    result = app.test_cli_runner().invoke(args=["unsubscribe-url", EMAIL.upper()])
    url = result.output.strip()
    assert url.startswith("http://localhost/u/")
    assert app.test_client().post(url.removeprefix("http://localhost")).status_code == 200
    assert _sub(db).status == "unsubscribed"
    missing = app.test_cli_runner().invoke(args=["unsubscribe-url", "nobody@example.se"])
    assert missing.exit_code != 0


def test_dashboard_shows_subscribers_and_overdue_requests(app, client, auth_client, inbox, db):
    _subscribe_confirmed(client, inbox)
    with db() as s:
        person = s.scalar(select(Person))
        s.add(
            DataRequest(
                person_id=person.id,
                kind="erasure",
                channel="email",
                due_at=utcnow() - timedelta(days=1),
            )
        )
        s.commit()
    page = auth_client.get("/").get_data(as_text=True)
    assert 'id="requests"' in page and "försenad" in page and "radering" in page


def test_file_mail_backend_for_development(app, tmp_path):
    from email import message_from_bytes

    from crm import mail

    app.config["MAIL_BACKEND"] = "file"
    app.instance_path = str(tmp_path)
    with app.app_context():
        mail.send(
            mail.build("a@example.se", "Ämne", "Hej", sender="P", unsubscribe_url="https://x/u/t")
        )
    files = list((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 1
    msg = message_from_bytes(files[0].read_bytes())
    assert msg["List-Unsubscribe"] == "<https://x/u/t>" and msg["To"] == "a@example.se"


def test_tampered_confirm_and_expired_preferences_links(app, client, inbox, monkeypatch):
    assert client.get("/confirm/garbage").status_code == 400
    assert client.get("/preferences/garbage").status_code == 400
    path = _subscribe_confirmed(client, inbox)
    client.post(f"{path}/preferences-link")
    prefs = _link(inbox.last(EMAIL), "/preferences")
    import time

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 31 * 86400)
    assert client.get(prefs).status_code == 410
    assert client.post(path).status_code == 200  # unsubscribe links never expire
