"""The record of processing activities (GDPR Art. 30), built from the practice settings.

The same activities feed the public privacy policy, so the record, the policy and the
system's configuration cannot drift apart.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

import integrations
from crm import csvsafe
from crm.controllers import Controller
from crm.controllers import IdNumberMode
from crm.i18n import period
from crm.outbox import enabled_providers
from crm.privacy.settings import KNOWN_PROCESSORS
from crm.privacy.settings import PracticeSettings
from crm.privacy.settings import Processor

MAIL = {adapter.display_name for adapter in integrations.ADAPTERS.values()}
MONEY = {"Fortnox", "Stripe", "Zettle"}

SECURITY = (
    "Personnummer, hälsoanteckningar, journal- och besöksanteckningar, omdömen och mediefiler "
    "krypteras (AES-256-GCM) med nycklar som hålls utanför databasen; inloggning med lösenord "
    "(argon2id) och tvåstegsverifiering; sessioner som löper ut; behörighetsroller; "
    "hashkedjad händelselogg över inloggningar, visningar och ändringar; krypterad "
    "överföring (TLS); säkerhetskopior."
)


@dataclass(frozen=True)
class Activity:
    """One processing activity, as Art. 30(1)(a)-(g) wants it described."""

    name: str
    purposes: str
    legal_basis: str
    subjects: str
    data: str
    recipients: str
    transfers: str
    retention: str


def _recipients(processors: list[Processor], names: set[str]) -> list[Processor]:
    return [p for p in processors if p.name in names]


def _describe(processors: list[Processor], extra: str = "") -> tuple[str, str]:
    names = ", ".join(f"{p.name} ({p.purpose})" for p in processors)
    outside = [
        f"{p.name}: {p.safeguards or _('safeguards to be documented')}"
        for p in processors
        if p.outside_eea
    ]
    recipients = "; ".join(x for x in (names, extra) if x) or _("None")
    return recipients, "; ".join(outside) or _("None: all data stays in the EU/EEA")


def processors_in_use(settings: PracticeSettings) -> list[Processor]:
    """The processors the owner listed, plus every mail provider the CRM sends addresses to.

    The app knows it uses those, so the record and the policy cannot leave them out (a
    Mailchimp key with nothing ticked used to say "all data stays in the EU/EEA").
    """
    procs = settings.processor_list()
    listed = {p.name.lower() for p in procs}
    known = {p.name.lower(): p for p in KNOWN_PROCESSORS}
    return procs + [
        known[name] for name in enabled_providers() if name not in listed and name in known
    ]


def _client_data(controller: Controller) -> str:
    """What is stored about clients, following the controller's identity-number setting."""
    if controller.mode == IdNumberMode.FULL:
        return _("Name, contact details, personnummer, health notes, journal entries, visits.")
    if controller.mode == IdNumberMode.BIRTH_DATE:
        return _(
            "Name, contact details, date of birth (never the last four digits of the "
            "personnummer), health notes, journal entries, visits."
        )
    return _("Name, contact details, health notes, journal entries, visits.")


