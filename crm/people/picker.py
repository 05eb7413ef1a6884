"""Choosing a person in a form by searching, not from a list of everyone.

Why: a select holding every person (up to 2,000 of them) is unusable past a few dozen clients,
sends every name to the browser on each form, and stops at 2,000 without saying so. The picker
is a search field and a short list of matches: the form is posted with its "Search" button
(no script needed), the page comes back with what was typed kept and the matches to choose
from. The search is a POST like the people list's, so a searched name never lands in a URL.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm.people import search
from crm.people.models import Person

#: most matches offered at once; a longer list means the search should be narrower
LIMIT = 20


def label(person: Person) -> str:
    """How a person is shown among the matches: the name, and the address that tells twins apart."""
    return f"{person.name} ({person.email})" if person.email else person.name


def choices(
    session: Session,
    query: str,
    selected: int | None = None,
    *,
    controller_id: int | None = None,
    exclude: int | None = None,
) -> tuple[list[tuple[int, str]], int]:
    """The people matching ``query`` (at most LIMIT), and how many match in all.

    The person already chosen (``selected``) stays among the choices, so a form refused for
    another field keeps the choice. ``exclude`` leaves one person out (the client, when
    choosing their representative). An account limited to a controller finds only its people.
    """
    found: list[Person] = []
    total = 0
    if query.strip():
        found, total = search.search_people(
            session, query[:100], per_page=LIMIT + 1, controller_id=controller_id
        )
    if selected is not None and all(p.id != selected for p in found):
        chosen = search.get_person(session, selected, controller_id)
        if chosen is not None and chosen.archived_at is None:
            found.insert(0, chosen)
    rows = [(p.id, label(p)) for p in found if p.id != exclude][:LIMIT]
    return rows, total
