"""The one base of every refusal a feature raises, and the one way a page reports it.

A service refuses an operation by raising a subclass of :class:`DomainError` whose message is
an English msgid; the view catches that feature's error and calls :func:`flash_refusal`, which
undoes the half-done change and tells the user why in their language. One handler, so that no
view forgets the rollback (a flushed row would otherwise be committed by the next step).
A form refused by its service comes back on its page with the reason instead
(:func:`show_refusal`).
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask import flash
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from crm.web import show_again


class DomainError(ValueError):
    """An operation was refused; the message is an English msgid for the user.

    ``params`` fill the msgid's ``%(name)s`` placeholders after translation. A ValueError, as
    every feature's error was before, so callers that catch ValueError still do.
    """

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.params = params


def flash_refusal(session: Session, err: DomainError) -> None:
    """Roll back what the refused operation changed and flash its message, translated."""
    session.rollback()
    flash(_(str(err), **err.params), "error")


def show_refusal(
    session: Session, err: DomainError, endpoint: str, slot: str, form: Any, **values: Any
) -> Response:
    """Undo a refused operation and show its form again with the reason above it (422).

    The in-place counterpart of :func:`flash_refusal` for a form that failed in the
    service rather than in its validators: the rollback first (a flushed row would otherwise
    be committed by the page's own view), then :func:`crm.web.show_again` with what was typed.
    """
    session.rollback()
    form.form_errors.append(_(str(err), **err.params))
    return show_again(endpoint, slot, form, **values)
