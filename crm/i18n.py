"""Interface language: Swedish by default, English selectable per user (or per browser)."""

from __future__ import annotations

from datetime import date
from datetime import datetime

from flask import Flask
from flask import current_app
from flask import request
from flask_babel import Babel
from flask_babel import format_date
from flask_babel import get_locale
from flask_babel import to_user_timezone
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
    app.jinja_env.filters["date"] = format_day
    app.jinja_env.filters["datetime"] = format_moment
    app.jinja_env.filters["period"] = period
    app.jinja_env.filters["first_name"] = first_name


def _local(value: date | datetime) -> date | datetime:
    if isinstance(value, datetime):
        return to_user_timezone(value) if value.tzinfo else value
    return value


def format_day(value: date | datetime | None, style: str = "short") -> str:
    """A date as every page and mail writes it (the ``|date`` filter), in both languages.

    ``short`` is ISO 8601, 2026-12-02, as Swedes write dates (never the US 12/2/26 that
    Babel's English "short" gives); ``long`` is "2 december 2026" (English "2 December 2026"):
    day before month either way. A time is first moved to the practice's time zone.
    """
    if value is None:
        return ""
    local = _local(value)
    day = local.date() if isinstance(local, datetime) else local
    if style == "long":
        return format_date(day, "d MMMM y")
    return day.isoformat()


def format_moment(value: datetime | None) -> str:
    """A time as every page writes it (the ``|datetime`` filter): 2026-12-02 14:05, local."""
    if value is None:
        return ""
    local = _local(value)
    assert isinstance(local, datetime)
    return f"{local:%Y-%m-%d %H:%M}"


def N_(message: str) -> str:  # noqa: N802 - the conventional name for a gettext no-op marker
    """Mark a message for translation where it is defined; it is translated where shown.

    Services raise errors with English msgids (they run in the CLI too); views pass them
    through ``gettext`` so the user reads them in their language.
    """
    return message


#: whole years in words, as a Swede writes a retention period ("tio år", not "120 månader")
_YEARS = (
    N_("one year"),
    N_("two years"),
    N_("three years"),
    N_("four years"),
    N_("five years"),
    N_("six years"),
    N_("seven years"),
    N_("eight years"),
    N_("nine years"),
    N_("ten years"),
    N_("eleven years"),
    N_("twelve years"),
)


def period(months: int) -> str:
    """A period given in months as people say it: "tio år", "18 månader" (the ``|period`` filter).

    Settings store months (the law's periods are in years and months alike); whole years up to
    twelve are written out in words, anything else is counted in months.
    """
    from flask_babel import gettext
    from flask_babel import ngettext

    if months > 0 and months % 12 == 0 and months // 12 <= len(_YEARS):
        return gettext(_YEARS[months // 12 - 1])
    return ngettext("%(num)s month", "%(num)s months", months)


def first_name(name: str | None) -> str:
    """The first name, for a greeting: "Hej Karin!", not "Hej Karin Klient!"."""
    return (name or "").split(" ", 1)[0].strip()
