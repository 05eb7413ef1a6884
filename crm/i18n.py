"""Interface language: Swedish by default, English selectable per user (or per browser)."""

from __future__ import annotations

from flask import Flask
from flask import current_app
from flask import request
from flask_babel import Babel
from flask_babel import get_locale
from flask_login import current_user

LANG_COOKIE = "crm_lang"

babel = Babel()


def select_locale() -> str:
    """Pick the user's saved language, else the browser's chosen one, else Swedish."""
    languages = current_app.config["LANGUAGES"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    chosen = request.cookies.get(LANG_COOKIE) if request else None
    if chosen is not None and chosen in languages:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app: Flask) -> None:
    """Bind Flask-Babel with the locale selector and the package's translations."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["get_locale"] = get_locale


def N_(message: str) -> str:  # noqa: N802 - the conventional name for a gettext no-op marker
    """Mark a message for translation where it is defined; it is translated where shown.

    Services raise errors with English msgids (they run in the CLI too); views pass them
    through ``gettext`` so the user reads them in their language.
    """
    return message
