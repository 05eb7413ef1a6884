"""Feature switches: a feature the practice switched off takes nothing in, at any door.

Why: the practice settings take a switched-off feature's processing activity off the privacy
policy (crm/privacy/activities.py). A policy that says "no newsletter" while ``/subscribe``
still takes addresses would be a lie (issue 15 part 1), so the switch is enforced here, once,
in front of every route of the feature, and not by each view remembering to ask.

Every entry point belongs to its feature in one of two ways:

- a whole blueprint, with :func:`guard` (a route added to it later is covered by default);
- one view, with :func:`switched` (the journal is one route of the people pages).

A view marked :func:`always` works whatever the switch says: what lets a person leave or be
forgotten (RFC 8058 one-click unsubscribe, revoking a consent) and what shows or removes
what is already held. Everything else of a switched-off feature answers 404: a public page
"not offered", an owner page "switched off" with a link to the settings; nothing is stored.

Kernel: imports no feature. The switches live on the settings row that crm/privacy/practice.py
owns; they are read here by SQL, like crm/controllers.py reads the policy versions, and
crm/privacy/practice.py decides with :func:`decide` too, so the policy and the doors agree.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from typing import TypeVar

from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import g
from flask import jsonify
from flask import render_template
from flask import request
from flask_babel import gettext as _
from sqlalchemy import text
from sqlalchemy.orm import Session

from crm import controllers
from crm.db import get_session
from crm.i18n import N_

F = TypeVar("F", bound=Callable[..., Any])

#: The switchable features: key, label (an English msgid).
FEATURES = (
    ("newsletter", N_("Newsletter")),
    ("testimonials", N_("Testimonials")),
    ("journal", N_("Journal notes")),
)
KEYS = frozenset(key for key, _label in FEATURES)
#: What a switched-off feature's public page says is not offered (English msgids).
NOT_OFFERED = {
    "newsletter": N_("The newsletter is not offered."),
    "testimonials": N_("Testimonials are not published here."),
    "journal": N_("Journal notes are not kept here."),
}
#: What an owner page of a switched-off feature says (English msgids).
SWITCHED_OFF = {
    "newsletter": N_("The newsletter is switched off."),
    "testimonials": N_("Testimonials are switched off."),
    "journal": N_("Journal notes are switched off."),
}
_EXTENSION = "crm.features"


def decide(stored: str | None, feature: str, profile: Callable[[], str]) -> bool:
    """Whether a feature is on, given the stored switches (JSON) and the first controller.

    A feature never switched is on, except the journal: on under profile A (patientdatalagen's
    journal duty), off under profile B. ``profile`` is asked only for that default.
    """
    switches = json.loads(stored or "{}")
    if feature in switches:
        return bool(switches[feature])
    if feature == "journal":
        return profile() == "A"
    return True


def is_on(session: Session, feature: str) -> bool:
    """Whether the practice uses a feature now (read from the settings row by SQL)."""
    if feature not in KEYS:
        raise ValueError(f"unknown feature {feature!r}")
    stored = session.execute(text("SELECT features FROM practice_settings WHERE id = 1")).scalar()
    return decide(stored, feature, lambda: controllers.first(session).profile)


def switched(feature: str) -> Callable[[F], F]:
    """Mark one view as an entry point of ``feature``: closed while it is switched off."""
    if feature not in KEYS:
        raise ValueError(f"unknown feature {feature!r}")

    def mark(view: F) -> F:
        view.switched_by = feature  # type: ignore[attr-defined]
        return view

    return mark


def always(view: F) -> F:
    """Mark a view of a guarded feature that works even while it is switched off.

    Only for what reduces or shows processing that already happened: leaving (RFC 8058
    says the one-click link always works), revoking a consent, reading or exporting the data.
    """
    view.switched_by = None  # type: ignore[attr-defined]
    return view


def guard(bp: Blueprint, feature: str) -> None:
    """Put every route of ``bp`` behind ``feature``'s switch (views marked :func:`always` aside)."""
    if feature not in KEYS:
        raise ValueError(f"unknown feature {feature!r}")

    def register(state: Any) -> None:
        state.app.extensions.setdefault(_EXTENSION, {})[bp.name] = feature

    bp.record_once(register)


def _marks(app: Flask, endpoint: str) -> tuple[str | None, bool]:
    """The feature guarding an endpoint (its view's or its blueprint's), and whether closable."""
    view: Any = app.view_functions.get(endpoint)
    mark = getattr(view, "switched_by", "")
    if mark:
        return str(mark), True
    guarded = app.extensions.get(_EXTENSION, {}).get(endpoint.rpartition(".")[0])
    return guarded, mark is not None  # an always view carries None


def feature_of(app: Flask, endpoint: str) -> str | None:
    """The feature whose switch closes this endpoint (None: no switch, or always open)."""
    feature, closable = _marks(app, endpoint)
    return feature if closable else None


def guarded_by(app: Flask, endpoint: str) -> str | None:
    """The feature of the endpoint's blueprint or view, :func:`always` views included."""
    return _marks(app, endpoint)[0]


def _closed_answer(feature: str, is_public: bool) -> Any:
    if is_public:
        message = _(NOT_OFFERED[feature])
        if request.is_json or request.path.endswith(".json"):
            # the practice's website reads a JSON sign-up's answer from script (no cookies)
            response = jsonify(error=message)
            response.headers["Access-Control-Allow-Origin"] = "*"
            return response, 404
        return render_template("public/not_offered.html", message=message), 404
    return render_template("feature_off.html", heading=_(SWITCHED_OFF[feature])), 404


def _enforce() -> Any:
    """Close a switched-off feature's routes; mark its open pages so they can say so.

    Runs after the login and role checks (crm/web.py), so a switch tells nothing to someone
    who may not see the page anyway.
    """
    endpoint = request.endpoint
    if endpoint is None:
        return None
    feature, closable = _marks(current_app, endpoint)
    if feature is None or is_on(get_session(), feature):
        return None
    if not closable:  # an always-open page of a switched-off feature says so
        g.feature_off = feature
        return None
    view = current_app.view_functions[endpoint]
    return _closed_answer(feature, getattr(view, "is_public", False))


def _template_globals() -> dict[str, Any]:
    def feature_on(feature: str) -> bool:
        return is_on(get_session(), feature)

    def switched_off_notice() -> str | None:
        off = g.get("feature_off")
        return _(SWITCHED_OFF[off]) if off else None

    return {"feature_on": feature_on, "switched_off_notice": switched_off_notice}


def init_app(app: Flask) -> None:
    """Enforce the switches before every request (after crm/web.py's login and role checks)."""
    app.extensions.setdefault(_EXTENSION, {})
    app.before_request(_enforce)
    app.context_processor(_template_globals)
