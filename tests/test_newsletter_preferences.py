"""The subscriber's own preferences page: lists, their data, and "forget me"."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.audit import Actor
from crm.audit import AuditEvent
from crm.newsletter import common as newsletter_common
from crm.newsletter import mailing_lists
from crm.newsletter import subscribing
from crm.newsletter.models import ConsentRecord
from crm.newsletter.models import MailingList
from crm.newsletter.models import Subscription
from crm.newsletter.models import Suppression
from crm.people.models import Person
from crm.privacy.models import DataRequest
from tests.helpers import EMAIL
from tests.helpers import count_rows
from tests.helpers import mail_link
from tests.helpers import post_form
from tests.helpers import subscribe_confirmed
from tests.helpers import subscription_of


def test_preferences_lists_download_and_forget(app, client, db, inbox):
    path = subscribe_confirmed(client, inbox)
    response = client.post(f"{path}/preferences-link")
    assert response.status_code == 200
    prefs = mail_link(inbox.last(EMAIL), "/preferences")
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
    assert count_rows(db, Person) == 0 and count_rows(db, ConsentRecord) == 0
    with db() as s:
        assert s.scalar(select(Suppression.reason)) == "erased"
        assert "person.erase" in s.scalars(select(AuditEvent.action)).all()
    assert client.get(prefs).status_code == 404
    # the erased address can never be added by staff or an import

    with db() as s:
        with pytest.raises(newsletter_common.NewsletterError):
            subscribing.add_manual(
                s,
                email=EMAIL,
                name="",
                list_id=mailing_lists.default_list(s).id,
                method="verbal",
                note="",
                actor=Actor.cli(),
            )


def test_forget_for_a_client_becomes_a_request(app, client, db, inbox, auth_client):
    path = subscribe_confirmed(client, inbox)
    person_id = subscription_of(db).person_id
    post_form(
        auth_client,
        f"/people/{person_id}/client",
        {"card-client_since": "2026-01-01", "card-art9_basis": ""},
        page=f"/people/{person_id}",
    )
    client.post(f"{path}/preferences-link")
    prefs = mail_link(inbox.last(EMAIL), "/preferences")
    post_form(client, f"{prefs}/forget", {"sure": "yes"}, page=prefs)
    assert count_rows(db, Person) == 1
    with db() as s:
        request = s.scalar(select(DataRequest))
    assert request.kind == "erasure" and request.status == "open"
    assert subscription_of(db).status == "unsubscribed"


def test_preferences_leave_one_list_and_join_another(app, client, db, inbox, auth_client):
    post_form(auth_client, "/newsletter/settings", {"list-name": "Kurser"})
    path = subscribe_confirmed(client, inbox)
    client.post(f"{path}/preferences-link")
    prefs = mail_link(inbox.last(EMAIL), "/preferences")
    with db() as s:
        kurser = s.scalar(select(MailingList).where(MailingList.name == "Kurser")).id
    post_form(client, prefs, {"lists": [str(kurser)]})
    with db() as s:
        statuses = dict(s.execute(select(Subscription.list_id, Subscription.status)).all())
    assert statuses[kurser] == "pending" and "unsubscribed" in statuses.values(), (statuses, kurser)
    assert count_rows(db, Suppression) == 0  # left one list, not everything
    assert "Bekräfta" in inbox.last(EMAIL)["Subject"]
