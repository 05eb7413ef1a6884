"""Telling subscribers and clients that the privacy policy changed materially (issue 15 part 2).

Why here: the people to tell are the newsletter's subscribers and the practice's clients, and
the policy is privacy's; main is the feature that may read all three (newsletter and privacy
do not import each other). A version that adds a purpose or a recipient
(crm/privacy/policy_versions.py) is offered on the dashboard; the owner reads and may edit the
mail, confirms, and the mails go out through crm/mail.py like every other notice. A restricted
person (Art. 18) is not mailed: restriction blocks every processing but storage.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import controllers
from crm import mail
from crm.audit import Actor
from crm.controllers import Controller
from crm.i18n import N_
from crm.newsletter.models import Subscription
from crm.people.models import ClientCard
from crm.people.models import Person
from crm.privacy import policy_versions
from crm.privacy.models import PolicyVersion
from crm.web import absolute_url


class NoticeError(ValueError):
    """The notice could not go out; the message is an English msgid."""


def audience(session: Session, controller: Controller) -> list[Person]:
    """Current clients of the controller and, if it runs the newsletter, active subscribers."""
    base = select(Person).where(Person.email.is_not(None), Person.restricted_at.is_(None))
    clients = base.join(ClientCard, ClientCard.person_id == Person.id).where(
        ClientCard.client_until.is_(None), Person.controller_id == controller.id
    )
    found = {p.id: p for p in session.scalars(clients)}
    if controllers.newsletter_id(session.connection()) == controller.id:
        subscribers = base.where(
            Person.id.in_(select(Subscription.person_id).where(Subscription.status == "active"))
        )
        found.update({p.id: p for p in session.scalars(subscribers)})
    return sorted(found.values(), key=lambda p: p.id)


@dataclass(frozen=True)
class Draft:
    """The mail the owner is shown before confirming."""

    subject: str
    body: str


def draft(session: Session, version: PolicyVersion) -> Draft:
    """The mail template: what the new version adds, and where to read it."""
    controller = controllers.get(session, version.controller_id)
    name = controllers.name_for(controller)
    body = render_template(
        "main/mail/policy_changed.txt",
        name=name,
        version=version,
        added=policy_versions.added(version),
        url=absolute_url("privacy_public.policy_version", version_id=version.id),
    )
    return Draft(_("%(name)s has updated its privacy policy", name=name), body)


def send(session: Session, version: PolicyVersion, subject: str, body: str, actor: Actor) -> int:
    """Mail everyone in the audience; returns how many mails went out.

    A mail that fails is counted out, not retried here: the version stays offered on the
    dashboard only when none went out, so a dead mail server is seen, not hidden.
    """
    if version.informed_at is not None:
        raise NoticeError(N_("Subscribers and clients were already told about this version."))
    subject, body = subject.strip(), body.strip()
    if not subject or len(body) < 20:
        raise NoticeError(N_("Write the subject and the text of the mail."))
    controller = controllers.get(session, version.controller_id)
    people = audience(session, controller)
    sender = controllers.name_for(controller)
    sent = 0
    for person in people:
        try:
            mail.send(mail.build(person.email, subject[:200], body, sender=sender))
        except mail.MailError:
            continue
        sent += 1
    if people and not sent:
        raise NoticeError(N_("No mail could be sent. Check the mail settings and try again."))
    policy_versions.mark_informed(session, version, sent, actor)
    return sent
