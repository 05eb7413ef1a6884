"""Newsletter operations: sign-up, double opt-in, unsubscribe, preferences, manual adds.

Every change writes its consent record and audit row in the caller's transaction, so either
all of it happens or none of it does. An unsubscribe is final until the person confirms a new
sign-up (double opt-in); nothing else lifts the suppression it creates.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Protocol

from flask import current_app
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import union
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import joinedload

from crm import audit
from crm import controllers
from crm import outbox
from crm.audit import Actor
from crm.db import Base
from crm.db import insert_ignoring_duplicates
from crm.db import utcnow
from crm.i18n import N_
from crm.newsletter import rules
from crm.newsletter import suppression
from crm.newsletter.models import MANUAL_METHODS
from crm.newsletter.models import ConsentRecord
from crm.newsletter.models import ConsentText
from crm.newsletter.models import MailingList
from crm.newsletter.models import Method
from crm.newsletter.models import Reason
from crm.newsletter.models import Source
from crm.newsletter.models import Status
from crm.newsletter.models import Subscription
from crm.newsletter.models import Suppression
from crm.outbox import Op
from crm.people.models import ClientCard
from crm.people.models import JournalEntry
from crm.people.models import Person
from crm.people.models import Visit
from crm.security import emails
from crm.security import ratelimit

DEFAULT_LIST_NAME = "Nyhetsbrev"
DEFAULT_CONSENT_TEXT = (
    "Ja, jag vill få nyhetsbrev från {practice} via e-post. Jag kan när som helst avsluta "
    "prenumerationen via länken i varje utskick."
)


class NewsletterError(ValueError):
    """An operation was refused; the message is an English msgid for the user."""


def valid_email(email: str) -> bool:
    """Tell whether an address is one plain address (crm.security.emails, the one check)."""
    return emails.is_valid(email)


def text_hash(text: str) -> str:
    """Return the hash that proves which consent text someone saw."""
    return hashlib.sha256(text.encode()).hexdigest()


# --- lists and consent texts ------------------------------------------------------------------


def default_list(session: Session) -> MailingList:
    """Return the default list, creating it the first time it is needed."""
    row = session.scalar(select(MailingList).where(MailingList.is_default.is_(True)))
    if row is None:
        row = session.scalar(select(MailingList).order_by(MailingList.id))
        if row is None:
            row = MailingList(name=DEFAULT_LIST_NAME, is_default=True)
            session.add(row)
        row.is_default = True
        session.flush()
    return row


def all_lists(session: Session) -> list[MailingList]:
    """Return every list, the default first."""
    default_list(session)
    stmt = select(MailingList).order_by(MailingList.is_default.desc(), MailingList.name)
    return list(session.scalars(stmt))


def create_list(session: Session, name: str, actor: Actor) -> MailingList:
    """Add a list."""
    name = name.strip()
    if not name:
        raise NewsletterError(N_("Enter a name for the list."))
    if session.scalar(select(MailingList.id).where(func.lower(MailingList.name) == name.lower())):
        raise NewsletterError(N_("A list with this name already exists."))
    row = MailingList(name=name[:100])
    session.add(row)
    session.flush()
    audit.record(session, actor, "newsletter.list_create", object_type="list", object_id=row.id)
    return row


def current_consent_text(session: Session) -> ConsentText:
    """Return the newest consent text, creating version 1 the first time it is needed."""
    row = session.scalar(
        select(ConsentText)
        .where(ConsentText.purpose == "newsletter")
        .order_by(ConsentText.version.desc())
        .limit(1)
    )
    # seed 000: the consent is given to the controller that runs the newsletter
    runs = controllers.get(session, controllers.newsletter_id(session.connection()))
    text = DEFAULT_CONSENT_TEXT.format(
        practice=runs.display_name(current_app.config["PRACTICE_NAME"])
    )
    if row is None or (_is_default_text(row) and row.text != text):
        # first use, or the controller was named (or renamed) since the default was written:
        # a new version, so consents already given keep the text they were given to
        version = 1 if row is None else row.version + 1
        row = ConsentText(
            purpose="newsletter", version=version, text=text, text_hash=text_hash(text)
        )
        session.add(row)
        session.flush()
    return row


_DEFAULT_PATTERN = re.compile(
    re.escape(DEFAULT_CONSENT_TEXT).replace(re.escape("{practice}"), ".+") + "$"
)


def _is_default_text(row: ConsentText) -> bool:
    """The text was written by the system from the default, not by the owner."""
    return row.created_by_id is None and _DEFAULT_PATTERN.match(row.text) is not None


def update_consent_text(session: Session, text: str, actor: Actor) -> ConsentText:
    """Store an edited consent text as a new version; earlier records keep their version."""
    text = text.strip()
    if len(text) < 20:
        raise NewsletterError(
            N_("The consent text is too short to tell people what they agree to.")
        )
    current = current_consent_text(session)
    if text == current.text:
        return current
    row = ConsentText(
        purpose="newsletter",
        version=current.version + 1,
        text=text,
        text_hash=text_hash(text),
        created_by_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "newsletter.consent_text",
        object_type="consent_text",
        object_id=row.id,
        details={"version": row.version},
    )
    return row


def ensure_defaults(session: Session) -> None:
    """Create the default list and the first consent text (run by ``crm init``)."""
    default_list(session)
    current_consent_text(session)


# --- people -----------------------------------------------------------------------------------


def find_person(session: Session, email: str) -> Person | None:
    """Return the person with this address."""
    return session.scalar(select(Person).where(Person.email == suppression.normalise(email)))


def _create_person(session: Session, email: str, name: str) -> Person:
    """Add a person for a new address (named by the address when no name is given)."""
    person = Person(
        email=email,
        name=(name or "").strip()[:200] or email,
        # seed 000: a subscriber is the newsletter's controller's
        controller_id=controllers.newsletter_id(session.connection()),
    )
    session.add(person)
    session.flush()
    return person


def facts(session: Session, person: Person | None, email: str, list_id: int) -> rules.Facts:
    """Gather what :func:`crm.newsletter.rules.decide` looks at, for one address and list."""
    suppressed = suppression.is_suppressed(session, email)
    if person is None or person.id is None:
        return rules.Facts(suppressed=suppressed)
    status = session.scalar(
        select(Subscription.status).where(
            Subscription.person_id == person.id, Subscription.list_id == list_id
        )
    )
    latest = session.execute(
        select(ConsentRecord.action, ConsentRecord.method)
        .where(ConsentRecord.person_id == person.id, ConsentRecord.list_id == list_id)
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    ).first()
    return rules.Facts(
        suppressed=suppressed,
        restricted=person.restricted_at is not None,
        objected=person.marketing_objection_at is not None,
        client=not is_newsletter_only(session, person),
        status=status,
        # a public sign-up's grant is the newest record: it awaits its confirmation click
        signup_awaiting=latest is not None
        and latest.action == "grant"
        and latest.method == Method.WEB_FORM,
    )


def _record(
    session: Session,
    person: Person,
    action: str,
    method: str,
    *,
    mlist: MailingList | None = None,
    text: ConsentText | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    staff_user_id: int | None = None,
    note: str | None = None,
) -> ConsentRecord:
    record = ConsentRecord(
        person_id=person.id,
        list_id=mlist.id if mlist else None,
        action=action,
        method=method,
        consent_text_id=text.id if text else None,
        text_hash=text.text_hash if text else None,
        ip=ip,
        user_agent=(user_agent or "")[:200] or None,
        staff_user_id=staff_user_id,
        note=(note or "").strip() or None,
    )
    session.add(record)
    return record


# --- sign-up and double opt-in ----------------------------------------------------------------


@dataclass
class Signup:
    """What a sign-up form or the JSON endpoint sends."""

    email: str
    name: str = ""
    list_ids: Sequence[int] = ()
    consent_text_id: int | None = None
    consent_given: bool = False
    source: str = Source.SIGNUP_FORM
    ip: str | None = None
    user_agent: str | None = None
    #: the form showed the lists to tick (none pre-ticked): ticking none is an error, not
    #: a silent default. Without a choice shown, the default list is the one consented to.
    lists_offered: bool = False


@dataclass
class SignupResult:
    """What a sign-up led to. ``confirm_lists`` is empty when nothing needs confirming."""

    person: Person
    confirm_lists: list[MailingList] = field(default_factory=list)


def _lists_for(session: Session, ids: Sequence[int]) -> list[MailingList]:
    if not ids:
        return [default_list(session)]
    rows = list(session.scalars(select(MailingList).where(MailingList.id.in_(list(ids)))))
    if len(rows) != len(set(ids)):
        raise NewsletterError(N_("Choose a list to subscribe to."))
    return rows


def signup_throttled(session: Session, ip: str | None, email: str) -> bool:
    """Tell whether this IP or address has signed up too often lately (mail-bombing guard)."""
    cfg = current_app.config
    by_ip = ratelimit.count(session, ratelimit.bucket("signup-ip", ip or "-"), timedelta(hours=1))
    by_mail = ratelimit.count(
        session, ratelimit.bucket("signup-email", suppression.normalise(email)), timedelta(days=1)
    )
    return by_ip >= cfg["SIGNUP_MAX_PER_IP_HOUR"] or by_mail >= cfg["SIGNUP_MAX_PER_EMAIL_DAY"]


def signup(session: Session, req: Signup) -> SignupResult:
    """Record a sign-up: pending subscriptions plus a consent grant with the exact text shown.

    Works the same for suppressed addresses: the confirmation click is the new double opt-in
    that alone may lift a suppression.
    """
    email = suppression.normalise(req.email)
    if not valid_email(email):
        raise NewsletterError(N_("Enter a valid email address."))
    if not req.consent_given:
        raise NewsletterError(N_("Tick the box to show that you agree."))
    text = session.get(ConsentText, req.consent_text_id) if req.consent_text_id else None
    if text is None:
        text = current_consent_text(session)
    if req.lists_offered and not req.list_ids:
        raise NewsletterError(N_("Choose a list to subscribe to."))
    lists = _lists_for(session, req.list_ids)
    ratelimit.hit(session, ratelimit.bucket("signup-ip", req.ip or "-"))
    ratelimit.hit(session, ratelimit.bucket("signup-email", email))
    # An existing person is never changed by an anonymous form: not the name, not a
    # withdrawal, not a suppression (finding 10). Only the confirmation click counts.
    person = find_person(session, email) or _create_person(session, email, req.name)
    result = SignupResult(person)
    for mlist in lists:
        decision = rules.decide(
            facts(session, person, email, mlist.id), Method.WEB_FORM, public=True
        )
        if not decision.allowed:
            continue  # already on the list, or restricted: say nothing different (no enumeration)
        sub = session.scalar(
            select(Subscription).where(
                Subscription.person_id == person.id, Subscription.list_id == mlist.id
            )
        )
        if sub is None:
            session.add(
                Subscription(
                    person_id=person.id, list_id=mlist.id, source=req.source, status=Status.PENDING
                )
            )
        elif sub.status == Status.PENDING:
            sub.created_at = utcnow()  # a new link: the wait before the purge starts again
        # a subscription the person left stays as it is: the grant below awaits the click
        _record(
            session,
            person,
            "grant",
            Method.WEB_FORM,
            mlist=mlist,
            text=text,
            ip=req.ip,
            user_agent=req.user_agent,
        )
        result.confirm_lists.append(mlist)
    audit.record(
        session,
        Actor("public", None, req.ip),
        "newsletter.signup",
        object_type="person",
        object_id=person.id,
        details={"lists": [m.id for m in result.confirm_lists], "source": req.source},
    )
    return result


def confirm_payload(person: Person, lists: Sequence[MailingList]) -> dict[str, Any]:
    """Return what a confirmation link carries: the public id and the list ids."""
    return {"p": person.public_id, "l": [m.id for m in lists]}


def confirm(session: Session, payload: Any, ip: str | None, user_agent: str | None) -> bool:
    """Activate the pending subscriptions a confirmation link names; idempotent.

    Returns whether anything was activated (False too when the person no longer exists, or
    is restricted): the caller shows the same page either way, and welcomes only then.
    """
    if not isinstance(payload, dict):
        return False
    person = session.scalar(select(Person).where(Person.public_id == str(payload.get("p"))))
    if person is None or person.email is None:
        return False
    changed = []
    for list_id in payload.get("l") or []:
        sub = session.scalar(
            select(Subscription).where(
                Subscription.person_id == person.id, Subscription.list_id == list_id
            )
        )
        if sub is None:
            continue
        decision = rules.decide(
            facts(session, person, person.email, sub.list_id), Method.DOUBLE_OPT_IN
        )
        if decision.outcome != rules.Outcome.ACTIVATE:
            continue  # already active, restricted (Art. 18), or no sign-up awaits this click
        grant = session.scalar(
            select(ConsentRecord)
            .where(
                ConsentRecord.person_id == person.id,
                ConsentRecord.list_id == list_id,
                ConsentRecord.action == "grant",
            )
            .order_by(ConsentRecord.id.desc())
            .limit(1)
        )
        sub.status, sub.confirmed_at, sub.unsubscribed_at = Status.ACTIVE, utcnow(), None
        _record(
            session,
            person,
            "confirm",
            Method.DOUBLE_OPT_IN,
            mlist=sub.mailing_list,
            text=grant.consent_text if grant else None,
            ip=ip,
            user_agent=user_agent,
        )
        changed.append(list_id)
    if changed:
        lifted = suppression.lift(session, person.email)
        if person.restricted_at is None:
            outbox.enqueue(session, Op.UPSERT, person.id, person.email, outbox.enabled_providers())
        audit.record(
            session,
            Actor("public", None, ip),
            "newsletter.confirm",
            object_type="person",
            object_id=person.id,
            details={"lists": changed, "suppression_lifted": lifted},
        )
    return bool(changed)


# --- unsubscribe ------------------------------------------------------------------------------


def person_by_public_id(session: Session, public_id: Any) -> Person | None:
    """Return the person a signed link names, if they still exist."""
    if not isinstance(public_id, str):
        return None
    return session.scalar(select(Person).where(Person.public_id == public_id))


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


# --- owner: manual subscribers ----------------------------------------------------------------


def add_manual(
    session: Session, *, email: str, name: str, list_id: int, method: str, note: str, actor: Actor
) -> Subscription:
    """Add a subscriber by hand, recording how consent was obtained (paper, verbal, client)."""
    email = suppression.normalise(email)
    if not valid_email(email):
        raise NewsletterError(N_("Enter a valid email address."))
    if method not in {m.value for m in MANUAL_METHODS}:
        raise NewsletterError(N_("Say how consent was obtained."))
    mlist = session.get(MailingList, list_id)
    if mlist is None:
        raise NewsletterError(N_("Choose a list to subscribe to."))
    person = find_person(session, email)
    decision = rules.decide(facts(session, person, email, mlist.id), method)
    if not decision.allowed:
        raise NewsletterError(decision.reason or rules.ALREADY)
    if person is None:
        person = _create_person(session, email, name)
    elif name and person.name == person.email:
        person.name = name.strip()[:200]  # the owner typed the name the import lacked
    sub = session.scalar(
        select(Subscription).where(
            Subscription.person_id == person.id, Subscription.list_id == mlist.id
        )
    )
    if sub is None:
        sub = Subscription(person_id=person.id, list_id=mlist.id, source=Source.MANUAL)
        session.add(sub)
    sub.status, sub.source, sub.confirmed_at = Status.ACTIVE, Source.MANUAL, utcnow()
    sub.legal_basis = "soft_opt_in" if method == Method.SOFT_OPT_IN else "consent"
    _record(
        session,
        person,
        "grant",
        method,
        mlist=mlist,
        ip=actor.ip,
        staff_user_id=actor.user_id,
        note=note,
    )
    outbox.enqueue(session, Op.UPSERT, person.id, email, outbox.enabled_providers())
    audit.record(
        session,
        actor,
        "newsletter.add_manual",
        object_type="person",
        object_id=person.id,
        details={"list": mlist.id, "method": method},
    )
    return sub


# --- reading ----------------------------------------------------------------------------------


@dataclass
class SubscriberFilter:
    """Filters of the owner's subscriber list."""

    status: str = ""
    list_id: int | None = None
    source: str = ""
    query: str = ""


