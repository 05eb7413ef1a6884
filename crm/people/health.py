"""Health data with a provable basis (GDPR Art. 9; issue 14 part 6).

Which Art. 9(2) condition holds health data about a client depends on the controller:

- profile A (a licensed profession under patientdatalagen): health care, Art. 9(2)(h). The
  journal exists only here (patientdatalagen 3 kap.);
- profile B (coaching, massage, other GDPR-only practices): the client's explicit consent,
  Art. 9(2)(a), recorded like a newsletter consent - the exact text and its version, when,
  how, by whom - and withdrawable at any time (Art. 7(3)).

:func:`require_basis` is the one check every health write passes: client-card notes, visit
notes and journal entries (crm/people/services.py). After a withdrawal no new notes are
written; the notes already written are offered for erasure (:func:`erase_notes`, behind the
confirmation step), since the consent they rested on is gone (Art. 17(1)(b)).
"""

from __future__ import annotations

import hashlib

from flask import current_app
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from crm import audit
from crm import controllers
from crm.audit import Actor
from crm.db import rowcount
from crm.db import utcnow
from crm.i18n import N_
from crm.people.models import HealthConsent
from crm.people.models import HealthConsentMethod
from crm.people.models import Person
from crm.people.models import Visit
from crm.security import roles
from crm.security.roles import Perm

#: The consent text, versioned: a new wording is a new version, and each record keeps the
#: words the client agreed to. Swedish, as the client reads it; ``{controller}`` is the name of
#: the controller that met the client.
TEXTS = {
    1: (
        "Jag samtycker till att {controller} antecknar uppgifter om min hälsa som behövs för "
        "mina besök, i mitt klientkort och i besöksanteckningar. Uppgifterna skyddas med "
        "kryptering och bara den som arbetar med mig kan läsa dem. Jag kan när som helst ta "
        "tillbaka mitt samtycke. Då skrivs inga nya anteckningar, och jag kan be att de "
        "som finns raderas."
    ),
}
CURRENT = max(TEXTS)
METHODS = tuple(m.value for m in HealthConsentMethod)


class HealthBasisError(ValueError):
    """A health write without a basis; the message is an English msgid for the user."""


def profile_a(session: Session, person: Person) -> bool:
    """Whether the person's controller is a licensed practice (profile A)."""
    return controllers.get(session, person.controller_id).profile == "A"


def consent_text(session: Session, person: Person, version: int = CURRENT) -> str:
    """The consent text the client reads, naming the controller that met them."""
    name = controllers.get(session, person.controller_id).display_name(
        current_app.config["PRACTICE_NAME"]
    )
    return TEXTS[version].format(controller=name)


def latest(session: Session, person_id: int) -> HealthConsent | None:
    """The newest consent record of the person: it decides whether consent is given."""
    return session.scalar(
        select(HealthConsent)
        .where(HealthConsent.person_id == person_id)
        .order_by(HealthConsent.occurred_at.desc(), HealthConsent.id.desc())
        .limit(1)
    )


def has_consent(session: Session, person_id: int) -> bool:
    """Whether the person's explicit consent to health notes stands."""
    row = latest(session, person_id)
    return row is not None and row.action == "grant"


def _record(
    session: Session, person: Person, action: str, method: str, actor: Actor
) -> HealthConsent:
    roles.check(actor, Perm.HEALTH_WRITE)
    if method not in METHODS:
        raise HealthBasisError(N_("Choose how the consent was given."))
    text = consent_text(session, person)
    row = HealthConsent(
        person_id=person.id,
        controller_id=person.controller_id,
        action=action,
        method=method,
        text_version=CURRENT,
        text=text,
        text_sha256=hashlib.sha256(text.encode()).hexdigest(),
        occurred_at=utcnow(),
        recorded_by_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "person.health_consent",
        obj=person,
        details={"action": action, "method": method, "version": CURRENT},
    )
    return row


def grant(session: Session, person: Person, method: str, actor: Actor) -> HealthConsent:
    """Record the client's explicit consent to health notes (the current text)."""
    if person.restricted_at is not None:
        raise HealthBasisError(
            N_(
                "Processing of this person is restricted (GDPR Art. 18); "
                "lift the restriction before editing."
            )
        )
    if has_consent(session, person.id):
        raise HealthBasisError(N_("The consent is already recorded."))
    return _record(session, person, "grant", method, actor)


def withdraw(session: Session, person: Person, method: str, actor: Actor) -> HealthConsent:
    """Record the withdrawal: no new health notes from now on (Art. 7(3))."""
    if not has_consent(session, person.id):
        raise HealthBasisError(N_("There is no consent to withdraw."))
    return _record(session, person, "withdraw", method, actor)


def require_basis(session: Session, person: Person, what: str = "notes") -> None:
    """Refuse a health write without an Art. 9(2) basis.

    ``what``: "notes" (client card and visit notes) or "journal" (profile A only).
    """
    if profile_a(session, person):
        return
    if what == "journal":
        raise HealthBasisError(
            N_(
                "The journal is only for licensed care under patientdatalagen (profile A in "
                "the settings)."
            )
        )
    if not has_consent(session, person.id):
        raise HealthBasisError(
            N_(
                "Health notes need the client's explicit consent (GDPR Art. 9(2)(a)): record "
                "it on the client card first."
            )
        )


def notes_held(person: Person) -> bool:
    """Whether any health notes (client card or visit notes) are stored for the person."""
    card = person.client_card
    return bool(card and card.health_notes) or any(v.note for v in person.visits)


def erase_notes(session: Session, person: Person, actor: Actor) -> int:
    """Delete the health notes and visit notes (the visits' dates stay); returns how many.

    Offered after a withdrawal. The journal is not touched: it exists only under profile A,
    where the law keeps it ten years.
    """
    roles.check(actor, Perm.HEALTH_WRITE)
    count = 0
    card = person.client_card
    if card is not None and card.health_notes:
        card.health_notes, card.art9_basis, card.updated_at = None, None, utcnow()
        count += 1
    count += rowcount(
        session.execute(
            update(Visit)
            .where(Visit.person_id == person.id, Visit.note.is_not(None))
            .values(note=None)
            .execution_options(synchronize_session="fetch")
        )
    )
    audit.record(session, actor, "person.health_notes_erased", obj=person, details={"notes": count})
    return count
