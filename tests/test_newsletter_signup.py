"""Newsletter sign-up and double opt-in through the real pages, SMTP server and database."""

from __future__ import annotations

import re
import time
from email import message_from_bytes

from sqlalchemy import select

from crm import mail
from crm.newsletter.models import ConsentRecord
from crm.newsletter.models import ConsentText
from crm.newsletter.models import MailingList
from crm.newsletter.models import Subscription
from crm.newsletter.models import Suppression
from crm.people.models import Person
from tests.helpers import EMAIL
from tests.helpers import count_rows
from tests.helpers import mail_link
from tests.helpers import post_form
from tests.helpers import signup
from tests.helpers import subscribe_confirmed
from tests.helpers import subscription_of


def test_signup_form_has_unticked_consent_honeypot_and_policy_link(app, client):
    page = client.get("/subscribe").get_data(as_text=True)
    consent = re.search(r'<input type="checkbox" id="consent"[^>]*>', page).group(0)
    assert "checked" not in consent
    assert 'name="website"' in page and 'href="/integritetspolicy"' in page
    assert client.get("/integritetspolicy").status_code == 200


def test_signup_needs_consent_and_a_valid_address(app, client, db, inbox):
    assert signup(client, consent="").status_code == 422
    assert signup(client, email="not-an-address").status_code == 422
    assert count_rows(db, Person) == 0 and inbox.messages == []


def test_double_opt_in_records_proof(app, client, db, inbox):
    assert signup(client).status_code == 200
    mail = inbox.last(EMAIL)
    assert mail["Subject"] == "Bekräfta din prenumeration"
    assert "List-Unsubscribe" not in mail  # transactional, not marketing
    assert subscription_of(db).status == "pending"
    confirm = mail_link(mail, "/confirm")
    # a link scanner's GET confirms nothing
    assert client.get(confirm).status_code == 200
    assert subscription_of(db).status == "pending"
    assert post_form(client, confirm, {}).status_code == 200
    assert subscription_of(db).status == "active"
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


def test_resubscribing_needs_a_new_double_opt_in(app, client, db, inbox):
    path = subscribe_confirmed(client, inbox)
    client.post(path)
    assert count_rows(db, Suppression) == 1
    signup(client)
    # the anonymous sign-up changes nothing: the withdrawal stands until the click
    assert subscription_of(db).status == "unsubscribed" and count_rows(db, Suppression) == 1
    post_form(client, mail_link(inbox.last(EMAIL), "/confirm"), {})
    assert subscription_of(db).status == "active" and count_rows(db, Suppression) == 0


def test_expired_confirmation_link(app, client, inbox, monkeypatch):
    signup(client)
    confirm = mail_link(inbox.last(EMAIL), "/confirm")

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 8 * 86400)
    assert client.get(confirm).status_code == 410


def test_honeypot_stores_nothing(app, client, db, inbox):
    response = signup(client, website="http://spam.example")
    assert response.status_code == 200
    assert count_rows(db, Person) == 0 and inbox.messages == []


def test_signup_rate_limits(app, client, db, inbox):
    app.config["SIGNUP_MAX_PER_EMAIL_DAY"] = 2
    assert [signup(client).status_code for _ in range(3)] == [200, 200, 429]
    assert len(inbox.messages) == 2


def test_json_signup_with_cors(app, client, db, inbox):
    preflight = client.options("/subscribe")
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    response = client.post("/subscribe", json={"email": "json@example.se", "consent": True})
    assert response.status_code == 202 and response.json == {"status": "pending"}
    assert inbox.last("json@example.se")
    assert subscription_of(db, "json@example.se").source == "api"
    bad = client.post("/subscribe", json={"email": "json@example.se", "consent": "yes"})
    assert bad.status_code == 422 and "error" in bad.json
    assert (
        client.post("/subscribe", data="{nope", content_type="application/json").status_code == 400
    )


def test_mail_server_down_keeps_the_signup(app, client, db):
    app.config["SMTP_PORT"] = 1  # nothing listens there
    response = signup(client)
    assert response.status_code == 503
    assert "Mejlet kunde inte skickas" in response.get_data(as_text=True)
    assert subscription_of(db).status == "pending"


def test_lists_on_the_signup_form_are_not_ticked_in_advance(app, client, db, auth_client):
    """With several lists, the person ticks the ones they want; ticking none is an error."""
    post_form(auth_client, "/newsletter/settings", {"list-name": "Kurser"})
    page = client.get("/subscribe").get_data(as_text=True)
    boxes = re.findall(r'<input type="checkbox" name="lists"[^>]*>', page)
    assert len(boxes) == 2 and not any("checked" in box for box in boxes)
    none = signup(client, lists_offered="1")
    assert none.status_code == 422 and "Välj en lista" in none.get_data(as_text=True)
    assert count_rows(db, Subscription) == 0
    with db() as s:
        kurser = s.scalar(select(MailingList).where(MailingList.name == "Kurser")).id
    assert signup(client, lists_offered="1", lists=[str(kurser)]).status_code == 200
    with db() as s:
        assert s.scalars(select(Subscription.list_id)).all() == [kurser]


def test_consent_text_versions(app, client, db, auth_client, inbox):
    signup(client, "first@example.se")
    post_form(
        auth_client,
        "/newsletter/settings",
        {"text-text": "Ja tack, skicka mig nyhetsbrevet om stresshantering varje månad."},
    )
    signup(client, "second@example.se")
    with db() as s:
        rows = s.execute(
            select(Person.email, ConsentText.version)
            .join(ConsentRecord, ConsentRecord.person_id == Person.id)
            .join(ConsentText, ConsentText.id == ConsentRecord.consent_text_id)
        ).all()
    assert dict(rows) == {"first@example.se": 1, "second@example.se": 2}


def test_file_mail_backend_for_development(app, tmp_path):
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
