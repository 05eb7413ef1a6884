"""Mails to the client: the consent request and the confirmation with the revoke link."""

from __future__ import annotations

from flask import current_app
from flask import render_template
from flask_babel import gettext as _

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


def send_request(t: Testimonial, content_hash: str) -> None:
    """Ask the client for consent."""
    text = render_template(
        "testimonials/mail/request.txt",
        t=t,
        url=consent_url(t, content_hash),
        days=current_app.config["TESTIMONIAL_CONSENT_LINK_DAYS"],
    )
    mail.send(mail.build(t.person.email, _("May we publish your testimonial?"), text))


def send_confirmation(t: Testimonial, channels: list[str]) -> None:
    """Confirm the consent and give the link to withdraw it at any time."""
    text = render_template(
        "testimonials/mail/confirmed.txt", t=t, channels=channels, url=revoke_url(t)
    )
    mail.send(mail.build(t.person.email, _("Thank you: your consent is recorded"), text))
