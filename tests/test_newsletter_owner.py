"""The owner's side of the newsletter: manual adds, the subscriber list and timeline."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from crm.db import utcnow
from crm.newsletter import mailing_lists
from crm.newsletter.models import ConsentRecord
from crm.newsletter.models import Subscription
from crm.newsletter.models import Suppression
from crm.people.models import ClientCard
from crm.people.models import Person
from crm.privacy.models import DataRequest
from tests.helpers import EMAIL
from tests.helpers import count_rows
from tests.helpers import post_form
from tests.helpers import subscribe_confirmed
from tests.helpers import subscription_of


def test_owner_adds_by_hand_only_with_consent_method(app, auth_client, db, make_person):
    with db() as s:
        list_id = mailing_lists.default_list(s).id
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
    assert count_rows(db, Subscription) == 0 and response.status_code == 200
    soft = {
        "email": "papper@example.se",
        "name": "Per",
        "list_id": list_id,
        "method": "soft_opt_in",
        "note": "klient sedan 2024",
    }
    # soft opt-in (marknadsföringslagen 19 §) only for an existing client
    refused = post_form(auth_client, "/newsletter/add", soft).get_data(as_text=True)
    assert "befintliga klienter" in refused and count_rows(db, Subscription) == 0
    make_person("Per", "papper@example.se", client_card=ClientCard())
    post_form(auth_client, "/newsletter/add", soft)
    sub = subscription_of(db, "papper@example.se")
    assert sub.status == "active" and sub.legal_basis == "soft_opt_in"
    with db() as s:
        record = s.scalar(select(ConsentRecord))
    assert record.method == "soft_opt_in" and record.staff_user_id is not None


def test_owner_sees_timeline_and_unsubscribes_on_behalf(app, client, auth_client, inbox, db):
    subscribe_confirmed(client, inbox)
    person_id = subscription_of(db).person_id
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
    assert count_rows(db, Suppression) == 1


def test_dashboard_shows_subscribers_and_overdue_requests(app, client, auth_client, inbox, db):
    subscribe_confirmed(client, inbox)
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
