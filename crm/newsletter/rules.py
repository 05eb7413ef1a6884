"""The one rule set for putting someone on a list: sign-up, confirmation, manual add, import.

Why one function: the entry points used to carry their own copies of the rules, and the CSV
import missed some (a soft opt-in for a stranger became active; a restricted person got an
active subscription). Every entry point now gathers the facts (one at a time, or in bulk for
an import) and asks :func:`decide`, which knows nothing of where the facts came from.

The rules, in order:

* A public sign-up may only *add*: a pending subscription, or - where the person left the
  list - a new pending sign-up record beside the withdrawn subscription, which stays as it
  is until the person confirms. It never touches a name, a withdrawal or a suppression; the
  double opt-in click is what counts, and only that click may lift a suppression.
* Art. 18: nothing is started or activated for a restricted person, by anyone.
* Staff (manual add, import) may not add an address that is suppressed, that objected to
  marketing (Art. 21(3)) or that left the list: only the person can come back, through the
  sign-up form.
* Soft opt-in (marknadsföringslagen 19 §) is only for existing clients: an address got in
  a sale, i.e. a person with a client card, a visit or a journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from crm.i18n import N_
from crm.newsletter.models import Method
from crm.newsletter.models import Status

#: subscriptions whose person left (or was taken off) the list
ENDED = frozenset({Status.UNSUBSCRIBED, Status.BOUNCED, Status.COMPLAINED})

LEFT = N_(
    "This address has unsubscribed or objected. Only the person "
    "can subscribe again, through the sign-up form."
)
RESTRICTED = N_("This person has restricted processing or objected to marketing.")
SOFT_OPT_IN_CLIENTS_ONLY = N_(
    "Soft opt-in is only for existing clients: give the person a client card "
    "or a visit first, or record how they consented."
)
ALREADY = N_("This person is already on the list.")


@dataclass(frozen=True)
class Facts:
    """What the rules look at, as plain values (an import gathers them for many rows)."""

    #: the address is on the suppression list (any reason)
    suppressed: bool = False
    #: Art. 18 restriction of the person
    restricted: bool = False
    #: Art. 21 objection to direct marketing recorded for the person
    objected: bool = False
    #: an existing client: client card, visit or journal entry
    client: bool = False
    #: the person's subscription to this list, if any
    status: str | None = None
    #: a sign-up made after the person left awaits its confirmation click
    signup_awaiting: bool = False


class Outcome(StrEnum):
    """What an entry point is to do."""

    CREATE_ACTIVE = "create_active"  # staff-recorded consent: a new, active subscription
    CREATE_PENDING = "create_pending"  # public sign-up: a new subscription awaiting the click
    SIGNUP_AGAIN = "signup_again"  # public sign-up: record the grant, send the link, no change
    ACTIVATE = "activate"  # the subscription (pending or left) becomes active
    ALREADY = "already"  # nothing to do
    REFUSED = "refused"


@dataclass(frozen=True)
class Decision:
    """The outcome, and for a refusal an English msgid saying why."""

    outcome: Outcome
    reason: str | None = None

    @property
    def allowed(self) -> bool:
        """Tell whether anything may be written."""
        return self.outcome not in (Outcome.REFUSED, Outcome.ALREADY)


#: how staff may say consent was obtained (manual add and import)
STAFF_METHODS = frozenset(
    {Method.PAPER_FORM, Method.VERBAL, Method.SOFT_OPT_IN, Method.WEB_FORM, Method.IMPORT}
)


def decide(facts: Facts, method: str, *, public: bool = False) -> Decision:
    """Decide whether and how a subscription may be created or activated.

    :param method: how consent is given: ``web_form`` for a public sign-up (``public``),
        ``double_opt_in`` for the confirmation click, or a staff method (manual add, import).
    """
    if method == Method.DOUBLE_OPT_IN:
        if facts.restricted:
            return Decision(Outcome.REFUSED, RESTRICTED)
        if facts.status == Status.ACTIVE:
            return Decision(Outcome.ALREADY)
        if facts.status == Status.PENDING or (facts.status in ENDED and facts.signup_awaiting):
            return Decision(Outcome.ACTIVATE)
        return Decision(Outcome.REFUSED, LEFT)  # nothing awaits a click (an old link)
    if public:
        # suppressed or objected addresses may sign up: the confirmation click alone lifts it
        if facts.restricted:
            return Decision(Outcome.REFUSED, RESTRICTED)
        if facts.status == Status.ACTIVE:
            return Decision(Outcome.ALREADY)
        if facts.status is None:
            return Decision(Outcome.CREATE_PENDING)
        return Decision(Outcome.SIGNUP_AGAIN)  # pending (link sent again) or left (kept as is)
    if method not in STAFF_METHODS:
        return Decision(Outcome.REFUSED, N_("Say how consent was obtained."))
    if facts.suppressed:
        return Decision(Outcome.REFUSED, LEFT)
    if facts.restricted or facts.objected:
        return Decision(Outcome.REFUSED, RESTRICTED)
    if method == Method.SOFT_OPT_IN and not facts.client:
        return Decision(Outcome.REFUSED, SOFT_OPT_IN_CLIENTS_ONLY)
    if facts.status == Status.ACTIVE:
        return Decision(Outcome.ALREADY, ALREADY)
    if facts.status in ENDED:
        return Decision(Outcome.REFUSED, LEFT)
    if facts.status == Status.PENDING:
        return Decision(Outcome.ACTIVATE)
    return Decision(Outcome.CREATE_ACTIVE)
