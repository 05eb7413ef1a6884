"""The identity gate (issue 14 part 5): no export, link or erasure of a client without a check.

Class test: every path that discloses or erases - the owner's download, the mailed link, the
public download of that link, the erasure, closing the request, the command line and the
services themselves - is refused for a client whose identity check is not recorded, and goes
ahead once it is. A newsletter-only subscriber needs no check; "ID shown" at the first visit
is recorded on the client card.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import func
from sqlalchemy import select

from crm.audit import Actor
from crm.audit import AuditEvent
from crm.db import utcnow
from crm.people import care as people_care
from crm.people.models import IdentityCheck
from crm.people.models import Person
from crm.privacy import data_requests as requests
from crm.privacy import erasure
from crm.privacy import export
from crm.privacy import identity
from crm.privacy.models import DataRequest
from tests.helpers import post_form

EMAIL = "vera@example.se"


def _client(app, kind: str, *, client_data: bool = True) -> tuple[int, int]:
    """Vera: a client (a client card and a visit) with a request of ``kind``, nothing checked."""
    with app.app_context():
        from crm.db import get_session
        from crm.people import services as people

        s = get_session()
        person = people.create_person(
            s, people.PersonData(name="Vera Verklig", email=EMAIL), Actor.cli()
        )
        if client_data:
            people_care.update_client_card(
                s,
                person,
                people_care.ClientCardData(date(2026, 1, 5), None, None, None),
                Actor.cli(),
            )
            people_care.add_visit(s, person, date(2026, 1, 5), None, Actor.cli())
        request = requests.open_request(s, person, kind, "email", utcnow(), Actor.cli())
        s.commit()
        return person.id, request.id


def _check_request(app, rid: int) -> None:
    with app.app_context():
        from crm.db import get_session

        s = get_session()
        requests.verify_identity(s, s.get(DataRequest, rid), "id_document", Actor.cli())
        s.commit()


def _check_person(app, pid: int) -> None:
    with app.app_context():
        from crm.db import get_session
        from crm.people import services as people

        s = get_session()
        people.record_identity_check(s, s.get(Person, pid), "known_in_person", Actor.cli())
        s.commit()


def _is_zip(data: bytes) -> bool:
    try:
        return "data.json" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    except zipfile.BadZipFile:
        return False


def _person_left(db, pid: int) -> bool:
    with db() as s:
        person = s.get(Person, pid)
        return person is not None and person.email == EMAIL


@dataclass
class Path:
    """One way to disclose or erase: the request kind it needs, how to try it, how to check."""

    kind: str
    #: tries it; returns whether the data went out (or was erased)
    attempt: Callable[..., bool]
    #: records the check this path rests on
    check: Callable[..., None]


def _download(app, db, auth_client, inbox, tmp_path, pid, rid) -> bool:
    response = auth_client.get(f"/privacy/requests/{rid}/export")
    return response.status_code == 200 and _is_zip(response.get_data())


def _mail_link(app, db, auth_client, inbox, tmp_path, pid, rid) -> bool:
    inbox.messages.clear()
    post_form(
        auth_client, f"/privacy/requests/{rid}/export-link", {}, page=f"/privacy/requests/{rid}"
    )
    return any("/export/" in m.get_content() for m in inbox.messages)


def _public_link(app, db, auth_client, inbox, tmp_path, pid, rid) -> bool:
    """A link signed as the mail's would be: its download passes the gate again."""
    from crm.security import tokens

    with app.app_context():
        from crm.db import get_session

        public_id = get_session().get(Person, pid).public_id
        token = tokens.sign(tokens.Purpose.EXPORT, {"r": rid, "p": public_id})
    response = app.test_client().get(f"/export/{token}")
    return response.status_code == 200 and _is_zip(response.get_data())


def _erase(app, db, auth_client, inbox, tmp_path, pid, rid) -> bool:
    post_form(
        auth_client,
        f"/privacy/requests/{rid}/erase",
        {"confirmed": "yes"},
        page=f"/privacy/requests/{rid}",
    )
    return not _person_left(db, pid)


def _complete(app, db, auth_client, inbox, tmp_path, pid, rid) -> bool:
    """Closing an access request as answered (a printout handed over) needs the check too."""
    post_form(
        auth_client,
        f"/privacy/requests/{rid}/complete",
        {"done-text": "Utdrag överlämnat på papper"},
        page=f"/privacy/requests/{rid}",
    )
    with db() as s:
        return s.get(DataRequest, rid).status == "completed"


def _cli_export(app, db, auth_client, inbox, tmp_path, pid, rid, identity_arg=()) -> bool:
    out = tmp_path / "export.zip"
    result = app.test_cli_runner().invoke(args=["export", EMAIL, "-o", str(out), *identity_arg])
    return result.exit_code == 0 and out.exists() and _is_zip(out.read_bytes())


def _cli_erase(app, db, auth_client, inbox, tmp_path, pid, rid, identity_arg=()) -> bool:
    app.test_cli_runner().invoke(args=["erase", EMAIL, "--yes", *identity_arg])
    return not _person_left(db, pid)


def _service_export(app, db, auth_client, inbox, tmp_path, pid, rid) -> bool:
    with db() as s:
        try:
            return _is_zip(export.build(s, s.get(Person, pid)))
        except identity.IdentityNotChecked:
            return False


