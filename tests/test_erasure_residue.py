"""Issue 11, finding 5: an erasure leaves nothing of the person outside legally kept records.

An outbox error kept ``DELETE contacts/erase.me%40...`` in ``last_error`` and showed it on
/integrations/; stored provider events (the address and the raw payload) survived the erasure.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

from sqlalchemy import select

from crm.audit import Actor
from crm.db import Base
from crm.db import get_session
from crm.db import utcnow
from crm.newsletter import suppression
from crm.newsletter.models import Suppression
from crm.outbox import OutboxOp
from crm.people.models import Person
from crm.privacy import erasure
from crm.security import ratelimit
from crm.sync import events as sync_events
from crm.sync.models import ProviderEvent
from integrations.base import endpoint
from integrations.errors import ProviderRejected
from integrations.errors import ProviderUnavailable
from integrations.errors import redact
from integrations.types import ContactEvent
from integrations.types import EventType
from tests.test_erasure import _settings
from tests.test_registry import EMAIL
from tests.test_registry import NAME
from tests.test_registry import PHONE
from tests.test_registry import sample_person
from tests.test_sync import _sync
from tests.test_sync import fakes  # noqa: F401 - the fake providers fixture

#: Legally kept after a profile A erasure: the patient's identity stays with the journal
#: (patientdatalagen 3 kap. 17 §). Nothing else may hold anything of the person.
ALLOWED = {
    ("person", "name"),
    ("person", "name_key"),
    ("person", "surname_key"),
    ("person", "personnummer"),
}


def test_finding_5_redact_removes_addresses_plain_and_percent_encoded():
    for text in (
        "DELETE contacts/erase.me%40example.com failed",
        "DELETE contacts/ERASE.ME%2540EXAMPLE.COM failed",
        "erase.me@example.com is already a list member",
        "a+b@sub.example.co.uk: invalid",
        "a%2Bb%40example.se",
    ):
        cleaned = redact(text)
        assert "@" not in cleaned and "%40" not in cleaned.lower(), cleaned
        assert "example" not in cleaned and "<address>" in cleaned
    assert redact("brevo: 503 on DELETE contacts") == "brevo: 503 on DELETE contacts"
    # the class: every integration error, whoever raises it, and any request path
    assert "@" not in str(ProviderRejected(400, "Member Exists", "x@example.se is a member"))
    assert "%40" not in str(ProviderUnavailable("brevo: 503 on DELETE contacts/x%40example.se"))
    assert endpoint("contacts/erase.me%40example.com") == "contacts/*"
    assert (
        endpoint("lists/7/members/0f2f7d9c3e1b4a5c6d7e8f9a0b1c2d3e/actions/delete-permanent")
        == "lists/*/members/*/actions/delete-permanent"
    )


def test_finding_5_a_failing_erase_stores_and_shows_no_address(
    app,
    db,
    auth_client,
    fakes,  # noqa: F811
    make_subscriber,
):
    email = "erase.me@example.com"
    make_subscriber(email, "Erik Erase")
    assert _sync(app)[0] == 0
    with db() as s:
        erasure.execute(s, s.scalar(select(Person).where(Person.email == email)), Actor.cli())
        s.commit()
    fakes["brevo"].faults += [503, 503, 503, 503]
    assert _sync(app)[0] != 0
    with db() as s:
        errors = [e for e in s.scalars(select(OutboxOp.last_error)) if e]
    assert errors and "contacts/*" in errors[0]
    for text in errors:
        assert "erase.me" not in text and "%40" not in text and "@" not in text
    page = auth_client.get("/integrations/").get_data(as_text=True)
    assert "503 on DELETE contacts/*" in page
    assert "erase.me" not in page and "%40" not in page


def _needles() -> dict[str, str]:
    """Everything that would identify the sample person, in every form it could be stored."""
    digits = "".join(c for c in PHONE if c.isdigit())
    return {
        "email": EMAIL,
        "email percent-encoded": quote(EMAIL, safe=""),
        "name": NAME,
        "name lower-cased": NAME.lower(),
        "surname": NAME.split()[-1].lower(),
        "phone": PHONE,
        "phone digits": digits,
        "personnummer": "811228-9874",
        "personnummer twelve digits": "198112289874",
        "personnummer ten digits": "8112289874",
        "md5 of the address (Mailchimp's subscriber hash)": hashlib.md5(EMAIL.encode()).hexdigest(),
        "sha256 of the address": hashlib.sha256(EMAIL.encode()).hexdigest(),
        "sign-up throttle bucket": ratelimit.bucket("signup-email", EMAIL),
    }


def _dump(s: Any) -> list[tuple[str, str, str]]:
    """Every text value of every table, encrypted columns decrypted by the app's own types."""
    out = []
    for table in Base.metadata.sorted_tables:
        for row in s.execute(select(table)).mappings():
            for column, value in row.items():
                if value is not None:
                    out.append((table.name, column, str(value).lower()))
    return out


