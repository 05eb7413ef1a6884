"""Form rendering rules that hold for every form in the app.

Several forms often share one page (the user list has a button form per row). Each carries a
hidden CSRF field, and WTForms gives every one of them ``id="csrf_token"``: the same id many times
is invalid HTML (Nu checker: "Duplicate ID") and nothing refers to that id anyway. The CSRF field
is therefore rendered without an id, once, here, instead of in 40 templates.
"""

from __future__ import annotations

from typing import Any

from wtforms.csrf.core import CSRFTokenField
from wtforms.widgets import HiddenInput


class HiddenInputWithoutId(HiddenInput):
    """A hidden input that leaves out ``id`` (WTForms skips attributes whose value is False)."""

    def __call__(self, field: Any, **kwargs: Any) -> Any:
        """Render the input; an id given explicitly by a template still wins."""
        kwargs.setdefault("id", False)
        return super().__call__(field, **kwargs)


def install() -> None:
    """Render every CSRF token field (Flask-WTF's included) without an id."""
    CSRFTokenField.widget = HiddenInputWithoutId()
