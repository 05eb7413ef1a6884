"""Lists that scale (issue 16): counts, sorting and page numbers from one pager (crm/paging.py)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from crm import audit
from crm import paging
from crm.audit import Actor
from crm.audit import AuditEvent
from crm.db import utcnow
from crm.newsletter.models import Subscription
from crm.people.models import Person
from crm.privacy.models import DataRequest
from tests.conftest import post_form

OPTIONS = paging.options(("-seq", "Newest first", [AuditEvent.seq], True))


@pytest.mark.parametrize(
    ("page", "pages", "shown"),
    [
        (1, 1, [1]),
        (1, 3, [1, 2, 3]),
        (1, 20, [1, 2, 3, None, 20]),
        (10, 20, [1, None, 8, 9, 10, 11, 12, None, 20]),
        (20, 20, [1, None, 18, 19, 20]),
        (4, 20, [1, 2, 3, 4, 5, 6, None, 20]),
    ],
)
def test_page_numbers_show_the_ends_and_the_neighbourhood(page, pages, shown):
    pager = paging.Pager(page, 10, "-seq", OPTIONS, total=pages * 10)
    assert pager.numbers() == shown


def test_bad_values_fall_back_and_a_page_past_the_end_is_the_last():
    pager = paging.from_values({"page": "x'; drop", "sort": "nope"}, OPTIONS, 10)
    assert (pager.page, pager.sort) == (1, "-seq")
    assert paging.from_values({"page": "99999999999"}, OPTIONS, 10).page == 1
    late = paging.from_values({"page": "7"}, OPTIONS, 10).with_total(25)
    assert (late.page, late.pages, late.first_row, late.last_row) == (3, 3, 21, 25)
    assert paging.from_values({}, OPTIONS, 10).with_total(0).first_row == 0


def _names(page: str) -> list[str]:
    return re.findall(r'<a href="/people/\d+">([^<]+)</a>', page)


def test_people_are_counted_sorted_and_paged(app, db, auth_client):
    app.config["PEOPLE_PER_PAGE"] = 2
    with db() as s:
        for i, name in enumerate(["Cecilia", "Adam", "Bertil", "David", "Erik"]):
            s.add(Person(name=name, created_at=utcnow() - timedelta(days=10 - i)))
        s.commit()
    first = auth_client.get("/people/").get_data(as_text=True)
    assert "Visar 1–2 av 5" in first and _names(first) == ["Adam", "Bertil"]
    newest = post_form(auth_client, "/people/", {"sort": "-created", "page": "2"}, page="/people/")
    page = newest.get_data(as_text=True)
    assert "Visar 3–4 av 5" in page and _names(page) == ["Bertil", "Adam"]
    # the page buttons carry the order along
    assert 'name="sort" value="-created"' in page and 'aria-current="page">2<' in page


def test_subscribers_sort_by_address_across_pages(app, db, auth_client):
    from crm.newsletter import mailing_lists

    app.config["PEOPLE_PER_PAGE"] = 2
    with db() as s:
        mlist = mailing_lists.default_list(s)
        for email in ["c@example.se", "a@example.se", "b@example.se"]:
            person = Person(name=email[0], email=email)
            s.add(person)
            s.flush()
            s.add(
                Subscription(
                    person_id=person.id, list_id=mlist.id, status="active", source="import"
                )
            )
        s.commit()
    page = post_form(
        auth_client, "/newsletter/", {"sort": "email", "page": "2"}, page="/newsletter/"
    ).get_data(as_text=True)
    assert "Visar 3–3 av 3" in page
    assert re.findall(r">(\w@example\.se)</a>", page) == ["c@example.se"]


def test_requests_and_the_audit_trail_page_with_get(app, db, auth_client):
    app.config.update(PEOPLE_PER_PAGE=2, AUDIT_PER_PAGE=3)
    with db() as s:
        person = Person(name="Karin")
        s.add(person)
        s.flush()
        for days in (5, 1, 3):
            s.add(
                DataRequest(
                    person_id=person.id,
                    kind="access",
                    channel="email",
                    received_at=utcnow() - timedelta(days=days),
                    due_at=utcnow() + timedelta(days=30 - days),
                )
            )
        for i in range(7):
            audit.record(s, Actor.cli(), "people.create", object_type="person", object_id=i)
        s.commit()
    page = auth_client.get("/privacy/requests?sort=due").get_data(as_text=True)
    assert "Visar 1–2 av 3" in page and 'id="requests-pages"' in page
    audit_page = auth_client.get("/audit?page=2").get_data(as_text=True)
    assert re.search(r"Visar 4–\d+ av \d+", audit_page)
    assert 'aria-current="page">2<' in audit_page


def _two_people(db) -> tuple[int, int]:
    with db() as s:
        anna, bo = Person(name="Anna Andersson", email="anna@example.se"), Person(name="Bo Berg")
        s.add_all([anna, bo])
        s.commit()
        return anna.id, bo.id


def test_person_pickers_search_instead_of_listing_everyone(app, db, auth_client):
    anna, bo = _two_people(db)
    for url in ("/testimonials/new", "/privacy/requests"):
        empty = auth_client.get(url).get_data(as_text=True)
        assert "Anna Andersson" not in empty and "Bo Berg" not in empty
        found = post_form(auth_client, url, {"person_q": "anna", "find": "1"}, page=url)
        page = found.get_data(as_text=True)
        assert found.status_code == 200 and f'<option value="{anna}"' in page
        assert "Bo Berg" not in page and 'value="anna"' in page  # the search is kept
    # a testimonial for the person found, posted as the form is
    made = post_form(
        auth_client,
        "/testimonials/new",
        {"person_id": anna, "text": "Bra!", "display_mode": "initials"},
    )
    assert made.status_code == 302


def test_a_representative_is_found_by_search_and_a_refusal_keeps_what_was_typed(db, auth_client):
    anna, bo = _two_people(db)
    page = f"/people/{anna}"
    found = post_form(
        auth_client,
        f"/people/{anna}/representatives",
        {"person_q": "bo", "find": "1", "legal_basis": "FB 6 kap."},
        page=page,
    ).get_data(as_text=True)
    assert f'<option value="{bo}"' in found and 'value="FB 6 kap."' in found
    assert f'<option value="{anna}"' not in found  # not the client themselves
    refused = post_form(
        auth_client,
        f"/people/{anna}/representatives",
        {"representative_id": bo, "kind": "guardian", "valid_from": "", "legal_basis": "FB"},
        page=page,
    )
    assert refused.status_code == 422 and f'<option value="{bo}" selected' in refused.get_data(
        as_text=True
    )