def _service_erase(app, db, auth_client, inbox, tmp_path, pid, rid) -> bool:
    with db() as s:
        try:
            erasure.execute(s, s.get(Person, pid), Actor.cli())
        except identity.IdentityNotChecked:
            s.rollback()
            return False
        s.commit()
    return not _person_left(db, pid)


def _by_request(app, pid, rid):
    _check_request(app, rid)


def _by_person(app, pid, rid):
    _check_person(app, pid)


PATHS = {
    "owner download": Path("access", _download, _by_request),
    "portability download": Path("portability", _download, _by_request),
    "mailed download link": Path("access", _mail_link, _by_request),
    "the link's public download": Path("access", _public_link, _by_request),
    "erasure on the request page": Path("erasure", _erase, _by_request),
    "closing an access request": Path("access", _complete, _by_request),
    "closing an erasure request": Path("erasure", _complete, _by_request),
    "crm export": Path("access", _cli_export, _by_person),
    "crm erase": Path("erasure", _cli_erase, _by_person),
    "export service": Path("access", _service_export, _by_person),
    "erasure service": Path("erasure", _service_erase, _by_person),
}


@pytest.mark.parametrize("name", list(PATHS))
def test_every_disclosure_and_erasure_path_is_refused_without_a_check_and_allowed_with_one(
    app, db, auth_client, inbox, tmp_path, name
):
    path = PATHS[name]
    pid, rid = _client(app, path.kind)
    args = (app, db, auth_client, inbox, tmp_path, pid, rid)
    assert not path.attempt(*args), f"{name}: went ahead without an identity check"
    assert _person_left(db, pid)
    path.check(app, pid, rid)
    assert path.attempt(*args), f"{name}: refused although the identity check is recorded"


def test_a_check_on_the_client_card_does_not_answer_for_a_request(app, db, auth_client):
    """The ID shown a year ago does not prove who wrote today's mail: the request checks."""
    pid, rid = _client(app, "access")
    _check_person(app, pid)
    assert not _download(app, db, auth_client, None, None, pid, rid)
    page = auth_client.get(f"/privacy/requests/{rid}").get_data(as_text=True)
    assert 'id="identity-gate"' in page and 'id="person-identity"' in page
    assert f"/privacy/requests/{rid}/export" not in page
    post_form(
        auth_client,
        f"/privacy/requests/{rid}/identity",
        {"id-method": "known_in_person"},
        page=f"/privacy/requests/{rid}",
    )
    page = auth_client.get(f"/privacy/requests/{rid}").get_data(as_text=True)
    assert 'id="identity-gate"' not in page and "känd personligen" in page
    assert _download(app, db, auth_client, None, None, pid, rid)


def test_the_request_identity_form_takes_only_the_three_ways(app, db, auth_client):
    pid, rid = _client(app, "access")
    post_form(
        auth_client,
        f"/privacy/requests/{rid}/identity",
        {"id-method": "he sounded nice"},
        page=f"/privacy/requests/{rid}",
    )
    with db() as s:
        assert s.get(DataRequest, rid).identity_verified_at is None


def test_crm_erase_says_what_is_missing_and_changes_nothing(app, db, tmp_path):
    pid, _rid = _client(app, "erasure")
    result = app.test_cli_runner().invoke(args=["erase", EMAIL, "--yes"])
    assert result.exit_code != 0 and "--identity" in result.output
    assert _person_left(db, pid)
    result = app.test_cli_runner().invoke(args=["erase", EMAIL, "--yes", "--identity", "bankid"])
    assert result.exit_code == 0, result.output
    with db() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "person.identity_checked"))
        assert event.details_dict == {"method": "bankid"} and event.actor_kind == "cli"


def test_a_newsletter_only_subscriber_needs_no_check(app, db, auth_client, tmp_path):
    """They act through their own signed link; nothing but the newsletter is held."""
    pid, rid = _client(app, "access", client_data=False)
    assert _download(app, db, auth_client, None, tmp_path, pid, rid)
    assert _cli_export(app, db, auth_client, None, tmp_path, pid, rid)
    with app.app_context():
        from crm.db import get_session
        from crm.privacy import forget

        s = get_session()
        assert forget.forget(s, s.get(Person, pid), Actor("public")) == "erased"
        s.commit()
    assert not _person_left(db, pid)


def test_id_shown_at_the_first_visit_is_recorded_on_the_client_card(app, db, auth_client, tmp_path):
    pid, _rid = _client(app, "access", client_data=False)
    page = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    assert "Ingen identitetskontroll registrerad" in page and 'name="visit-id_shown"' in page
    post_form(
        auth_client,
        f"/people/{pid}/visits",
        {"visit-visited_on": "2026-01-05", "visit-id_shown": "y"},
        page=f"/people/{pid}",
    )
    with db() as s:
        (check,) = s.scalars(select(IdentityCheck)).all()
        assert (check.person_id, check.method) == (pid, "id_document")
        assert check.checked_by_id is not None
    page = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    assert "visade legitimation" in page and 'name="visit-id_shown"' not in page
    # and by hand, from the client card
    post_form(
        auth_client, f"/people/{pid}/identity", {"idc-method": "bankid"}, page=f"/people/{pid}"
    )
    with db() as s:
        assert s.scalar(select(func.count()).select_from(IdentityCheck)) == 2
    # the command line then needs no --identity: the check on record is the one it rests on
    out = tmp_path / "export.zip"
    result = app.test_cli_runner().invoke(args=["export", EMAIL, "-o", str(out)])
    assert "Identity: bankid" in result.output