def activities(settings: PracticeSettings, controller: Controller | None = None) -> list[Activity]:
    """One controller's processing activities (the first controller's by default)."""
    controller = controller or settings.first_controller()
    procs = processors_in_use(settings)
    profile_a = controller.profile == "A"
    # Every processor appears somewhere: anything not for mail or money serves the client work
    # (booking, journal system, web hosting, free entries).
    care_recipients, care_transfers = _describe([p for p in procs if p.name not in MAIL | MONEY])
    mail_recipients, mail_transfers = _describe(_recipients(procs, MAIL))
    money_recipients, money_transfers = _describe(_recipients(procs, MONEY))
    return [
        Activity(
            _("Client care and records"),
            _("Giving and documenting care, treatment or coaching; booking; contact."),
            _("Art. 6(1)(c) legal obligation (patientdatalagen) and Art. 9(2)(h) health care")
            if profile_a
            else _("Art. 6(1)(b) contract; Art. 9(2)(a) explicit consent for health notes"),
            _("Clients"),
            _client_data(controller),
            care_recipients,
            care_transfers,
            _(
                "%(period)s after the last journal entry",
                period=period(settings.retention_months("journal")),
            )
            if profile_a
            else _(
                "%(period)s after the client relationship ended",
                period=period(settings.retention_months("client_card")),
            ),
        ),
        Activity(
            _("Representatives and related persons"),
            _(
                "Knowing who may act for a client, and within which mandate: guardians, god man, "
                "förvaltare, holders of a power of attorney, payers, company contacts."
            ),
            _("Art. 6(1)(c) legal obligation (föräldrabalken) or Art. 6(1)(b) contract"),
            _("Representatives and related persons of clients"),
            _("Name, contact details, the role, the mandate and where it is documented."),
            _("None"),
            _("None"),
            _(
                "%(period)s after the last mandate ended",
                period=period(controller.representative_months),
            ),
        ),
        Activity(
            _("Newsletter"),
            _("Sending the newsletter to people who asked for it or are clients."),
            _("Art. 6(1)(a) consent; existing clients: marknadsföringslagen 19 § (soft opt-in)"),
            _("Subscribers"),
            _("Email address, name, lists, proof of consent (time, IP address, browser, text)."),
            mail_recipients,
            mail_transfers,
            _(
                "Until the person unsubscribes; proof of consent %(period)s after that; a code "
                "made from the address is kept to never mail them again.",
                period=period(settings.retention_months("consent_records")),
            ),
        ),
        Activity(
            _("Testimonials"),
            _("Publishing what clients wrote, where and how they consented."),
            _("Art. 6(1)(a) and Art. 9(2)(a) explicit consent per channel and medium"),
            _("Clients who gave a testimonial"),
            _("Text, images, audio, video, the name as shown, proof of consent."),
            _("Website visitors and the channels consented to"),
            _("None"),
            _("Until consent is withdrawn; files are deleted then."),
        ),
        Activity(
            _("Bookkeeping"),
            _("Invoicing and accounts."),
            _("Art. 6(1)(c) legal obligation (bokföringslagen)"),
            _("Clients who paid"),
            _("Name, address, what was bought and paid."),
            money_recipients,
            money_transfers,
            period(settings.retention_months("bookkeeping")),
        ),
        Activity(
            _("Data-subject requests and security"),
            _("Answering requests about personal data; keeping the system secure."),
            _("Art. 6(1)(c) legal obligation (GDPR Art. 5(2), 12-22, 32)"),
            _("Everyone whose data is held; staff"),
            _("Requests and answers; audit log of logins, views and changes (no health data)."),
            _("None"),
            _("None"),
            _(
                "Requests: %(r)s after closing; audit log: %(a)s",
                r=period(settings.retention_months("requests")),
                a=period(settings.retention_months("audit_log")),
            ),
        ),
    ]


def as_csv(settings: PracticeSettings, every: list[Controller]) -> str:
    """The record as CSV (semicolons, as Swedish spreadsheets expect), one block a controller."""
    out = io.StringIO()
    writer = csvsafe.writer(out, delimiter=";")
    for controller in every:
        _csv_block(writer, settings, controller)
    return "\ufeff" + out.getvalue()


def _csv_block(writer: Any, settings: PracticeSettings, controller: Controller) -> None:
    writer.writerow(
        [
            _("Controller"),
            controller.name,
            controller.org_number,
            controller.address,
            controller.contact_name,
            controller.contact_email,
        ]
    )
    writer.writerow(
        [
            _("Activity"),
            _("Purposes"),
            _("Legal basis"),
            _("Data subjects"),
            _("Personal data"),
            _("Recipients"),
            _("Transfers outside the EU/EEA"),
            _("Erasure time limits"),
            _("Security measures"),
        ]
    )
    for a in activities(settings, controller):
        writer.writerow(
            [
                a.name,
                a.purposes,
                a.legal_basis,
                a.subjects,
                a.data,
                a.recipients,
                a.transfers,
                a.retention,
                SECURITY,
            ]
        )
