"""Every recipient told (GDPR Art. 17(2), 19, 21(3)): manual recipients become dashboard tasks.

Recipients in the processors register without an adapter (the booking system, Fortnox...)
get a task when a person is erased, rectified, restricted or objects; a request completes only
when every task is ticked off; ticking records who and when; the receipt and the export name
the recipients told, and nothing names the person in the audit trail.
"""

from __future__ import annotations

import io
import json
import zipfile

from sqlalchemy import select

from crm.audit import Actor
from crm.audit import AuditEvent
from crm.db import get_session
from crm.db import utcnow
from crm.people import services as people
from crm.people.models import Person
from crm.privacy import data_requests
from crm.privacy import export
from crm.privacy.models import DataRequest
from crm.privacy.models import RecipientTask
from tests.helpers import post_form

EMAIL = "rut@example.se"
NAME = "Rut Rättelse"


def _register(auth_client, *processors: str) -> None:
    """Practice settings with these processors in the register."""
    post_form(
        auth_client,
        "/privacy/settings",
        {"name": "Coach Co", "profile": "B", **{f"proc-{p}": "1" for p in processors}},
    )


def _person_with_request(app, kind: str) -> tuple[int, int]:
    with app.app_context():
        s = get_session()
        person = people.create_person(s, people.PersonData(name=NAME, email=EMAIL), Actor.cli())
        request = data_requests.open_request(s, person, kind, "email", utcnow(), Actor.cli())
        s.commit()
        return person.id, request.id


def _tasks(db) -> list[tuple[str, str, int | None]]:
    with db() as s:
        return sorted(
            (t.recipient, t.action, t.request_id)
            for t in s.scalars(select(RecipientTask).where(RecipientTask.done_at.is_(None)))
        )


def _tick_all(auth_client, db, rid: int) -> None:
    with db() as s:
        ids = list(s.scalars(select(RecipientTask.id).where(RecipientTask.request_id == rid)))
    for task_id in ids:
        post_form(
            auth_client,
            f"/privacy/recipient-tasks/{task_id}/done",
            {"next": "request"},
            page=f"/privacy/requests/{rid}",
        )


def _audit_text(db) -> str:
    with db() as s:
        return json.dumps(
            [(e.action, e.object_id, e.details) for e in s.scalars(select(AuditEvent))],
            default=str,
        ).lower()


def test_erasure_creates_tasks_for_manual_recipients_and_completes_when_ticked(
    app, db, auth_client, inbox
):
    _register(auth_client, "Fortnox", "Qlickboka")
    pid, rid = _person_with_request(app, "erasure")
    page = auth_client.get(f"/privacy/requests/{rid}").get_data(as_text=True)
    assert "Fortnox, Qlickboka" in page  # the plan says who will be told by hand
    post_form(
        auth_client,
        f"/privacy/requests/{rid}/erase",
        {"confirmed": "yes"},
        page=f"/privacy/requests/{rid}",
    )
    assert _tasks(db) == [("Fortnox", "erase", rid), ("Qlickboka", "erase", rid)]
    with db() as s:
        assert s.get(Person, pid) is None  # erased entirely...
        task = s.scalar(select(RecipientTask))
        assert task.subject == f"{NAME} <{EMAIL}>"  # ...but the task still says for whom
        assert s.get(DataRequest, rid).status == "open"  # waits for the tasks
    receipt = inbox.last(EMAIL).get_content()
    assert "Fortnox, Qlickboka" in receipt
    # the dashboard lists them with the deadline; ticking records who and when
    page = auth_client.get("/").get_data(as_text=True)
    assert 'id="recipient-tasks"' in page and EMAIL in page
    _tick_all(auth_client, db, rid)
    with db() as s:
        assert s.get(DataRequest, rid).status == "completed"
        for t in s.scalars(select(RecipientTask)):
            assert t.done_at is not None and t.done_by_id is not None and t.subject is None
        told = s.scalars(select(AuditEvent).where(AuditEvent.action == "privacy.recipient_told"))
        assert sorted(json.loads(e.details)["recipient"] for e in told) == ["Fortnox", "Qlickboka"]
    assert 'id="recipient-tasks"' not in auth_client.get("/").get_data(as_text=True)
    audit = _audit_text(db)
    assert "rut" not in audit and "rättelse" not in audit


def test_receipt_names_no_recipients_when_none_are_told(app, db, auth_client, inbox):
    _register(auth_client)  # an empty register, no provider configured
    _pid, rid = _person_with_request(app, "erasure")
    post_form(
        auth_client,
        f"/privacy/requests/{rid}/erase",
        {"confirmed": "yes"},
        page=f"/privacy/requests/{rid}",
    )
    receipt = inbox.last(EMAIL).get_content()
    assert "mottagare" not in receipt and "e-posttjänster" not in receipt
    with db() as s:
        assert s.get(DataRequest, rid).status == "completed"  # nothing to wait for


