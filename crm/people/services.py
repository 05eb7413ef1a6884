"""Operations that change people: create, rectify, archive, identity numbers and checks.

Every change is audited with the names of the fields that changed, never their values.
Finding people is in crm/people/search.py, showing what the person page hides in
crm/people/disclosure.py, the client card, visits and journal in crm/people/care.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm import controllers
from crm.audit import Actor
from crm.controllers import Controller
from crm.controllers import IdNumberMode
from crm.db import utcnow
from crm.errors import DomainError
from crm.i18n import N_
from crm.people import personnummer as pnr
from crm.people.models import IdentityCheck
from crm.people.models import IdentityMethod
from crm.people.models import Person
from crm.people.search import find_by_personnummer
from crm.security import emails
from crm.security import roles
from crm.security.crypto import keyring
from crm.security.roles import Perm


class PersonError(DomainError):
    """A change to a person was refused; the message is an English msgid for the user."""


@dataclass
class PersonData:
    """What the owner can type about a person."""

    name: str
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    #: as typed; None or "" leaves the stored number unchanged on update. What it may be
    #: follows the controller's setting: a full number, a birth date only, or nothing.
    personnummer: str | None = None
    remove_personnummer: bool = False
    #: the controller that met the person (None: the first, or unchanged on update)
    controller_id: int | None = None


def normalise_email(email: str | None) -> str | None:
    """Return the stored form of an address (trimmed, lower-case), None when empty."""
    email = (email or "").strip().lower()
    return email or None


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _check_email(session: Session, email: str | None, person_id: int | None) -> None:
    if email is None:
        return
    if not emails.is_valid(email):
        raise PersonError(N_("Enter a valid email address."))
    other = session.scalar(select(Person.id).where(Person.email == email))
    if other is not None and other != person_id:
        raise PersonError(N_("Another person already has this email address."))


def _set_personnummer(session: Session, person: Person, text: str) -> None:
    number = pnr.parse(text)  # raises InvalidPersonnummer with a user-facing message
    existing = find_by_personnummer(session, number.digits)
    if existing is not None and existing.id != person.id:
        raise PersonError(N_("Another person already has this personnummer."))
    person.personnummer = number.digits
    person.personnummer_index = keyring().blind_index(number.digits, "personnummer")
    person.birth_date = number.birth_date


def _set_identity(session: Session, person: Person, text: str, mode: IdNumberMode) -> None:
    """Store what the controller records of the identity number typed, and nothing more.

    dataskyddslagen 3 kap. 10 §: a controller that needs only the birth date never asks for
    (or stores) the last four digits; one that records nothing stores nothing.
    """
    if mode == IdNumberMode.NONE:
        raise PersonError(N_("This controller records no identity numbers."))
    if mode == IdNumberMode.BIRTH_DATE:
        born = pnr.parse_birth_date(text)  # raises InvalidPersonnummer; refuses a full number
        person.birth_date = born
        person.personnummer = person.personnummer_index = None
        return
    _set_personnummer(session, person, text)


class PersonFieldErrors(PersonError):
    """Several fields were refused at once; ``errors`` maps form field names to msgids."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(next(iter(errors.values()))[0])
        self.errors = errors


