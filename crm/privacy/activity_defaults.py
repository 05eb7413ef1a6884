"""The standard processing activities, generated from the practice settings (issue 15 part 1).

What the CRM itself does for a practice (client care, representatives, newsletter,
testimonials, bookkeeping, requests), in the words the fixed policy used, following the
settings: a feature not in use has no activity, the journal shows only while it is kept, the
periods are the configured ones. crm/privacy/activities.py pre-fills a controller's list from
here and keeps rendering an activity from here while it still follows the settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy.orm import Session

import integrations
from crm import controllers
from crm.controllers import Controller
from crm.controllers import IdNumberMode
from crm.i18n import period
from crm.outbox import enabled_providers
from crm.privacy import practice
from crm.privacy.practice import PracticeSettings
from crm.privacy.practice_catalogue import KNOWN_PROCESSORS
from crm.privacy.practice_catalogue import Processor

#: processors that send mail for the newsletter, and those that handle money
MAIL = {adapter.display_name for adapter in integrations.ADAPTERS.values()}
MONEY = {"Fortnox", "Stripe", "Zettle"}
#: the activities the CRM itself performs, in their pre-filled order
STANDARD_KEYS = (
    "clients",
    "representatives",
    "newsletter",
    "testimonials",
    "bookkeeping",
    "requests",
)
#: the standard activity that belongs to a switchable feature
FEATURE_OF = {"newsletter": "newsletter", "testimonials": "testimonials"}


@dataclass(frozen=True)
class ActivityData:
    """One activity as a caller states it (the owner's form, a practice file)."""

    name: str
    purpose: str
    legal_basis: str
    data_categories: str = ""
    subjects: str = ""
    basis_detail: str = ""
    health_basis: str = ""
    recipients: tuple[str, ...] = ()
    transfers: str = ""
    retention: str = ""
    source: str = ""
    key: str = ""


def processors_in_use(row: PracticeSettings) -> list[Processor]:
    """The processors the owner listed, plus every mail provider the CRM sends addresses to.

    The app knows it uses those, so the record and the policy cannot leave them out (a
    Mailchimp key with nothing ticked used to say "all data stays in the EU/EEA").
    """
    procs = row.processor_list()
    listed = {p.name.lower() for p in procs}
    known = {p.name.lower(): p for p in KNOWN_PROCESSORS}
    return procs + [
        known[name] for name in enabled_providers() if name not in listed and name in known
    ]


def _is_newsletter_controller(session: Session, controller: Controller) -> bool:
    return controllers.newsletter_id(session.connection()) == controller.id


def _client_data(row: PracticeSettings, controller: Controller) -> str:
    """What is stored about clients, following the identity-number and journal settings."""
    parts = [_("Name, contact details")]
    if controller.mode == IdNumberMode.FULL:
        parts.append(_("personnummer"))
    elif controller.mode == IdNumberMode.BIRTH_DATE:
        parts.append(_("date of birth (never the last four digits of the personnummer)"))
    parts.append(_("health notes"))
    if row.uses("journal"):
        parts.append(_("journal entries"))
    parts.append(_("visits"))
    return ", ".join(parts) + "."


def defaults(session: Session, controller: Controller) -> list[ActivityData]:
    """The standard activities this controller performs, generated from the settings.

    A feature not in use (newsletter, testimonials) has no activity; the newsletter belongs
    to the controller that runs it (seed 000); the journal shows only while it is in use.
    """
    return [d for key in STANDARD_KEYS if (d := default_for(session, controller, key))]


def default_for(session: Session, controller: Controller, key: str) -> ActivityData | None:
    """One standard activity's generated texts, or None when it does not apply."""
    row = practice.load(session)
    feature = FEATURE_OF.get(key)
    if feature and not row.uses(feature):
        return None
    if key == "newsletter" and not _is_newsletter_controller(session, controller):
        return None
    procs = processors_in_use(row)
    if key == "clients":
        profile_a = controller.profile == "A"
        journal = profile_a and row.uses("journal")
        return ActivityData(
            key=key,
            name=_("Client care and records"),
            purpose=_("Giving and documenting care, treatment or coaching; booking; contact."),
            legal_basis="legal_obligation" if profile_a else "contract",
            basis_detail="patientdatalagen" if profile_a else "",
            health_basis="health_care" if profile_a else "explicit_consent",
            subjects=_("Clients"),
            data_categories=_client_data(row, controller),
            # anything not for mail or money serves the client work (booking, journal system,
            # web hosting, free entries)
            recipients=tuple(p.name for p in procs if p.name not in MAIL | MONEY),
            retention=_(
                "%(period)s after the last journal entry",
                period=period(row.retention_months("journal")),
            )
            if journal
            else _(
                "%(period)s after the client relationship ended",
                period=period(row.retention_months("client_card")),
            ),
        )
    if key == "representatives":
        return ActivityData(
            key=key,
            name=_("Representatives and related persons"),
            purpose=_(
                "Knowing who may act for a client, and within which mandate: guardians, god man, "
                "förvaltare, holders of a power of attorney, payers, company contacts."
            ),
            legal_basis="legal_obligation",
            basis_detail=_("föräldrabalken; for payers and company contacts Art. 6(1)(b) contract"),
            subjects=_("Representatives and related persons of clients"),
            data_categories=_(
                "Name, contact details, the role, the mandate and where it is documented."
            ),
            retention=_(
                "%(period)s after the last mandate ended",
                period=period(controller.representative_months),
            ),
        )
    if key == "newsletter":
        return ActivityData(
            key=key,
            name=_("Newsletter"),
            purpose=_("Sending the newsletter to people who asked for it or are clients."),
            legal_basis="consent",
            basis_detail=_("existing clients: marknadsföringslagen 19 § (soft opt-in)"),
            subjects=_("Subscribers"),
            data_categories=_(
                "Email address, name, lists, proof of consent (time, IP address, browser, text)."
            ),
            recipients=tuple(p.name for p in procs if p.name in MAIL),
            retention=_(
                "Until the person unsubscribes; proof of consent %(period)s after that; a code "
                "made from the address is kept to never mail them again.",
                period=period(row.retention_months("consent_records")),
            ),
        )
    if key == "testimonials":
        return ActivityData(
            key=key,
            name=_("Testimonials"),
            purpose=_("Publishing what clients wrote, where and how they consented."),
            legal_basis="consent",
            basis_detail=_("per channel and medium"),
            health_basis="explicit_consent",
            subjects=_("Clients who gave a testimonial"),
            data_categories=_("Text, images, audio, video, the name as shown, proof of consent."),
            recipients=(_("Website visitors and the channels consented to"),),
            retention=_("Until consent is withdrawn; files are deleted then."),
        )
    if key == "bookkeeping":
        return ActivityData(
            key=key,
            name=_("Bookkeeping"),
            purpose=_("Invoicing and accounts."),
            legal_basis="legal_obligation",
            basis_detail="bokföringslagen",
            subjects=_("Clients who paid"),
            data_categories=_("Name, address, what was bought and paid."),
            recipients=tuple(p.name for p in procs if p.name in MONEY),
            retention=period(row.retention_months("bookkeeping")),
        )
    if key == "requests":
        return ActivityData(
            key=key,
            name=_("Data-subject requests and security"),
            purpose=_("Answering requests about personal data; keeping the system secure."),
            legal_basis="legal_obligation",
            basis_detail="GDPR art. 5.2, 12–22, 32",
            subjects=_("Everyone whose data is held; staff"),
            data_categories=_(
                "Requests and answers; audit log of logins, views and changes (no health data)."
            ),
            retention=_(
                "Requests: %(r)s after closing; audit log: %(a)s",
                r=period(row.retention_months("requests")),
                a=period(row.retention_months("audit_log")),
            ),
        )
    return None
