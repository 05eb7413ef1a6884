"""The privacy portal (/integritet): requests from anyone, confirmed by mail, never disclosing.

Issue 15, part 4. Each test is named after what it proves; they were written before the
portal existed, when every one of them failed (404 on /integritet).
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import select

from crm.audit import Actor
from crm.audit import AuditEvent
from crm.db import get_session
from crm.db import utcnow
from crm.privacy import data_requests
from crm.privacy import portal
from crm.privacy import retention
from crm.privacy.data_requests import KINDS
from crm.privacy.data_requests import add_months
from crm.privacy.models import DataRequest
from crm.privacy.models import PortalRequest
from tests.helpers import csrf_token
from tests.helpers import login
from tests.helpers import post_form

EMAIL = "karin.klient@example.se"
NAME = "Karin Klient"


def _file(client, **fields):
    data = {"kind": "access", "email": EMAIL, "name": NAME, **fields}
    return post_form(client, "/integritet", data, follow_redirects=True)


def _link(mail, path: str) -> str:
    return re.search(rf"http://localhost({path}/\S+)", mail.get_content()).group(1)


def _tampered(url: str) -> str:
    """The link with one character of its signature changed."""
    return url[:-3] + ("A" if url[-3] != "A" else "B") + url[-2:]


def _count(db, model) -> int:
    with db() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _confirm(client, url: str):
    page = client.get(url)
    assert page.status_code == 200
    token = csrf_token(page.get_data(as_text=True))
    return client.post(url, data={"csrf_token": token}, follow_redirects=True)


@pytest.mark.parametrize("kind", KINDS)
def test_portal_each_kind_lands_on_the_dashboard_only_after_the_address_is_confirmed(
    app, client, auth_client_factory, db, inbox, kind
):
    response = _file(client, kind=kind, details="Telefonnumret är fel: ska vara 070-1234567")
    assert response.status_code == 200
    assert "Titta i din inkorg" in response.get_data(as_text=True)
    assert _count(db, DataRequest) == 0  # not before the confirmation
    mail = inbox.last(EMAIL)
    confirm = _link(mail, "/integritet/bekrafta")
    assert _link(mail, "/integritet/status")
    assert client.get(confirm).status_code == 200
    assert _count(db, DataRequest) == 0  # a GET (a link scanner) confirms nothing
    before = time.time()
    done = _confirm(client, confirm)
    assert done.status_code == 200
    with db() as s:
        row = s.scalar(select(DataRequest))
        assert (row.kind, row.channel, row.status) == (kind, "portal", "open")
        # due one month from the confirmation, not from the filing
        assert row.received_at.timestamp() >= before - 1
        assert row.due_at == add_months(row.received_at, 1)
    receipt = inbox.last(EMAIL)
    assert "/integritet/status/" in receipt.get_content()
    owner = auth_client_factory()
    dashboard = owner.get("/").get_data(as_text=True)
    assert f"/privacy/requests/{row.id}" in dashboard
    detail = owner.get(f"/privacy/requests/{row.id}").get_data(as_text=True)
    assert "portal-filing" in detail and EMAIL in detail


@pytest.fixture
def auth_client_factory(app, make_user):
    """A second client, logged in as the owner, beside the anonymous one."""

    def factory():
        c = app.test_client()
        login(c, app, make_user())
        return c

    return factory


def test_portal_representative_names_whom_and_role_and_is_not_linked_by_address(
    app, client, auth_client_factory, db, inbox, make_person
):
    make_person(NAME, EMAIL)  # the representative's own address is a client's: still not linked
    response = _file(
        client,
        kind="erasure",
        **{"for": "other", "represented_name": "Olle Klient", "representative_role": "guardian"},
    )
    assert response.status_code == 200
    _confirm(client, _link(inbox.last(EMAIL), "/integritet/bekrafta"))
    with db() as s:
        filing = s.scalar(select(PortalRequest))
        assert (filing.represented_name, filing.representative_role) == ("Olle Klient", "guardian")
        assert filing.request.person_id is None  # the practice links it after the mandate check
        request_id = filing.request_id
    detail = auth_client_factory().get(f"/privacy/requests/{request_id}").get_data(as_text=True)
    assert "Olle Klient" in detail and "Vårdnadshavare" in detail


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"for": "other", "representative_role": "guardian"}, "personen du företräder"),
        ({"for": "other", "represented_name": "Olle"}, "din roll"),
        ({"for": "other", "represented_name": "Olle", "representative_role": "king"}, "din roll"),
        ({"email": "not-an-address"}, "giltig e-postadress"),
        ({"name": "  "}, "ditt namn"),
        ({"name": "x" * 5000}, "för lång"),
        ({"kind": "rectification"}, "vad som är fel"),
        ({"kind": "everything"}, "vad du begär"),
    ],
)
def test_portal_bad_input_gets_a_clear_error_keeps_what_was_typed_and_stores_nothing(
    app, client, db, inbox, fields, message
):
    response = _file(client, details="", **fields)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body
    assert 'id="portal-error"' in body
    if "email" not in fields:
        assert EMAIL in body  # what was typed stays in the form
    assert _count(db, PortalRequest) == 0 and inbox.messages == []


def test_portal_unknown_and_known_address_get_the_same_answer_and_the_same_mail(
    app, client, db, inbox, make_person
):
    make_person(NAME, "known@example.se")
    read_person: list[str] = []

    def _seen(_conn, _cursor, statement, *_args):
        if re.search(r"\bperson\b", statement):
            read_person.append(statement)

    with app.app_context():
        engine = get_session().get_bind()
    event.listen(engine, "before_cursor_execute", _seen)
    try:
        known = _file(client, email="known@example.se")
        unknown = _file(client, email="nobody@example.se")
    finally:
        event.remove(engine, "before_cursor_execute", _seen)
    assert read_person == []  # nothing is looked up before the confirmation
    assert (known.status_code, unknown.status_code) == (200, 200)
    # the same page, byte for byte, but for the language switch's CSRF token (time-stamped)
    token = re.compile(r'name="csrf_token" value="[^"]*"')
    assert token.sub("", known.get_data(as_text=True)) == token.sub(
        "", unknown.get_data(as_text=True)
    )
    # both mails went out before each answer: the same timing
    to_known, to_unknown = inbox.last("known@example.se"), inbox.last("nobody@example.se")
    strip = re.compile(r"http://localhost/\S+")
    assert strip.sub("", to_known.get_content()) == strip.sub("", to_unknown.get_content())
    assert to_known["Subject"] == to_unknown["Subject"]


def test_portal_request_for_oneself_is_linked_to_the_person_with_the_confirmed_address(
    app, client, db, inbox, make_person
):
    pid = make_person(NAME, EMAIL)
    _file(client, kind="access")
    _confirm(client, _link(inbox.last(EMAIL), "/integritet/bekrafta"))
    with db() as s:
        assert s.scalar(select(DataRequest.person_id)) == pid


def test_portal_confirmation_is_idempotent(app, client, db, inbox):
    _file(client)
    confirm = _link(inbox.last(EMAIL), "/integritet/bekrafta")
    assert _confirm(client, confirm).status_code == 200
    mails = len(inbox.messages)
    assert _confirm(client, confirm).status_code == 200
    assert _count(db, DataRequest) == 1
    assert len(inbox.messages) == mails  # no second receipt


def test_portal_rate_limit_per_address_and_per_ip(app, client, db, inbox):
    app.config["PORTAL_MAX_PER_EMAIL_DAY"] = 2
    assert [_file(client).status_code for _ in range(3)] == [200, 200, 429]
    assert _count(db, PortalRequest) == 2 and len(inbox.messages) == 2
    app.config["PORTAL_MAX_PER_IP_HOUR"] = 2
    # another address from the same IP, which has filed twice this hour
    assert _file(client, email="other@example.se").status_code == 429
    assert _count(db, PortalRequest) == 2 and len(inbox.messages) == 2


def test_portal_honeypot_stores_and_sends_nothing(app, client, db, inbox):
    response = _file(client, website="http://spam.example")
    assert response.status_code == 200
    assert "Titta i din inkorg" in response.get_data(as_text=True)
    assert _count(db, PortalRequest) == 0 and inbox.messages == []


def test_portal_form_needs_its_csrf_token(app, client, db, inbox):
    response = client.post("/integritet", data={"kind": "access", "email": EMAIL, "name": NAME})
    assert response.status_code == 400
    assert _count(db, PortalRequest) == 0 and inbox.messages == []


def test_portal_tampered_and_expired_links(app, client, db, inbox, monkeypatch):
    _file(client)
    mail = inbox.last(EMAIL)
    confirm, status = _link(mail, "/integritet/bekrafta"), _link(mail, "/integritet/status")
    token = confirm.rsplit("/", 1)[1]
    assert client.get(_tampered(confirm)).status_code == 400
    assert client.get(_tampered(status)).status_code == 400
    # one purpose's token does not work for the other
    assert client.get(f"/integritet/status/{token}").status_code == 400
    assert client.get("/integritet/bekrafta/" + status.rsplit("/", 1)[1]).status_code == 400
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 8 * 86400)
    assert client.get(confirm).status_code == 410
    assert client.get(status).status_code == 200  # the status link lasts longer
    monkeypatch.setattr(time, "time", lambda: real() + 366 * 86400)
    assert client.get(status).status_code == 410
    assert _count(db, DataRequest) == 0


def test_portal_status_page_follows_the_request_and_shows_nothing_typed(
    app, client, auth_client_factory, db, inbox
):
    _file(
        client,
        kind="erasure",
        details="Allt om mig",
        **{"for": "other", "represented_name": "Olle Klient", "representative_role": "trustee"},
    )
    mail = inbox.last(EMAIL)
    status = _link(mail, "/integritet/status")

    def stage() -> str:
        body = client.get(status).get_data(as_text=True)
        for typed in (EMAIL, NAME, "Olle Klient", "Allt om mig"):
            assert typed not in body
        return re.search(r'data-stage="(\w+)"', body).group(1)

    assert stage() == "awaiting_confirmation"
    _confirm(client, _link(mail, "/integritet/bekrafta"))
    assert stage() == "identity_check"
    assert "Identitetskontroll behövs" in client.get(status).get_data(as_text=True)
    with db() as s:
        request_id = s.scalar(select(DataRequest.id))
    owner = auth_client_factory()
    detail = f"/privacy/requests/{request_id}"
    post_form(owner, f"{detail}/identity", {"id-method": "id_document"}, page=detail)
    assert stage() == "in_progress"
    post_form(
        owner, f"{detail}/extend", {"ext-months": "1", "ext-reason": "Många arkiv"}, page=detail
    )
    body = client.get(status).get_data(as_text=True)
    assert "Förlängd" in body and "Många arkiv" in body
    # the extension notice went to the address confirmed in the portal (no person is linked)
    assert "Många arkiv" in inbox.last(EMAIL).get_content()
    post_form(owner, f"{detail}/refuse", {"no-text": "Förordnandet gäller inte detta"}, page=detail)
    assert stage() == "refused"
    body = client.get(status).get_data(as_text=True)
    assert "IMY" in body and "Förordnandet" not in body
    refusal = inbox.last(EMAIL).get_content()
    assert "Förordnandet gäller inte detta" in refusal and "IMY" in refusal


def test_portal_completed_request_shows_done(app, client, db, inbox):
    _file(client)
    mail = inbox.last(EMAIL)
    _confirm(client, _link(mail, "/integritet/bekrafta"))
    with app.app_context():
        s = get_session()
        data_requests.complete(s, s.scalar(select(DataRequest)), "Utdrag skickat", Actor.cli())
        s.commit()
    body = client.get(_link(mail, "/integritet/status")).get_data(as_text=True)
    assert 'data-stage="completed"' in body and "Klar" in body


def test_portal_audit_rows_hold_no_address_or_name(app, client, db, inbox):
    _file(
        client,
        **{"for": "other", "represented_name": "Olle Klient", "representative_role": "other"},
    )
    _confirm(client, _link(inbox.last(EMAIL), "/integritet/bekrafta"))
    with db() as s:
        rows = s.scalars(select(AuditEvent)).all()
        assert {"privacy.portal_filed", "privacy.request"} <= {r.action for r in rows}
        text = " ".join(f"{r.details} {r.object_id}" for r in rows)
    for typed in (EMAIL, NAME, "Olle Klient"):
        assert typed not in text


def test_portal_unconfirmed_filings_are_purged_by_retention(app, client, db, inbox):
    _file(client)
    _file(client, email="other@example.se")
    _confirm(client, _link(inbox.last("other@example.se"), "/integritet/bekrafta"))
    with app.app_context():
        s = get_session()
        later = utcnow() + timedelta(days=15)
        assert portal.purge_unconfirmed(s, later, dry_run=True) == 1
        assert portal.purge_unconfirmed(s, later) == 1
        s.commit()
    assert _count(db, PortalRequest) == 1 and _count(db, DataRequest) == 1


def test_portal_pages_are_swedish_english_on_request_with_headers(app, client):
    page = client.get("/integritet")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "Dina personuppgifter" in body
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    assert 'name="website"' in body  # the honeypot
    switched = post_form(client, "/lang", {"lang": "en", "next": "/integritet"}, page="/integritet")
    assert switched.headers["Location"] == "/integritet"
    assert "Your personal data" in client.get("/integritet").get_data(as_text=True)


def test_privacy_policy_links_to_the_portal(app, client, db):
    from crm import controllers

    with db() as s:
        first = controllers.first(s)
        first.name, first.address, first.contact_email = "Mottagningen", "Gatan 1", "a@b.se"
        s.commit()
    body = client.get("/integritetspolicy").get_data(as_text=True)
    assert 'href="/integritet"' in body


def test_portal_posts_redirect_to_pages_a_reload_cannot_refile(app, client, db, inbox):
    data = {"kind": "objection", "email": EMAIL, "name": NAME}
    filed = post_form(client, "/integritet", data)
    assert (filed.status_code, filed.headers["Location"]) == (303, "/integritet/skickat")
    mail = inbox.last(EMAIL)
    status = _link(mail, "/integritet/status")
    received = status.replace("/integritet/status/", "/integritet/mottagen/")
    # before the confirmation the "received" page sends the person to the status page
    assert client.get(received).headers["Location"] == status
    confirm = _link(mail, "/integritet/bekrafta")
    token = csrf_token(client.get(confirm).get_data(as_text=True))
    done = client.post(confirm, data={"csrf_token": token})
    # the page after the confirmation is signed anew (a timed token), so it names the same
    # filing as the mailed link but need not be the same string once a second has passed
    location = done.headers["Location"]
    assert done.status_code == 303 and location.startswith("/integritet/mottagen/")
    page = client.get(location).get_data(as_text=True)
    own_status = location.replace("/integritet/mottagen/", "/integritet/status/")
    assert "Vi har tagit emot din begäran" in page and f'href="{own_status}"' in page
    # and the mailed "received" link leads to the same page now that it is confirmed
    assert "Vi har tagit emot din begäran" in client.get(received).get_data(as_text=True)
    assert _count(db, PortalRequest) == 1 and _count(db, DataRequest) == 1


def test_portal_filing_goes_with_its_request_when_the_request_log_period_ends(
    app, client, db, inbox
):
    _file(client)
    _confirm(client, _link(inbox.last(EMAIL), "/integritet/bekrafta"))
    with app.app_context():
        s = get_session()
        data_requests.complete(s, s.scalar(select(DataRequest)), "Utdrag skickat", Actor.cli())
        s.commit()
        retention.run(s, now=utcnow() + timedelta(days=6 * 366))
        s.commit()
    assert _count(db, DataRequest) == 0 and _count(db, PortalRequest) == 0