def person_errors(
    session: Session, person: Person | None, data: PersonData
) -> dict[str, list[str]]:
    """Every problem with ``data`` at once, by form field (English msgids); nothing is changed.

    Why all at once: an owner who fixes the email address should not then learn about the
    personnummer, and then about a duplicate (issue 16 defect 6). :func:`_apply` refuses with
    the same checks, so a form and a script get the same answers.
    """
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not _clean(data.name):
        add("name", N_("Enter a name."))
    person_id = person.id if person is not None else None
    email = normalise_email(data.email)
    if email is not None:
        if not emails.is_valid(email):
            add("email", N_("Enter a valid email address."))
        else:
            other = session.scalar(select(Person.id).where(Person.email == email))
            if other is not None and other != person_id:
                add("email", N_("Another person already has this email address."))
    controller_id = data.controller_id or (person.controller_id if person else None)
    if data.controller_id is not None and session.get(Controller, data.controller_id) is None:
        add("controller_id", N_("Choose the controller."))
        controller_id = None
    text = _clean(data.personnummer)
    if text and not data.remove_personnummer:
        mode = controllers.get(session, controller_id).mode
        try:
            if mode == IdNumberMode.NONE:
                add("personnummer", N_("This controller records no identity numbers."))
            elif mode == IdNumberMode.BIRTH_DATE:
                pnr.parse_birth_date(text)
            else:
                existing = find_by_personnummer(session, pnr.parse(text).digits)
                if existing is not None and existing.id != person_id:
                    add("personnummer", N_("Another person already has this personnummer."))
        except pnr.InvalidPersonnummer as err:
            add("personnummer", str(err))
    return errors


def _apply(session: Session, person: Person, data: PersonData) -> list[str]:
    """Copy ``data`` onto ``person`` and return the names of the fields that changed."""
    errors = person_errors(session, person if person.id is not None else None, data)
    if errors:
        raise PersonFieldErrors(errors)
    name = _clean(data.name)
    if not name:
        raise PersonError(N_("Enter a name."))
    email = normalise_email(data.email)
    _check_email(session, email, person.id)
    changed = []
    for field, value in (
        ("name", name),
        ("email", email),
        ("phone", _clean(data.phone)),
        ("address", _clean(data.address)),
    ):
        if getattr(person, field) != value:
            setattr(person, field, value)
            changed.append(field)
    if data.controller_id is not None and data.controller_id != person.controller_id:
        if session.get(Controller, data.controller_id) is None:
            raise PersonError(N_("Choose the controller."))
        person.controller_id = data.controller_id
        changed.append("controller")
    if data.remove_personnummer and (person.personnummer or person.birth_date) is not None:
        person.personnummer = person.personnummer_index = person.birth_date = None
        changed.append("personnummer")
    elif _clean(data.personnummer):
        old = (person.personnummer, person.birth_date)
        try:
            _set_identity(session, person, data.personnummer or "", _mode(session, person))
        except pnr.InvalidPersonnummer as err:
            raise PersonError(str(err)) from err
        if (person.personnummer, person.birth_date) != old:
            changed.append("personnummer")
    return changed


def _mode(session: Session, person: Person) -> IdNumberMode:
    """The identity-number setting of the person's controller."""
    return controllers.get(session, person.controller_id).mode


def refuse_if_restricted(person: Person) -> None:
    """Refuse a change to a restricted person (Art. 18): the data is kept, not used."""
    if person.restricted_at is not None:
        raise PersonError(
            N_(
                "Processing of this person is restricted (GDPR Art. 18); "
                "lift the restriction before editing."
            )
        )


def create_person(session: Session, data: PersonData, actor: Actor) -> Person:
    """Create a person; the audit row lists which fields were given."""
    roles.check(actor, Perm.PEOPLE_WRITE)
    person = Person(name="", controller_id=data.controller_id or controllers.first(session).id)
    fields = _apply(session, person, data)
    session.add(person)
    session.flush()
    audit.record(session, actor, "person.create", obj=person, details={"fields": fields})
    return person


#: Called in the caller's transaction after a person's details changed, with the names of the
#: fields that changed. Why: other features show a person's data elsewhere (a testimonial
#: shows the name) and must react to a rectification - people/ imports no feature, so they
#: register here (``on_person_changed``) instead of being called by name.
PersonChangedHook = Callable[[Session, Person, list[str], Actor], None]
_changed_hooks: list[PersonChangedHook] = []


def on_person_changed(hook: PersonChangedHook) -> PersonChangedHook:
    """Register ``hook`` to run after every change of a person's details (idempotent)."""
    if hook not in _changed_hooks:
        _changed_hooks.append(hook)
    return hook


