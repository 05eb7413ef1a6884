"""The record of processing activities (GDPR Art. 30), from each controller's activity list.

The same list (crm/privacy/activities.py) feeds the public privacy policy, the export summary
and the sign-up's Art. 13 text, so the record, the policy and what the system does cannot
drift apart.
"""

from __future__ import annotations

import io
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import object_session

from crm import csvsafe
from crm.controllers import Controller
from crm.privacy import activities as activity_list
from crm.privacy.activities import Activity
from crm.privacy.practice import PracticeSettings

#: the processors that send mail (the newsletter's recipients)
MAIL = activity_list.MAIL

SECURITY = (
    "Personnummer, hälsoanteckningar, journal- och besöksanteckningar, omdömen och mediefiler "
    "krypteras (AES-256-GCM) med nycklar som hålls utanför databasen; inloggning med lösenord "
    "(argon2id) och tvåstegsverifiering; sessioner som löper ut; behörighetsroller; "
    "hashkedjad händelselogg över inloggningar, visningar och ändringar; krypterad "
    "överföring (TLS); säkerhetskopior."
)


def activities(settings: PracticeSettings, controller: Controller | None = None) -> list[Activity]:
    """One controller's processing activities as published (the first controller's by default)."""
    session = object_session(settings)
    assert session is not None
    return activity_list.effective(session, controller or settings.first_controller())


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
            _("Source"),
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
                a.source,
                SECURITY,
            ]
        )
