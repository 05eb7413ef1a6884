"""Mails to the client: the consent request and the confirmation with the revoke link."""

from __future__ import annotations

from email.message import EmailMessage

from flask import current_app
from flask import has_app_context
from flask import render_template
from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.orm import Session

from crm import controllers
from crm import mail
from crm.security import tokens
from crm.testimonials.models import Testimonial
from crm.web import absolute_url


def consent_url(t: Testimonial, content_hash: str) -> str:
    """A signed link to the consent page for exactly this content (expires)."""
    token = tokens.sign(tokens.Purpose.TESTIMONIAL_CONSENT, {"t": t.public_id, "h": content_hash})
    return absolute_url("testimonials_public.consent", token=token)


def revoke_url(t: Testimonial) -> str:
    """A signed link to withdraw consent; it never expires."""
    token = tokens.sign(tokens.Purpose.TESTIMONIAL_REVOKE, t.public_id)
    return absolute_url("testimonials_public.revoke", token=token)


def build_request(t: Testimonial, content_hash: str) -> EmailMessage:
    """The mail asking the client for consent (rendering may read the database)."""
    text = render_template(
        "testimonials/mail/request.txt",
        t=t,
        url=consent_url(t, content_hash),
        days=current_app.config["TESTIMONIAL_CONSENT_LINK_DAYS"],
    )
    return mail.build(
        t.person.email,
        _("May we publish your testimonial?"),
        text,
        sender=controllers.name_for(t.person),
    )


def send_request(t: Testimonial, content_hash: str) -> None:
    """Ask the client for consent."""
    mail.send(build_request(t, content_hash))


def send_confirmation(t: Testimonial, channels: list[str]) -> None:
    """Confirm the consent and give the link to withdraw it at any time."""
    text = render_template(
        "testimonials/mail/confirmed.txt", t=t, channels=channels, url=revoke_url(t)
    )
    mail.send(
        mail.build(
            t.person.email,
            _("Thank you: your consent is recorded"),
            text,
            sender=controllers.name_for(t.person),
        )
    )


_AFTER_COMMIT = "crm.testimonials.consent_mails"


def send_request_after_commit(session: Session, t: Testimonial, content_hash: str) -> None:
    """Ask the client for consent once the session's transaction has committed.

    Why after: a change made elsewhere (a rename on the person's card) asks anew from inside
    a service; a mail sent before the commit would point at a request that a rollback undoes.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append((t, content_hash))


_READY = "crm.testimonials.consent_mails_ready"


@event.listens_for(Session, "before_commit")
def _render_queued(session: Session) -> None:
    """Render the queued mails while the session may still read.

    The templates name the controller, which is a query, and a session that has committed can
    emit no SQL; the mails go out only after the commit (:func:`_send_queued`).
    """
    queued = session.info.pop(_AFTER_COMMIT, None)
    if not queued or not has_app_context():
        return
    ready = session.info.setdefault(_READY, [])
    for t, content_hash in queued:
        try:
            ready.append(build_request(t, content_hash))
        except mail.MailError:
            # no address in the log; the owner sees the request and can send it again
            current_app.logger.exception("consent request mail could not be built")


@event.listens_for(Session, "after_commit")
def _send_queued(session: Session) -> None:
    ready = session.info.pop(_READY, None)
    if not ready or not has_app_context():
        return
    for message in ready:
        try:
            mail.send(message)
        except mail.MailError:
            # no address in the log; the owner sees the request and can send it again
            current_app.logger.exception("consent request mail failed")


@event.listens_for(Session, "after_rollback")
def _drop_queued(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)
    session.info.pop(_READY, None)
