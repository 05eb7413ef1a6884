"""Joining a list: the public sign-up with its double opt-in, and the owner's manual adds.

Every change writes its consent record and audit row in the caller's transaction, so either
all of it happens or none of it does. Only the confirmation click lifts a suppression.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm import outbox
from crm.audit import Actor
from crm.db import utcnow
from crm.i18n import N_
from crm.newsletter import rules
from crm.newsletter import suppression
from crm.newsletter.common import NewsletterError
from crm.newsletter.common import create_person
from crm.newsletter.common import facts
from crm.newsletter.common import find_person
from crm.newsletter.common import record
from crm.newsletter.common import valid_email
from crm.newsletter.mailing_lists import current_consent_text
from crm.newsletter.mailing_lists import default_list
from crm.newsletter.models import MANUAL_METHODS
from crm.newsletter.models import ConsentRecord
from crm.newsletter.models import ConsentText
from crm.newsletter.models import MailingList
from crm.newsletter.models import Method
from crm.newsletter.models import Source
from crm.newsletter.models import Status
from crm.newsletter.models import Subscription
from crm.outbox import Op
from crm.people.models import Person
from crm.security import ratelimit


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
    person = find_person(session, email) or create_person(session, email, req.name)
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
        record(
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
        obj=person,
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
        record(
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
            obj=person,
            details={"lists": changed, "suppression_lifted": lifted},
        )
    return bool(changed)


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
        person = create_person(session, email, name)
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
    record(
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
        obj=person,
        details={"list": mlist.id, "method": method},
    )
    return sub