def test_finding_5_nothing_of_the_person_remains_after_erasure_and_confirmation(
    app,
    db,
    auth_client,
    fakes,  # noqa: F811
):
    _settings(auth_client, profile="A")  # the journal is kept: a real legal hold
    with app.app_context():
        s = get_session()
        pid = sample_person(s)
        ratelimit.hit(s, ratelimit.bucket("signup-email", EMAIL))  # as a web sign-up does
        s.commit()
        assert _sync(app)[0] == 0  # every provider has the address now
        # a provider reported an unsubscribe: stored with the address and the raw payload
        sync_events.store_events(
            s,
            [
                ContactEvent(
                    "mailerlite",
                    EMAIL,
                    EventType.UNSUBSCRIBED,
                    utcnow(),
                    raw={"email": EMAIL, "fields": {"name": NAME, "phone": PHONE}},
                )
            ],
            "webhook",
        )
        sync_events.apply_events(s, "mailerlite")
        s.commit()
        assert s.scalar(select(ProviderEvent.id)) is not None
    with db() as s:
        the_plan = erasure.execute(s, s.get(Person, pid), Actor.cli())
        s.commit()
        assert [k.what for k in the_plan.keep] == ["journal"]
    fakes["brevo"].faults += [503, 503, 503, 503]  # Brevo is down during the first run
    assert _sync(app)[0] != 0
    with app.app_context():
        # the provider keeps reporting the address until it confirmed: never stored again

        s = get_session()
        sync_events.store_events(
            s,
            [ContactEvent("mailerlite", EMAIL, EventType.UNSUBSCRIBED, utcnow(), raw={"e": EMAIL})],
            "pull",
        )
        # the next night: Brevo is back and the back-off has passed
        errors = [e for e in s.scalars(select(OutboxOp.last_error)) if e]
        assert errors and not any("%40" in e or "@" in e for e in errors)
        s.execute(OutboxOp.__table__.update().values(next_attempt_at=utcnow()))
        s.commit()
    fakes["brevo"].faults = []
    assert _sync(app)[0] == 0  # ... and confirms
    for fake in fakes.values():
        assert fake.status(EMAIL) is None
    with db() as s:
        assert s.scalar(select(OutboxOp.id).where(OutboxOp.status == "pending")) is None
        found = [
            f"{table}.{column}: {what}"
            for table, column, value in _dump(s)
            if (table, column) not in ALLOWED
            for what, needle in _needles().items()
            if needle.lower() in value
        ]
        assert found == []
        # the person stays only as the journal's patient identity
        kept = s.get(Person, pid)
        assert kept.name == NAME and kept.email is None and kept.phone is None
        # the suppression is a keyed hash only: not the plain sha256 of the address

        hashes = set(s.scalars(select(Suppression.email_hash)))
        assert suppression.email_hash(s, EMAIL) in hashes
        assert hashlib.sha256(EMAIL.encode()).hexdigest() not in hashes
