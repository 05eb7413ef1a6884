"""Notices to the data subject: an extension, a refusal, the lifting of a restriction."""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _

from crm import mail
from crm.people.models import Person
from crm.privacy.models import DataRequest


def _send(person: Person | None, subject: str, template: str, **context: object) -> bool:
    """Send when the person has an address; returns whether a mail went out."""
    if person is None or not person.email:
        return False
    text = render_template(template, person=person, **context)
    mail.send(mail.build(person.email, subject, text))
    return True


def extension_notice(person: Person | None, request: DataRequest) -> bool:
    """Art. 12(3): tell the person the answer comes later, and why."""
    return _send(
        person, _("Your request: we need more time"), "privacy/mail/extension.txt", request=request
    )


def refusal_notice(person: Person | None, request: DataRequest) -> bool:
    """Art. 12(4): why we do not act, and that they can complain to IMY."""
    return _send(person, _("Your request"), "privacy/mail/refusal.txt", request=request)


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