def _filtered(f: SubscriberFilter) -> Any:
    stmt = select(Subscription).join(Person, Person.id == Subscription.person_id)
    if f.status:
        stmt = stmt.where(Subscription.status == f.status)
    if f.list_id:
        stmt = stmt.where(Subscription.list_id == f.list_id)
    if f.source:
        stmt = stmt.where(Subscription.source == f.source)
    if f.query.strip():
        key = f.query.strip().lower()
        # One indexed range per column, united: an OR across columns would scan every row.
        matches = union(
            *[
                select(Person.id).where(col >= key, col < key + "\U0010ffff")
                for col in (Person.email, Person.name_key, Person.surname_key)
            ]
        )
        stmt = stmt.where(Subscription.person_id.in_(select(matches.subquery().c.id)))

    return stmt


def subscribers(
    session: Session,
    f: SubscriberFilter,
    page: int,
    per_page: int,
    counts: dict[str, int] | None = None,
) -> tuple[list[Subscription], int]:
    """Return one page of subscriptions matching ``f`` and their total.

    ``counts`` (from :func:`status_counts` for ``f.list_id``), when the page has them
    anyway, give the total of an unsearched list without counting every row again.
    """
    stmt = _filtered(f)
    if counts is not None and not f.query.strip() and not f.source:
        total = counts.get(f.status, 0) if f.status else sum(counts.values())
    elif f.query.strip():
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    else:  # no search: count the subscriptions alone, without the join
        count = select(func.count()).select_from(Subscription)
        if stmt.whereclause is not None:
            count = count.where(stmt.whereclause)
        total = session.scalar(count) or 0
    rows = session.scalars(
        stmt.options(joinedload(Subscription.person), joinedload(Subscription.mailing_list))
        .order_by(Subscription.created_at.desc(), Subscription.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(rows), total


def status_counts(session: Session, list_id: int | None = None) -> dict[str, int]:
    """Return how many subscriptions have each status.

    Grouped by list and status, the order of ``ix_subscription_list_status``, so the database
    walks that index instead of sorting every subscription (24 -> 8 ms at 100,000 on SQLite).
    """
    stmt = select(Subscription.status, func.count()).group_by(
        Subscription.list_id, Subscription.status
    )
    if list_id:
        stmt = stmt.where(Subscription.list_id == list_id)
    counts: dict[str, int] = {}
    for status, n in session.execute(stmt):
        counts[status] = counts.get(status, 0) + n
    return counts


def timeline(session: Session, person_id: int) -> list[ConsentRecord]:
    """Return a person's consent records, oldest first."""
    stmt = (
        select(ConsentRecord)
        .where(ConsentRecord.person_id == person_id)
        .order_by(ConsentRecord.occurred_at, ConsentRecord.id)
    )
    return list(session.scalars(stmt))


EXPORT_COLUMNS = (
    "email",
    "name",
    "list",
    "status",
    "source",
    "legal_basis",
    "subscribed_at",
    "confirmed_at",
    "unsubscribed_at",
)


def export_rows(session: Session, f: SubscriberFilter) -> Iterator[tuple[str, ...]]:
    """Yield subscriber rows for CSV, streaming from the database in batches."""
    stmt = (
        select(
            Person.email,
            Person.name,
            MailingList.name,
            Subscription.status,
            Subscription.source,
            Subscription.legal_basis,
            Subscription.created_at,
            Subscription.confirmed_at,
            Subscription.unsubscribed_at,
        )
        .select_from(Subscription)
        .join(Person, Person.id == Subscription.person_id)
        .join(MailingList, MailingList.id == Subscription.list_id)
        .order_by(Subscription.id)
    )
    sub_filter = _filtered(f).whereclause
    if sub_filter is not None:
        stmt = stmt.where(sub_filter)
    for row in session.execute(stmt.execution_options(yield_per=2000)):
        yield tuple(
            "" if v is None else v.isoformat() if isinstance(v, datetime) else str(v) for v in row
        )


# --- the subscriber's own data ----------------------------------------------------------------


def subject_data(session: Session, person: Person) -> dict[str, Any]:
    """Return what the newsletter holds about a person, for their own download."""
    subs = session.scalars(select(Subscription).where(Subscription.person_id == person.id))
    return {
        "person": {
            "name": person.name,
            "email": person.email,
            "created_at": person.created_at.isoformat(),
        },
        "subscriptions": [
            {
                "list": s.mailing_list.name,
                "status": s.status,
                "source": s.source,
                "legal_basis": s.legal_basis,
                "subscribed_at": s.created_at.isoformat(),
                "confirmed_at": s.confirmed_at.isoformat() if s.confirmed_at else None,
                "unsubscribed_at": s.unsubscribed_at.isoformat() if s.unsubscribed_at else None,
            }
            for s in subs
        ],
        "consent_records": [
            {
                "action": r.action,
                "method": r.method,
                "list": r.mailing_list.name if r.mailing_list else None,
                "at": r.occurred_at.isoformat(),
                "ip": r.ip,
                "user_agent": r.user_agent,
                "consent_text": r.consent_text.text if r.consent_text else None,
                "consent_text_version": r.consent_text.version if r.consent_text else None,
            }
            for r in timeline(session, person.id)
        ],
    }


def is_newsletter_only(session: Session, person: Person) -> bool:
    """Tell whether the person is not a client: no client card, no visits, no journal.

    Decides whether "forget me" (crm/privacy/forget.py) erases at once (through the erasure
    mechanism, which keeps legal holds) or becomes a request for the owner to handle.
    """
    for column in (ClientCard.person_id, Visit.person_id, JournalEntry.person_id):
        if session.scalar(select(column).where(column == person.id).limit(1)) is not None:
            return False
    return True


#: Tables about a person that are the newsletter's own, or only bookkeeping of where the
#: address was sent; any other table referring to a person is "something else on file".
NEWSLETTER_TABLES = frozenset({"subscription", "consent_record", "provider_link", "outbox_op"})


def only_newsletter_records(session: Session, person: Person) -> bool:
    """Tell whether nothing but newsletter records refers to the person.

    Found from the schema, not from a list of features: every table with a foreign key to
    ``person`` (client card, visits, journal, testimonials, legal holds, requests, and any
    table added later) counts, except the newsletter's own. The purge of stale sign-ups
    deletes the person row directly, so it must not miss anything: a fixed list once missed
    the journal, and a patient who signed up and never confirmed lost it.
    """
    for table in Base.metadata.sorted_tables:
        if table.name in NEWSLETTER_TABLES:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == "person":
                found = session.scalar(select(fk.parent).where(fk.parent == person.id).limit(1))
                if found is not None:
                    return False
    return True


def set_lists(
    session: Session, person: Person, wanted: set[int], actor: Actor, user_agent: str | None
) -> list[MailingList]:
    """Apply the preferences form: leave unticked lists, start double opt-in for new ones.

    Returns the lists that now await confirmation. Leaving every list is a full unsubscribe.
    """
    subs = {
        s.list_id: s
        for s in session.scalars(select(Subscription).where(Subscription.person_id == person.id))
    }
    current = {lid for lid, s in subs.items() if s.status in (Status.ACTIVE, Status.PENDING)}
    if not wanted:
        unsubscribe(session, person, Method.PREFERENCES, actor, user_agent=user_agent)
        return []
    leaving = current - wanted
    if leaving:
        unsubscribe(
            session,
            person,
            Method.PREFERENCES,
            actor,
            user_agent=user_agent,
            list_ids=sorted(leaving),
        )
    joining = wanted - current
    if not joining or person.email is None:
        return []
    result = signup(
        session,
        Signup(
            email=person.email,
            list_ids=sorted(joining),
            consent_given=True,
            source=Source.PREFERENCES,
            ip=actor.ip,
            user_agent=user_agent,
        ),
    )
    return result.confirm_lists


# --- retention --------------------------------------------------------------------------------


def purge_unconfirmed(
    session: Session, now: datetime | None = None, *, dry_run: bool = False
) -> int:
    """Delete sign-ups left unconfirmed 7 days after their link expired; returns how many.

    A person known only through such sign-ups is deleted with them (their unconfirmed grants
    go with the person); anyone with anything else on file keeps their person row, and so
    does anyone with a confirmation or a withdrawal on record: that proof is owed for the
    consent-record period, which the retention rule for consent records enforces.
    """
    now = now or utcnow()
    days = current_app.config["CONFIRM_LINK_DAYS"] + 7
    cutoff = now - timedelta(days=days)
    stale = list(
        session.scalars(
            select(Subscription).where(
                Subscription.status == Status.PENDING, Subscription.created_at < cutoff
            )
        )
    )
    people = {s.person_id for s in stale}
    if dry_run:
        return len(stale)
    for sub in stale:
        session.delete(sub)
    session.flush()
    for person_id in people:
        person = session.get(Person, person_id)
        remaining = session.scalar(select(func.count()).where(Subscription.person_id == person_id))
        proof = session.scalar(
            select(ConsentRecord.id)
            .where(ConsentRecord.person_id == person_id, ConsentRecord.action != "grant")
            .limit(1)
        )
        if (
            person is not None
            and not remaining
            and proof is None
            and only_newsletter_records(session, person)
        ):
            session.execute(delete(ConsentRecord).where(ConsentRecord.person_id == person_id))
            session.delete(person)
    if stale:
        audit.record(
            session,
            Actor.system(),
            "retention.unconfirmed_signups",
            details={"subscriptions": len(stale), "people": len(people)},
        )
    return len(stale)
