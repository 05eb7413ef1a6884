"""Need-to-know roles: who may read and do what (issue 14 part 4, seed 002, ASVS 8).

One matrix, :data:`MATRIX`, says which permissions each role has. Views declare what they
need with :func:`requires`; the web kernel checks it before the view runs (crm/web.py), and a
view that declares nothing is for the owner alone (deny by default). Services that read or
write health data check the acting user again with :func:`check`, so a page that forgets,
a new view or a script calling the service cannot read what the role may not
(patientdatalagen 4 kap. 2 §: access only for those who need the data for their work).
Templates hide what a role cannot use with ``can(perm)``.

Why roles and not per-user permissions: a practice of one to three people (seed 002: the
therapist, an administrative assistant, the bookkeeper) must be able to tell at a glance what
each colleague can see; four fixed roles can be explained in one sentence each.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from enum import StrEnum
from typing import Any
from typing import Protocol
from typing import TypeVar

from flask_babel import lazy_gettext as _l

F = TypeVar("F", bound=Callable[..., Any])


class Role(StrEnum):
    """What an account is for; stored in ``user_account.role``."""

    #: everything, including users and settings
    OWNER = "owner"
    #: clients, health notes and the journal (of their controller, when limited to one)
    PRACTITIONER = "practitioner"
    #: contact details, newsletter, testimonials, requests; no health data, no audit log
    ASSISTANT = "assistant"
    #: purchase and invoice references only
    BOOKKEEPING = "bookkeeping"


class Perm(StrEnum):
    """One thing a role may read or do. Views and services name these, never roles."""

    #: the overview, one's own account (password, two-factor), logging out
    ACCOUNT = "account"
    #: the people list and a person's contact details
    PEOPLE_READ = "people_read"
    #: add, edit and archive people; link representatives
    PEOPLE_WRITE = "people_write"
    #: show a full personnummer (masked otherwise)
    IDENTITY_NUMBER = "identity_number"
    #: health notes, journal entries and visit notes, and exports that hold them
    HEALTH_READ = "health_read"
    #: the client card, visits and journal entries
    HEALTH_WRITE = "health_write"
    #: subscribers, lists, imports and exports of the newsletter
    NEWSLETTER = "newsletter"
    #: testimonials, their consents, media and publications
    TESTIMONIALS = "testimonials"
    #: data subjects' requests, restriction, objection, legal holds, recipients to tell
    REQUESTS = "requests"
    #: purchase and invoice references (bookkeeping)
    PURCHASES = "purchases"
    #: the audit trail, including refused accesses
    AUDIT_READ = "audit_read"
    #: the register of personal data breaches
    BREACHES = "breaches"
    #: the mail providers' state and retrying what failed
    SYNC = "sync"
    #: the practice's settings, controllers and the record of processing
    SETTINGS = "settings"
    #: accounts: invite, roles, controllers, deactivate, reset two-factor
    USERS_ADMIN = "users_admin"


_CONTACT = frozenset({Perm.ACCOUNT, Perm.PEOPLE_READ, Perm.PEOPLE_WRITE})

#: The one place that says who may do what. tests/test_roles.py walks every route with it.
MATRIX: dict[Role, frozenset[Perm]] = {
    Role.OWNER: frozenset(Perm),
    Role.PRACTITIONER: _CONTACT
    | {
        Perm.IDENTITY_NUMBER,
        Perm.HEALTH_READ,
        Perm.HEALTH_WRITE,
        Perm.NEWSLETTER,
        Perm.TESTIMONIALS,
        Perm.REQUESTS,
    },
    Role.ASSISTANT: _CONTACT | {Perm.NEWSLETTER, Perm.TESTIMONIALS, Perm.REQUESTS},
    Role.BOOKKEEPING: frozenset({Perm.ACCOUNT, Perm.PURCHASES}),
}

#: What a view that declares nothing needs: every permission, so only the owner gets in.
UNDECLARED = frozenset(Perm)

#: Swedish in the catalogue: Ägare, Behandlare, Assistent, Ekonomi.
ROLE_LABELS = {
    Role.OWNER: _l("Owner"),
    Role.PRACTITIONER: _l("Practitioner"),
    Role.ASSISTANT: _l("Assistant"),
    Role.BOOKKEEPING: _l("Bookkeeper"),
}

#: One sentence per role for the users page, so the owner knows what they hand out.
ROLE_DESCRIPTIONS = {
    Role.OWNER: _l("Everything, including users and settings."),
    Role.PRACTITIONER: _l(
        "Clients, health notes, the journal and visit notes, requests, newsletter and "
        "testimonials. No users, settings or audit trail."
    ),
    Role.ASSISTANT: _l(
        "Contact details, newsletter, testimonials and requests. No health notes, journal, "
        "visit notes or audit trail."
    ),
    Role.BOOKKEEPING: _l("Purchase and invoice references only."),
}


class HasRole(Protocol):
    """Anything with a role: the logged-in user, an :class:`crm.audit.Actor`."""

    @property
    def role(self) -> str | None:
        """The role's value, or None when it has none."""


class PermissionDenied(Exception):
    """The acting user's role lacks a permission; the web kernel answers 403 and audits it."""

    def __init__(self, perms: Iterable[Perm]) -> None:
        self.perms = frozenset(perms)
        super().__init__(", ".join(sorted(self.perms)))


def role_of(value: str | None) -> Role | None:
    """The role named by ``value``; None for an unknown or missing one (which may do nothing)."""
    try:
        return Role(value) if value is not None else None
    except ValueError:
        return None


def perms_of(role: str | None) -> frozenset[Perm]:
    """Every permission of a role (none for an unknown role: fail closed)."""
    known = role_of(role)
    return MATRIX[known] if known is not None else frozenset()


def can(user: object, perm: Perm) -> bool:
    """Whether ``user`` (a logged-in account, or anything with a ``role``) has ``perm``.

    An anonymous visitor has no role and so no permission.
    """
    if not getattr(user, "is_authenticated", True):
        return False
    return perm in perms_of(getattr(user, "role", None))


def roles_with(perms: Iterable[Perm]) -> list[Role]:
    """The roles that have every one of ``perms`` (for the tests and the docs)."""
    wanted = frozenset(perms)
    return [role for role in Role if wanted <= MATRIX[role]]


def requires(*perms: Perm) -> Callable[[F], F]:
    """Declare what a view needs: the web kernel refuses (403, audited) any role without it.

    Put it under ``@bp.route`` (the route registers what the decorators below it return).
    A view with no declaration is for the owner alone, and tests/test_roles.py fails on it.
    """
    if not perms:
        raise ValueError("requires() needs at least one permission; use Perm.ACCOUNT for all")

    def mark(view: F) -> F:
        view.required_perms = frozenset(perms)  # type: ignore[attr-defined]
        return view

    return mark


def required_perms(view: object) -> frozenset[Perm]:
    """What a view declared with :func:`requires`; :data:`UNDECLARED` when nothing."""
    declared = getattr(view, "required_perms", None)
    return declared if isinstance(declared, frozenset) else UNDECLARED


def check(actor: Any, perm: Perm) -> None:
    """Refuse a service call that the acting user's role does not allow.

    ``actor`` is an :class:`crm.audit.Actor`. The command line and the app itself (nightly
    jobs) act for the owner at the machine and may do everything; a logged-in user needs the
    permission; anyone else (the public) is refused.

    :raises PermissionDenied: the actor may not.
    """
    kind = getattr(actor, "kind", None)
    if kind in ("cli", "system"):
        return
    if kind == "user" and perm in perms_of(getattr(actor, "role", None)):
        return
    raise PermissionDenied([perm])
