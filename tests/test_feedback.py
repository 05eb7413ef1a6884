"""Feedback says what happened, and only that (issue 16 defect 10)."""

from __future__ import annotations

from crm.audit import Actor
from crm.db import utcnow
from crm.people.models import Person
from crm.privacy import data_requests
from crm.privacy.models import DataRequest
from tests.conftest import post_form


def _request(app, kind: str) -> int:
    with app.app_context():
        from crm.db import get_session

        s = get_session()
        person = Person(name="Karin Klient", email="karin@example.se")
        s.add(person)
        s.flush()
        row = data_requests.open_request(s, person, kind, "email", utcnow(), Actor.cli())
        data_requests.verify_identity(s, row, "known address", Actor.cli())
        s.commit()
        return row.id


def test_mailing_a_download_link_says_where_it_went(app, auth_client, inbox):
    rid = _request(app, "access")
    response = post_form(
        auth_client,
        f"/privacy/requests/{rid}/export-link",
        {},
        page=f"/privacy/requests/{rid}",
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "En nedladdningslänk är mejlad till karin@example.se" in html
    assert inbox.last("karin@example.se")


def test_an_erasure_without_providers_is_reported_as_completed(app, auth_client, db, inbox):
    rid = _request(app, "erasure")
    response = post_form(
        auth_client,
        f"/privacy/requests/{rid}/erase",
        {},
        page=f"/privacy/requests/{rid}",
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    with db() as s:
        assert s.get(DataRequest, rid).status == "completed"
    assert "Begäran är klar" in html and "när alla e-posttjänster" not in html
    receipt = inbox.last("karin@example.se").get_content()
    assert "mottagare" not in receipt  # no provider was set up: none was asked


def test_sync_now_without_a_provider_says_there_is_nothing_to_sync(app, auth_client, db):
    page = auth_client.get("/integrations/").get_data(as_text=True)
    assert 'id="no-provider"' in page and "Synkronisera nu" not in page
    assert "CRM_" not in page and "README" not in page
    response = post_form(
        auth_client, "/integrations/retry", {}, page="/auth/account", follow_redirects=True
    )
    assert "inget att synkronisera" in response.get_data(as_text=True)
    with db() as s:
        from crm.sync.models import SyncRun

        assert s.query(SyncRun).count() == 0  # no run that would say "all done"


def test_a_provider_missing_its_list_says_so_in_words(app, auth_client):
    app.config["MAILERLITE_API_KEY"] = "key"
    page = auth_client.get("/integrations/").get_data(as_text=True)
    assert "Saknas: gruppens id." in page and "MAILERLITE_GROUP_ID" not in page


def test_a_withdrawn_testimonial_is_not_headed_as_it_will_be_shown(app, auth_client, db):
    with app.app_context():
        from crm.db import get_session
        from crm.testimonials import services

        s = get_session()
        person = Person(name="Karin Klient", email="karin@example.se")
        s.add(person)
        s.flush()
        t = services.create(s, person, "Tack!", "first_name", Actor.cli())
        services.revoke(s, t, "client_link", Actor.cli())
        s.commit()
        tid = t.id
    html = auth_client.get(f"/testimonials/{tid}").get_data(as_text=True)
    assert "Återkallat: visas ingenstans" in html and "Så som det kommer att visas" not in html