def update_person(session: Session, person: Person, data: PersonData, actor: Actor) -> list[str]:
    """Rectify a person's details; returns the changed field names.

    The registered hooks run in the same transaction, so a rename takes the person's
    published testimonials out of every feed in the commit that renames them.
    """
    roles.check(actor, Perm.PEOPLE_WRITE)
    refuse_if_restricted(person)
    changed = _apply(session, person, data)
    if changed:
        person.updated_at = utcnow()
        audit.record(session, actor, "person.update", obj=person, details={"fields": changed})
        for hook in _changed_hooks:
            hook(session, person, changed, actor)
    return changed


def set_archived(session: Session, person: Person, archived: bool, actor: Actor) -> None:
    """Archive (hide from the default list) or bring back a person. Nothing is deleted."""
    roles.check(actor, Perm.PEOPLE_WRITE)
    person.archived_at = utcnow() if archived else None
    audit.record(session, actor, "person.archive" if archived else "person.unarchive", obj=person)


def beyond_mode(session: Session, controller: Controller) -> dict[str, int]:
    """How many of a controller's people hold more than its setting records.

    {"personnummer": n, "birth_date": m}: full numbers (above ``birth_date`` or ``none``) and
    birth dates kept alone (above ``none``).
    """
    base = select(func.count()).select_from(Person).where(Person.controller_id == controller.id)
    full = 0
    dates = 0
    if controller.mode != IdNumberMode.FULL:
        full = session.scalar(base.where(Person.personnummer.is_not(None))) or 0
    if controller.mode == IdNumberMode.NONE:
        dates = session.scalar(base.where(Person.birth_date.is_not(None))) or 0
    return {"personnummer": full, "birth_date": dates}


def reduce_id_numbers(session: Session, controller: Controller, actor: Actor) -> dict[str, int]:
    """Bring stored identity numbers down to the controller's setting; audited with counts.

    ``birth_date``: each full number becomes its birth date (the last four digits are gone);
    ``none``: numbers and birth dates are removed. Never any value in the audit row.
    """
    counts = beyond_mode(session, controller)
    if not any(counts.values()):
        return counts
    people = session.scalars(
        select(Person).where(
            Person.controller_id == controller.id,
            or_(Person.personnummer.is_not(None), Person.birth_date.is_not(None)),
        )
    )
    for person in people:
        if controller.mode == IdNumberMode.BIRTH_DATE and person.personnummer:
            person.birth_date = pnr.Personnummer(person.personnummer).birth_date
            person.personnummer = person.personnummer_index = None
        elif controller.mode == IdNumberMode.NONE:
            person.personnummer = person.personnummer_index = person.birth_date = None
    audit.record(
        session,
        actor,
        "person.id_numbers_reduced",
        obj=controller,
        details={"mode": controller.id_number_mode, **counts},
    )
    return counts


def record_identity_check(
    session: Session, person: Person, method: str, actor: Actor
) -> IdentityCheck:
    """Record that the person's identity was checked, how, by whom and when.

    Seeds 000/001 ask every client to show ID; the first visit is where it happens. An export
    or erasure of a client waits for a recorded check (crm/privacy/identity.py).
    """
    roles.check(actor, Perm.PEOPLE_WRITE)
    if method not in {m.value for m in IdentityMethod}:
        raise PersonError(N_("Choose how the identity was checked."))
    check = IdentityCheck(person_id=person.id, method=method, checked_by_id=actor.user_id)
    person.identity_checks.insert(0, check)
    session.flush()
    audit.record(session, actor, "person.identity_checked", obj=person, details={"method": method})
    return check


def latest_identity_check(session: Session, person_id: int) -> IdentityCheck | None:
    """The person's newest recorded identity check, if any."""
    return session.scalar(
        select(IdentityCheck)
        .where(IdentityCheck.person_id == person_id)
        .order_by(IdentityCheck.checked_at.desc(), IdentityCheck.id.desc())
        .limit(1)
    )
