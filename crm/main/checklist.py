"""The first-run checklist on the dashboard: what a new practice must set up, in order.

Why: a fresh installation works, but publishes a policy naming "Praktiken", asks consent for a
placeholder, and sends nothing until a provider is connected. Each step is read from the data
itself (a filled-in controller, a processor list, a tested provider, a recent nightly run), so
the list cannot claim what is not true. Two steps are judgements only the owner can make (is
profile B right? does the consent text say what we do?) and one may not apply (a practice
without a mail provider): those the owner confirms with a button. Once every step is done the
checklist records that and disappears for good; later warnings (MFA off, a failing sync) have
their own places on the dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

import integrations
from crm import audit
from crm import controllers
from crm import provider_settings
from crm.audit import Actor
from crm.auth.models import User
from crm.db import Base
from crm.db import UTCDateTime
from crm.db import utcnow
from crm.i18n import N_
from crm.newsletter.models import ConsentText
from crm.privacy import practice
from crm.sync.models import SyncRun

#: a nightly run older than this is not "running nightly" any more
NIGHTLY_WITHIN = timedelta(hours=48)
#: steps the owner may mark done themselves (a judgement, or a step that may not apply)
CONFIRMABLE = ("profile", "consent_text", "providers")
COMPLETE = "complete"


class SetupStep(Base):
    """A step the owner confirmed, or ``complete`` once the whole checklist was done."""

    __tablename__ = "setup_step"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    step: Mapped[str] = mapped_column(String(32), unique=True)
    done_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )


@dataclass(frozen=True)
class Step:
    """One line of the checklist."""

    key: str
    #: English msgids; the template translates them
    title: str
    hint: str
    #: the page where it is done (an endpoint for url_for)
    endpoint: str
    done: bool
    #: users still without two-factor authentication (the MFA step)
    count: int = 0
    #: when the nightly job last finished (the nightly step)
    when: datetime | None = None
    #: the owner may mark it done here
    confirmable: bool = False


def is_complete(session: Session) -> bool:
    """Whether the checklist was finished once (then it is never shown again)."""
    return session.scalar(select(SetupStep.id).where(SetupStep.step == COMPLETE)) is not None


def steps(session: Session, config: Mapping[str, Any], now: datetime | None = None) -> list[Step]:
    """Every step with whether it is done, read from the installation's data."""
    now = now or utcnow()
    confirmed = set(session.scalars(select(SetupStep.step)))
    first = controllers.first(session)
    row = practice.load(session)
    processors = {p.name.lower() for p in row.processor_list()}
    effective = provider_settings.effective_config(session, config)
    enabled = [p for p in integrations.PROVIDERS if integrations.is_enabled(p, effective)]
    tested = {
        r.provider
        for r in provider_settings.last_checks(session).values()
        if r.check_result == "ok"
    }
    text = session.scalar(
        select(ConsentText)
        .where(ConsentText.purpose == "newsletter")
        .order_by(ConsentText.version.desc())
        .limit(1)
    )
    without_mfa = (
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.active.is_(True), User.totp_secret.is_(None))
        )
        or 0
    )
    nightly = session.scalar(
        select(SyncRun.finished_at)
        .where(SyncRun.trigger == "nightly", SyncRun.finished_at.is_not(None))
        .order_by(SyncRun.id.desc())
        .limit(1)
    )
    # a practice file copied from examples/ names stand-ins (seed 004 names no practice)
    stand_ins = any(c.stand_ins for c in controllers.all_controllers(session))
    return [
        Step(
            "controller",
            N_("Who the practice is"),
            N_(
                "The contact details are stand-ins (an address under .example, say, from an "
                "example practice file). Put the practice's own in: until then the privacy "
                "policy is not published."
            )
            if stand_ins
            else N_(
                "The practice's name and how to reach it (a postal address or a contact "
                "e-mail), as the privacy policy will name them. Until then the policy is not "
                "published."
            ),
            "privacy.practice_settings",
            first.details_complete and not stand_ins,
        ),
        Step(
            "profile",
            N_("The practice's profile"),
            N_(
                "A: a licensed profession that keeps a patient journal (patientdatalagen). "
                "B: everyone else (GDPR only). Choose A in the settings, or confirm B here."
            ),
            "privacy.practice_settings",
            (first.profile == "A" and bool(first.profession)) or "profile" in confirmed,
            confirmable=True,
        ),
        Step(
            "processors",
            N_("Processors"),
            N_(
                "The services that handle personal data for the practice (mail provider, "
                "bookkeeping, web host). Every mail provider in use must be among them."
            ),
            "privacy.practice_settings",
            bool(processors)
            and all(integrations.display_name(p).lower() in processors for p in enabled),
        ),
        Step(
            "consent_text",
            N_("The newsletter's consent text"),
            N_(
                "What a subscriber agrees to, word for word. Edit it in the newsletter settings, "
                "or confirm that it says what the practice does."
            ),
            "newsletter.settings",
            (text is not None and text.created_by_id is not None)
            or "consent_text" in confirmed
            # no newsletter: no consent to ask for (and its settings page is closed)
            or not row.uses("newsletter"),
            confirmable=True,
        ),
        Step(
            "mfa",
            N_("Two-factor authentication for every user"),
            N_("Everyone who logs in confirms with a code from an app on their phone."),
            "auth.users",
            without_mfa == 0,
            count=without_mfa,
        ),
        Step(
            "providers",
            N_("Mail provider"),
            N_(
                "Enter the API key and list of MailerLite, Mailchimp, Brevo or Paloma and test "
                "the connection. A practice that sends no newsletter confirms that here."
            ),
            "sync.index",
            (bool(enabled) and set(enabled) <= tested) or "providers" in confirmed,
            confirmable=not enabled,
        ),
        Step(
            "nightly",
            N_("The nightly job"),
            N_(
                "Sync, retention and the audit checkpoint run every night "
                "(scripts/nightly_sync.py from cron or a systemd timer, see the README)."
            ),
            "sync.index",
            nightly is not None and now - nightly <= NIGHTLY_WITHIN,
            when=nightly,
        ),
    ]


def for_dashboard(session: Session, config: Mapping[str, Any]) -> list[Step]:
    """The steps to show, or none once the checklist is complete (recorded the first time)."""
    if is_complete(session):
        return []
    found = steps(session, config)
    if all(s.done for s in found):
        session.add(SetupStep(step=COMPLETE))
        audit.record(session, Actor.system(), "setup.complete", object_type="setup")
        return []
    return found


def confirm(session: Session, step: str, actor: Actor) -> None:
    """Mark a judgement step done (the owner checked it); audited."""
    if step not in CONFIRMABLE:
        raise ValueError(step)
    if session.scalar(select(SetupStep.id).where(SetupStep.step == step)) is None:
        session.add(SetupStep(step=step, done_by_id=actor.user_id))
        audit.record(session, actor, "setup.confirm", object_type="setup", object_id=step)
