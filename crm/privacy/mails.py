"""Notices to the data subject: an extension, a refusal, the lifting of a restriction."""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy.orm import object_session

from crm import controllers
from crm import mail
from crm.people.models import Person
from crm.privacy import portal
from crm.privacy.models import DataRequest


def _send(person: Person | None, subject: str, template: str, **context: object) -> bool:
    """Send when the person has an address; returns whether a mail went out."""
    if person is None or not person.email:
        return False
    text = render_template(template, person=person, name=person.name, **context)
    mail.send(mail.build(person.email, subject, text, sender=controllers.name_for(person)))
    return True


def _answer(person: Person | None, request: DataRequest, subject: str, template: str) -> bool:
    """Answer about a request: to the person's address, or else to the portal's.

    The address confirmed in the privacy portal is the one to answer (for a representative,
    their own). Returns whether a mail went out.
    """
    if person is not None and person.email:
        return _send(person, subject, template, request=request)
    session = object_session(request)
    row = portal.for_request(session, request) if session is not None else None
    if row is None or row.confirmed_at is None or not row.email:
        return False
    text = render_template(template, person=None, name=row.name or "", request=request)
    mail.send(mail.build(row.email, subject, text, sender=controllers.name_for(request)))
    return True


def extension_notice(person: Person | None, request: DataRequest) -> bool:
    """Art. 12(3): tell the person the answer comes later, and why."""
    return _answer(
        person, request, _("Your request: we need more time"), "privacy/mail/extension.txt"
    )


def refusal_notice(person: Person | None, request: DataRequest) -> bool:
    """Art. 12(4): why we do not act, and that they can complain to IMY."""
    return _answer(person, request, _("Your request"), "privacy/mail/refusal.txt")


def restriction_lifted_notice(person: Person, note: str) -> bool:
    """Art. 18(3): tell the person before processing resumes."""
    return _send(
        person,
        _("The restriction of your data is lifted"),
        "privacy/mail/restriction_lifted.txt",
        note=note,
    )


def export_link(person: Person, url: str, hours: int) -> bool:
    """A signed link to the person's data (Art. 15/20), valid ``hours``."""
    return _send(person, _("Your data"), "privacy/mail/export_link.txt", url=url, hours=hours)


def erasure_receipt(person: Person, receipt: str) -> bool:
    """What was erased, and what was kept, why and until when."""
    return _send(
        person, _("Your data is erased"), "privacy/mail/erasure_receipt.txt", receipt=receipt
    )


def portal_confirmation(address: str, confirm_url: str, status_url: str, days: int) -> None:
    """The link that confirms a portal filing, sent to the address typed, known or not."""
    text = render_template(
        "privacy/mail/portal_confirm.txt", url=confirm_url, status_url=status_url, days=days
    )
    mail.send(mail.build(address, _("Confirm your request"), text, sender=controllers.name_for()))


def portal_receipt(address: str, request: DataRequest, status_url: str) -> None:
    """The receipt once the address is confirmed: received, due, and where to follow it."""
    text = render_template(
        "privacy/mail/portal_receipt.txt", request=request, status_url=status_url
    )
    mail.send(
        mail.build(
            address,
            _("We have received your request"),
            text,
            sender=controllers.name_for(request),
        )
    )
