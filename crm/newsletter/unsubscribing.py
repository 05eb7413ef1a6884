"""Leaving a list: the one-click unsubscribe, the preferences page and the owner's removal.

An unsubscribe is final until the person confirms a new sign-up (double opt-in); nothing else
lifts the suppression it creates. This is the hot path of one-click unsubscribes, so its
statements are built once at import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from typing import Protocol

from sqlalchemy import bindparam
from sqlalchemy import exists
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from crm import audit
from crm import controllers
from crm import outbox
from crm.audit import Actor
from crm.db import insert_ignoring_duplicates
from crm.db import utcnow
from crm.newsletter import suppression
from crm.newsletter.models import ConsentRecord
from crm.newsletter.models import Method
from crm.newsletter.models import Reason
from crm.newsletter.models import Status
from crm.newsletter.models import Subscription
from crm.newsletter.models import Suppression
from crm.outbox import Op
from crm.people.models import Person


class Addressee(Protocol):
    """What an unsubscribe needs of a person: a :class:`Person`, or an id-and-address row."""

    @property
    def id(self) -> int:
        """The person's primary key."""
        ...

    @property
    def email(self) -> str | None:
        """The address on file (None once erased)."""
        ...


_ADDRESSEE = select(Person.id, Person.email).where(Person.public_id == bindparam("public_id"))


def addressee_by_public_id(session: Session, public_id: Any) -> Addressee | None:
    """Return the id and address a signed unsubscribe link names, if the person still exists.

    The one-click POST needs nothing else of the person; loading the whole ORM object cost a
    third of that request's database time.
    """
    if not isinstance(public_id, str):
        return None
    # On the connection: no autoflush, which is right for the first read of a public request.
    return session.connection().execute(_ADDRESSEE, {"public_id": public_id}).first()


_subs = Subscription.__table__
# two equalities, not IN: an IN list is re-rendered into the SQL on every execution
_STILL_OPEN = or_(_subs.c.status == Status.ACTIVE, _subs.c.status == Status.PENDING)
# The unsubscribe hot path's statements, built once (building them cost more than running them).
_NOTHING_TO_DO = select(
    exists().where(_subs.c.person_id == bindparam("person_id"), _STILL_OPEN),
    exists().where(Suppression.__table__.c.email_hash == bindparam("digest")),
)
_LEAVE_ALL = (
    update(_subs)
    .where(_subs.c.person_id == bindparam("leaving_person_id"), _STILL_OPEN)
    .values(
        status=Status.UNSUBSCRIBED,
        unsubscribed_at=bindparam("now", type_=_subs.c.unsubscribed_at.type),
    )
    .returning(_subs.c.list_id)
)
_INSERT_CONSENT = insert(ConsentRecord.__table__)


def unsubscribe(
    session: Session,
    person: Addressee,
    method: Method,
    actor: Actor,
    *,
    user_agent: str | None = None,
    list_ids: Sequence[int] | None = None,
    reason: Reason = Reason.UNSUBSCRIBED,
    skip_provider: str | None = None,
) -> list[int]:
    """Unsubscribe from every list (or the given ones); idempotent. Returns the lists left.

    Leaving every list also suppresses the address, so no import, sync or owner edit can put
    it back; leaving only some (from the preferences page) does not. Once no list is left,
    every provider that has or may have the address gets an ``unsubscribe`` in the outbox
    (except ``skip_provider``, where the unsubscribe came from).

    This is the hot path of one-click unsubscribes: everything is read and prepared first,
    then a few Core statements run back to back, because on SQLite the writes hold the
    database's single write lock. The UPDATE only takes rows still active or pending, so two
    concurrent clicks record one withdrawal, not two.
    """
    everything = list_ids is None and person.email is not None
    digest = (
        suppression.email_hash(session, person.email)
        if everything and person.email is not None
        else None
    )
    # Statements on tables (not ORM entities) go to the connection directly: Session.execute
    # adds ORM bookkeeping they do not need, and it would not autoflush before them either.
    # outbox.providers_for below flushes first, so a link added earlier in this transaction
    # is seen.
    connection = session.connection()
    anything_open, suppressed = connection.execute(
        _NOTHING_TO_DO, {"person_id": person.id, "digest": digest or ""}
    ).one()
    if not anything_open and (digest is None or suppressed):
        return []  # nothing to do: a repeated click writes nothing
    now = utcnow()
    if list_ids is None:
        target = _LEAVE_ALL
    else:
        target = _LEAVE_ALL.where(_subs.c.list_id.in_(list(list_ids)))
    changed = connection.execute(target, {"leaving_person_id": person.id, "now": now}).all()
    left = sorted(row.list_id for row in changed)
    if left:
        controller_id = controllers.newsletter_id(connection)
        connection.execute(
            _INSERT_CONSENT,
            [
                {
                    "controller_id": controller_id,
                    "person_id": person.id,
                    "list_id": list_id,
                    "purpose": "newsletter",
                    "action": "withdraw",
                    "method": str(method),
                    "occurred_at": now,
                    "ip": actor.ip,
                    "user_agent": (user_agent or "")[:200] or None,
                    "staff_user_id": actor.user_id,
                    "consent_text_id": None,
                    "text_hash": None,
                    "note": None,
                }
                for list_id in left
            ],
        )
    added = digest is not None and insert_ignoring_duplicates(
        session,
        Suppression.__table__,
        {"email_hash": digest, "reason": str(reason), "created_at": now},
    )
    # leaving every list leaves nothing open; only a partial leave needs to look
    still_on = (
        None
        if list_ids is None
        else session.scalar(
            select(_subs.c.id).where(_subs.c.person_id == person.id, _STILL_OPEN).limit(1)
        )
    )
    if (left or added) and still_on is None and person.email:
        providers = outbox.providers_for(session, person.id) - {skip_provider}
        outbox.enqueue(session, Op.UNSUBSCRIBE, person.id, person.email, providers)
    if left or added:
        audit.record(
            session,
            actor,
            "newsletter.unsubscribe",
            object_type="person",
            object_id=person.id,
            details={"lists": left, "method": str(method)},
        )
    return left
