"""The number of SQL queries per owner page does not grow with the data (no N+1)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import select

from crm.db import utcnow
from crm.newsletter import mailing_lists
from crm.newsletter.models import Subscription
from crm.people.models import ClientCard
from crm.people.models import Person
from crm.privacy.models import DataRequest
from crm.testimonials.models import Publication
from crm.testimonials.models import Testimonial

PAGES = [
    "/",
    "/people/",
    "/newsletter/",
    "/testimonials/",
    "/privacy/requests",
    "/integrations/",
    "/audit",
    "/people/{first}",
]


def _seed(db, start: int, count: int) -> None:
    with db() as s:
        mlist = mailing_lists.default_list(s)
        for i in range(start, start + count):
            person = Person(name=f"Person {i}", email=f"p{i}@example.se")
            s.add(person)
            s.flush()
            s.add(
                Subscription(
                    person_id=person.id, list_id=mlist.id, status="active", source="import"
                )
            )
            s.add(ClientCard(person_id=person.id))
            t = Testimonial(person_id=person.id, text=f"Text {i}", status="revoked")
            t.publications.append(Publication(channel="social", description="x"))
            s.add(t)
            s.add(
                DataRequest(
                    person_id=person.id,
                    kind="access",
                    channel="email",
                    received_at=utcnow(),
                    due_at=utcnow() - timedelta(days=1),
                )
            )
        s.commit()


@contextmanager
def _counting(app):
    engine = app.extensions["crm.db"]["engine"]
    counter = {"n": 0}

    def count(*_args):
        counter["n"] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize("page", PAGES)
def test_query_count_is_constant(app, db, auth_client, page):
    _seed(db, 0, 3)
    with db() as s:
        page = page.format(first=s.scalar(select(func.min(Person.id))))
    auth_client.get(page)  # warm caches (the lazily created default list, settings row)
    with _counting(app) as few:
        assert auth_client.get(page).status_code == 200
    _seed(db, 3, 30)
    with _counting(app) as many:
        assert auth_client.get(page).status_code == 200
    assert many["n"] == few["n"], f"{page}: {few['n']} queries with 3 rows, {many['n']} with 33"
