"""One confirmation step for every irreversible action (issue 16, defect 4).

"Radera nu" once erased a person in one click; an objection, a restriction and archiving
acted at once too. Every such action is now a view decorated with :func:`irreversible`:

- a GET of its URL (the button on the page is a link to it) shows a page that says what will
  happen, what the law keeps, and - when something blocks it, such as an identity check
  not yet recorded - why it cannot be done yet, without the button;
- a POST reaches the view only when it carries ``confirmed=yes``, which only that page's
  form sends. Any other POST (an old form, a replayed click) gets the page again.

The view keeps its own checks (CSRF, the service's refusals): the page informs, the services
enforce. The decorator marks the view, so ``tests/test_confirm.py`` finds the whole class
in the URL map and walks every member. Kernel: imports no feature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from functools import wraps
from typing import Any
from typing import TypeVar

from flask import render_template
from flask import request
from flask.typing import ResponseReturnValue

F = TypeVar("F", bound=Callable[..., Any])

#: the form field only the confirmation page sends
FIELD = "confirmed"


@dataclass
class Confirmation:
    """What the confirmation page says about one action on one object."""

    title: str
    #: what happens when confirmed, one line each
    happens: list[str]
    #: what stays (the law keeps it, or the action does not touch it), one line each
    kept: list[str]
    #: the confirming button's text: names the action ("Erase now")
    button: str
    #: where "Cancel" goes: the page the action started from
    back: str
    #: why it cannot be done yet (the button is not shown); None when it can
    blocked: str | None = None
    #: where to go to remove the block (e.g. the request page's identity form)
    blocked_link: str | None = None
    #: a form whose fields the owner fills in on the page (e.g. which processing is objected to)
    form: Any = None
    #: what went wrong with what the owner filled in (shown above the form, kept filled in)
    error: str | None = None
    #: more to say, one paragraph each (e.g. the identity check the action rests on)
    notes: list[str] = field(default_factory=list)
    #: a harmful action's button is styled as such
    danger: bool = True


def page(confirmation: Confirmation, status: int = 200) -> ResponseReturnValue:
    """Render the confirmation page (also to show a form's errors after a confirmed POST)."""
    return render_template("confirm.html", c=confirmation, field_name=FIELD), status


def confirmed() -> bool:
    """Whether this request is the confirmation page's POST."""
    return request.method == "POST" and request.form.get(FIELD) == "yes"


def irreversible(describe: Callable[..., Confirmation]) -> Callable[[F], F]:
    """Put the confirmation page in front of a view (its route takes GET and POST).

    ``describe`` gets the view's URL arguments and returns what the page says; it may abort
    (404 for an unknown object) like the view would.
    """

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if confirmed():
                return view(*args, **kwargs)
            return page(describe(*args, **kwargs))

        wrapped.confirmation = describe  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorate


def is_irreversible(view: Any) -> bool:
    """Whether a view function is behind the confirmation step."""
    return getattr(view, "confirmation", None) is not None