def test_rectification_completion_is_blocked_until_recipients_are_told(app, db, auth_client):
    _register(auth_client, "Fortnox")
    _pid, rid = _person_with_request(app, "rectification")
    url, page = f"/privacy/requests/{rid}/complete", f"/privacy/requests/{rid}"
    post_form(auth_client, url, {"done-text": "Adressen rättad."}, page=page)
    with db() as s:
        assert s.get(DataRequest, rid).status == "open"  # nobody told yet
    post_form(auth_client, f"/privacy/requests/{rid}/tell-recipients", {}, page=page)
    assert _tasks(db) == [("Fortnox", "rectify", rid)]
    post_form(auth_client, url, {"done-text": "Adressen rättad."}, page=page)
    with db() as s:
        assert s.get(DataRequest, rid).status == "open"  # the task is still open
    _tick_all(auth_client, db, rid)
    post_form(auth_client, url, {"done-text": "Adressen rättad."}, page=page)
    with db() as s:
        assert s.get(DataRequest, rid).status == "completed"


def test_restriction_creates_tasks_due_by_the_request_deadline(app, db, auth_client):
    _register(auth_client, "Benify", "Stripe")
    pid, rid = _person_with_request(app, "restriction")
    post_form(
        auth_client, f"/privacy/people/{pid}/restrict", {"confirmed": "yes"}, page=f"/people/{pid}"
    )
    assert _tasks(db) == [("Benify", "restrict", rid), ("Stripe", "restrict", rid)]
    with db() as s:
        due = s.get(DataRequest, rid).due_at
        assert {t.due_at for t in s.scalars(select(RecipientTask))} == {due}
    page = f"/privacy/requests/{rid}"
    post_form(auth_client, f"{page}/complete", {"done-text": "Begränsad."}, page=page)
    with db() as s:
        assert s.get(DataRequest, rid).status == "open"
    _tick_all(auth_client, db, rid)
    post_form(auth_client, f"{page}/complete", {"done-text": "Begränsad."}, page=page)
    with db() as s:
        assert s.get(DataRequest, rid).status == "completed"


def test_objection_creates_tasks_for_manual_recipients(app, db, auth_client):
    _register(auth_client, "Qlickboka")
    pid, rid = _person_with_request(app, "objection")
    post_form(
        auth_client, f"/privacy/people/{pid}/object", {"confirmed": "yes"}, page=f"/people/{pid}"
    )
    assert _tasks(db) == [("Qlickboka", "object", rid)]
    # a second objection does not tell the same recipient twice
    post_form(
        auth_client, f"/privacy/people/{pid}/object", {"confirmed": "yes"}, page=f"/people/{pid}"
    )
    assert _tasks(db) == [("Qlickboka", "object", rid)]


def test_configured_providers_are_automatic_not_tasks(app, db, auth_client):
    """A register entry reached by an adapter is told by the outbox, not by hand."""
    app.config["BREVO_API_KEY"], app.config["BREVO_LIST_ID"] = "key", "7"
    _register(auth_client, "Brevo", "Fortnox")
    pid, rid = _person_with_request(app, "restriction")
    post_form(
        auth_client, f"/privacy/people/{pid}/restrict", {"confirmed": "yes"}, page=f"/people/{pid}"
    )
    assert _tasks(db) == [("Fortnox", "restrict", rid)]


def test_export_summary_names_the_recipients_told(app, db, auth_client):
    _register(auth_client, "Fortnox")
    pid, rid = _person_with_request(app, "restriction")
    post_form(
        auth_client, f"/privacy/people/{pid}/restrict", {"confirmed": "yes"}, page=f"/people/{pid}"
    )
    _tick_all(auth_client, db, rid)
    with app.app_context():
        s = get_session()
        data, _files = export.collect(s, s.get(Person, pid))
        zipped = zipfile.ZipFile(io.BytesIO(export.build(s, s.get(Person, pid))))
    assert [(t["recipient"], t["how"]) for t in data["recipients_told"]] == [("Fortnox", "manual")]
    summary = zipped.read("sammanfattning.html").decode()
    assert "Fortnox (av oss, för hand" in summary


def test_cli_erase_names_and_creates_the_manual_recipient_tasks(
    app, db, auth_client, make_subscriber
):
    _register(auth_client, "Fortnox")
    make_subscriber(EMAIL, NAME, method="paper_form")
    result = app.test_cli_runner().invoke(args=["erase", EMAIL, "--yes"])
    assert result.exit_code == 0, result.output
    assert "Recipients to tell by hand (dashboard tasks): Fortnox" in result.output
    assert _tasks(db) == [("Fortnox", "erase", None)]
    with db() as s:
        task = s.scalar(select(RecipientTask))
        assert task.subject == f"{NAME} <{EMAIL}>" and task.due_at > utcnow()


def test_tell_recipients_refuses_an_erasure_that_was_not_carried_out(app, db, auth_client):
    """Erase tasks come with the erasure itself, never before it (nothing was erased yet)."""
    _register(auth_client, "Fortnox")
    _pid, rid = _person_with_request(app, "erasure")
    page = f"/privacy/requests/{rid}"
    post_form(auth_client, f"{page}/tell-recipients", {}, page=page)
    assert _tasks(db) == []
