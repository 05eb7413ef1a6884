"""The breach register: every personal data breach documented, with the 72-hour clock.

GDPR Art. 33(5) wants every breach documented (facts, effects, remedial action) whether or
not it is reported; Art. 33(1) a report to IMY within 72 hours of becoming aware of it unless
it is unlikely to result in a risk; Art. 34 telling the people affected when the risk is high.
The dashboard shows what is still owed and when it is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm.audit import Actor
from crm.db import utcnow
from crm.errors import DomainError
from crm.i18n import N_
from crm.privacy.models import Breach

REPORT_WITHIN = timedelta(hours=72)
RISKS = ("none", "risk", "high")


class BreachError(DomainError):
    """A breach entry was refused; the message is an English msgid for the user."""


@dataclass(frozen=True)
class Facts:
    """What the owner writes down about a breach."""

    discovered_at: datetime
    description: str
    affected: str
    consequences: str
    measures: str
    risk: str
    no_report_reason: str = ""


def report_due(breach: Breach) -> datetime:
    """When the report to IMY is due: 72 hours after the breach was discovered."""
    return breach.discovered_at + REPORT_WITHIN


def record(session: Session, facts: Facts, actor: Actor) -> Breach:
    """Document a breach in the caller's transaction.

    :raises BreachError: the risk is unknown, the discovery lies in the future, or "no risk"
        comes without the reason (the register must show why it was not reported).
    """
    if facts.risk not in RISKS:
        raise BreachError(N_("Choose how likely the breach is to harm the people affected."))
    if facts.discovered_at > utcnow():
        raise BreachError(N_("The breach cannot be discovered in the future."))
    if facts.risk == "none" and not facts.no_report_reason.strip():
        raise BreachError(N_("Write why the breach is unlikely to harm anyone (not reported)."))
    breach = Breach(
        discovered_at=facts.discovered_at,
        description=facts.description.strip(),
        affected=facts.affected.strip(),
        consequences=facts.consequences.strip(),
        measures=facts.measures.strip(),
        risk=facts.risk,
        no_report_reason=facts.no_report_reason.strip() or None,
        recorded_by_id=actor.user_id,
    )
    session.add(breach)
    session.flush()
    audit.record(session, actor, "breach.record", obj=breach, details={"risk": facts.risk})
    return breach


def mark_reported(session: Session, breach: Breach, reference: str, actor: Actor) -> None:
    """Record that IMY was notified (with IMY's case reference, if given)."""
    breach.reported_at = utcnow()
    breach.imy_reference = reference.strip()[:64] or None
    audit.record(session, actor, "breach.reported", obj=breach)


def mark_informed(session: Session, breach: Breach, actor: Actor) -> None:
    """Record that the people affected were told (Art. 34)."""
    breach.informed_at = utcnow()
    audit.record(session, actor, "breach.informed", obj=breach)


#: a report to IMY, or a notice to the people affected, is still owed (its negation is
#: "settled": what retention may delete once old enough)
OWED = or_(
    Breach.risk.in_(["risk", "high"]) & Breach.reported_at.is_(None),
    (Breach.risk == "high") & Breach.informed_at.is_(None),
)


def owed(session: Session) -> list[Breach]:
    """Breaches with a report or a notice still owed, the earliest discovered first."""
    return list(session.scalars(select(Breach).where(OWED).order_by(Breach.discovered_at)))


def register(session: Session) -> list[Breach]:
    """The whole register, newest first."""
    return list(session.scalars(select(Breach).order_by(Breach.discovered_at.desc())))
