"""Every recipient told (GDPR Art. 17(2), 19, 21(3)): manual recipients become dashboard tasks.

A recipient in the processors register is *automatic* when it is a configured mail provider:
the outbox tells it. Every other one (the booking system, Fortnox, Stripe, Benify...) is
*manual*: erasing, rectifying or restricting a person, or their objection, gives it a task -
what to do, for whom, by the request's deadline - until staff tick it off. A provider
operation the adapter cannot do (Paloma has no erase endpoint) becomes such a task as well,
through :func:`task_for_op`. A request completes only when both kinds are done.

Tasks name the person only in their encrypted ``subject``, scrubbed when ticked off; the audit
trail records task ids, recipients' names and counts, never the person's name or address.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm import outbox
from crm.audit import Actor
from crm.db import utcnow
from crm.i18n import N_
from crm.outbox import OutboxOp
from crm.outbox import ProviderLink
from crm.people.models import Person
from crm.privacy import practice
from crm.privacy import practice_catalogue
from crm.privacy.data_requests import RequestError
from crm.privacy.data_requests import add_months
from crm.privacy.data_requests import complete
from crm.privacy.models import DataRequest
from crm.privacy.models import RecipientTask

#: the request kinds whose recipients must be told, and the task's action for each
ACTIONS = {
    "erasure": "erase",
    "rectification": "rectify",
    "restriction": "restrict",
    "objection": "object",
}
#: outbox operations an adapter may be unable to do, and the task's action for each
OP_ACTIONS = {"erase": "erase", "unsubscribe": "unsubscribe", "remove": "remove"}
#: the provider link's status once staff did such an operation by hand
LINK_STATUS = {"erase": "erased", "unsubscribe": "unsubscribed", "remove": "removed"}


def display_name(provider: str) -> str:
    """A provider key ("mailerlite") as the register spells it ("MailerLite")."""
    for p in practice_catalogue.KNOWN_PROCESSORS:
        if p.name.lower() == provider.lower():
            return p.name
    return provider


def manual_recipients(session: Session) -> list[str]:
    """Recipients in the processors register that no configured adapter reaches."""
    automatic = set(outbox.enabled_providers())
    row = practice.load(session, current_app.config["PRACTICE_NAME"])
    return [p.name for p in row.processor_list() if p.name.lower() not in automatic]


def _to_tell(session: Session, kind: str, person_id: int) -> list[str]:
    """Manual recipients for a request of ``kind``, less those the outbox already tells.

    An erasure, restriction or objection enqueues an operation for every provider that had
    the address (even one switched off since), so that provider is not told twice.
    """
    via_outbox = set() if kind == "rectification" else outbox.providers_for(session, person_id)
    return [name for name in manual_recipients(session) if name.lower() not in via_outbox]


def _subject(person: Person | None, email: str | None = None) -> str | None:
    """For whom, as staff need it to find the person at the recipient (encrypted at rest)."""
    name = person.name if person is not None else ""
    address = (person.email if person is not None else None) or email
    if name and address:
        return f"{name} <{address}>"
    return name or address or None


def _open_request(session: Session, person_id: int, kind: str) -> DataRequest | None:
    return session.scalar(
        select(DataRequest)
        .where(
            DataRequest.person_id == person_id,
            DataRequest.kind == kind,
            DataRequest.status == "open",
        )
        .order_by(DataRequest.due_at)
        .limit(1)
    )


def create_tasks(
    session: Session,
    kind: str,
    person: Person,
    actor: Actor,
    request: DataRequest | None = None,
    now: datetime | None = None,
) -> list[RecipientTask]:
    """A task for each manual recipient that has none yet for this request (or person).

    ``kind`` is the request kind (erasure, rectification, restriction, objection). Without a
    request, the open request of that kind for the person is used when there is one; the task
    is due by the request's deadline, else one month from now (Art. 12(3)).
    """
    now = now or utcnow()
    action = ACTIONS[kind]
    if request is None:
        request = _open_request(session, person.id, kind)
    due = request.due_at if request is not None else add_months(now, 1)
    existing_stmt = select(RecipientTask.recipient).where(RecipientTask.action == action)
    if request is not None:
        existing_stmt = existing_stmt.where(RecipientTask.request_id == request.id)
    else:
        existing_stmt = existing_stmt.where(
            RecipientTask.person_id == person.id, RecipientTask.done_at.is_(None)
        )
    existing = set(session.scalars(existing_stmt))
    subject = _subject(person)
    tasks = [
        RecipientTask(
            recipient=name,
            action=action,
            request_id=request.id if request is not None else None,
            person_id=person.id,
            subject=subject,
            due_at=due,
        )
        for name in _to_tell(session, kind, person.id)
        if name not in existing
    ]
    if tasks:
        session.add_all(tasks)
        session.flush()
        audit.record(
            session,
            actor,
            "privacy.recipient_tasks",
            obj=person,
            details={
                "action": action,
                "recipients": [t.recipient for t in tasks],
                **({"request": request.id} if request is not None else {}),
            },
        )
    return tasks


def _request_waiting_for(session: Session, op_id: int) -> DataRequest | None:
    """The open erasure request whose completion waits for outbox operation ``op_id``."""
    for request in session.scalars(
        select(DataRequest).where(
            DataRequest.kind == "erasure",
            DataRequest.status == "open",
            DataRequest.waiting_for.is_not(None),
        )
    ):
        if op_id in json.loads(request.waiting_for or "[]"):
            return request
    return None


def task_for_op(session: Session, op: OutboxOp, now: datetime | None = None) -> RecipientTask:
    """Hand an operation the provider's API cannot do to staff, as a task; never "done".

    The operation leaves the queue as "manual" and its address moves into the task's
    encrypted subject (the person may be erased already). An erasure's task is due by its
    request's deadline; an unsubscribe or a restriction's removal at once (before the next
    newsletter goes out).
    """
    now = now or utcnow()
    person = session.get(Person, op.person_id) if op.person_id else None
    request = _request_waiting_for(session, op.id) if op.op == "erase" else None
    task = RecipientTask(
        recipient=display_name(op.provider),
        action=OP_ACTIONS[op.op],
        request_id=request.id if request is not None else None,
        person_id=op.person_id,
        outbox_op_id=op.id,
        subject=_subject(person, op.email),
        due_at=request.due_at if request is not None else now,
    )
    session.add(task)
    op.status, op.done_at, op.email, op.last_error = "manual", now, None, None
    session.flush()
    audit.record(
        session,
        Actor.system(),
        "sync.manual_task",
        obj=task,
        details={"provider": op.provider, "op": op.op, "outbox_op": op.id},
    )
    return task


def tick(session: Session, task: RecipientTask, actor: Actor) -> bool:
    """Record that the recipient was told: who and when; the subject is scrubbed.

    Returns False when it was already ticked off (a double click changes nothing).
    """
    if task.done_at is not None:
        return False
    task.done_at, task.done_by_id, task.subject = utcnow(), actor.user_id, None
    op = session.get(OutboxOp, task.outbox_op_id) if task.outbox_op_id else None
    if op is not None and op.person_id is not None:
        # staff did at the provider what its API could not: the person page shows it now
        link = session.scalar(
            select(ProviderLink).where(
                ProviderLink.person_id == op.person_id, ProviderLink.provider == op.provider
            )
        )
        if link is not None:
            link.status, link.updated_at = LINK_STATUS[task.action], task.done_at
    audit.record(
        session,
        actor,
        "privacy.recipient_told",
        obj=task,
        details={
            "recipient": task.recipient,
            "action": task.action,
            **({"request": task.request_id} if task.request_id else {}),
        },
    )
    return True


def open_tasks(session: Session) -> list[RecipientTask]:
    """Tasks not yet ticked off, the most urgent first (the dashboard's list)."""
    return list(
        session.scalars(
            select(RecipientTask)
            .where(RecipientTask.done_at.is_(None))
            .order_by(RecipientTask.due_at, RecipientTask.id)
        )
    )


def for_request(session: Session, request: DataRequest) -> list[RecipientTask]:
    """A request's tasks, including those carrying on its provider operations."""
    ids = json.loads(request.waiting_for or "[]")
    clause = RecipientTask.request_id == request.id
    if ids:
        clause = or_(clause, RecipientTask.outbox_op_id.in_(ids))
    return list(session.scalars(select(RecipientTask).where(clause).order_by(RecipientTask.id)))


def open_count(session: Session, request: DataRequest) -> int:
    """How many of a request's tasks are not ticked off yet."""
    return sum(1 for t in for_request(session, request) if t.done_at is None)


def missing(session: Session, request: DataRequest) -> list[str]:
    """Manual recipients not yet given a task for this request."""
    if request.kind not in ACTIONS or request.kind == "erasure" or request.person_id is None:
        return []  # an erasure creates its tasks itself, when it is carried out
    have = {t.recipient for t in for_request(session, request)}
    return [n for n in _to_tell(session, request.kind, request.person_id) if n not in have]


def tell_for_request(session: Session, request: DataRequest, actor: Actor) -> list[RecipientTask]:
    """Create the tasks of a rectification, restriction or objection request (after the change).

    An erasure's tasks come with the erasure itself (crm/privacy/erasure.py).
    """
    if request.status != "open":
        raise RequestError(N_("This request is already closed."))
    if request.kind not in ACTIONS or request.kind == "erasure" or request.person_id is None:
        raise RequestError(N_("This request has no recipients to tell."))
    person = session.get(Person, request.person_id)
    if person is None:
        raise RequestError(N_("This request has no recipients to tell."))
    return create_tasks(session, request.kind, person, actor, request)


def complete_request(session: Session, request: DataRequest, outcome: str, actor: Actor) -> None:
    """Close a request as done - only once every manual recipient was told (Art. 19)."""
    if missing(session, request):
        raise RequestError(N_("Tell the recipients first (the button below), then tick off each."))
    if open_count(session, request):
        raise RequestError(N_("Some recipients are still to be told: tick off their tasks first."))
    complete(session, request, outcome, actor)


@dataclass(frozen=True)
class Told:
    """A recipient that was told about a person's request, and how."""

    recipient: str
    action: str
    automatic: bool
    at: datetime | None


def told_about(session: Session, person_id: int) -> list[Told]:
    """Recipients told about this person: providers that confirmed, and ticked-off tasks.

    For the export and its summary (Art. 19, last sentence: the person may ask who was told).
    """
    rows = [
        Told(display_name(op.provider), op.op, True, op.done_at)
        for op in session.scalars(
            select(OutboxOp)
            .where(
                OutboxOp.person_id == person_id,
                OutboxOp.status == "done",
                OutboxOp.op.in_(("erase", "unsubscribe", "remove")),
            )
            .order_by(OutboxOp.id)
        )
    ]
    rows += [
        Told(t.recipient, t.action, False, t.done_at)
        for t in session.scalars(
            select(RecipientTask)
            .where(RecipientTask.person_id == person_id, RecipientTask.done_at.is_not(None))
            .order_by(RecipientTask.id)
        )
    ]
    return rows
