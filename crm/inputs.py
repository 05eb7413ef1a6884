"""Numbers a client sends (URL ids, query arguments, form and JSON fields), read one way.

A number no id column can hold, or text that only looks like digits, is refused here (404
for a URL, a clear 400 for a form) instead of surfacing as a 500 deep inside a query.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter
from werkzeug.routing import Map

#: The largest number an id column holds (PostgreSQL ``integer``; SQLite's is wider). A larger
#: one cannot name a row, and handed to the database it overflows (SQLite: OverflowError,
#: PostgreSQL: "integer out of range") and would surface as a 500 deep inside a query.
DB_INT_MAX = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: a number beyond :data:`DB_INT_MAX` does not match (404).

    Installed in place of Werkzeug's own ``int`` converter, so no route can forget it.
    """

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)


class InvalidNumber(BadRequest):
    """A form field that must be a whole number (an id, a count) is not one: a clear 400."""

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field


def parse_int(raw: object, *, maximum: int = DB_INT_MAX) -> int | None:
    """Return ``raw`` as an int when it is a plain number from 0 to ``maximum``, else None.

    The one parser for numbers a client sends (query arguments, form fields, JSON): ``int()``
    alone takes "²" after ``isdigit()`` said yes (ValueError), and numbers no column can hold.
    """
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str):
        text = raw.strip()
        # ten digits hold any id; a longer string is refused before int() has to read it
        if not (text.isascii() and text.isdecimal()) or len(text) > len(str(maximum)):
            return None
        value = int(text)
    else:
        return None
    return value if 0 <= value <= maximum else None


def int_arg(name: str, default: int | None = None) -> int | None:
    """Read a query argument (a filter, a page) as a number; anything else means ``default``.

    Lenient on purpose, like the other filters: a mangled filter in a bookmark shows the
    unfiltered page instead of an error.
    """
    value = parse_int(request.args.get(name, ""))
    return default if value is None else value


def form_int(values: Mapping[str, Any], name: str) -> int | None:
    """Read an optional number from a form or JSON body: None when absent or empty.

    :raises InvalidNumber: it is there but not a number an id column can hold (400).
    """
    raw = values.get(name)
    if raw is None or raw == "":
        return None
    value = parse_int(raw)
    if value is None:
        raise InvalidNumber(name)
    return value


def form_ints(values: MultiDict[str, Any] | Mapping[str, Any], name: str) -> list[int]:
    """Read a list of numbers (ticked lists) from a form or JSON body.

    :raises InvalidNumber: one of them is not a number an id column can hold (400).
    """
    if isinstance(values, MultiDict):
        raws: Any = values.getlist(name)
    else:
        raws = values.get(name) or []
        if not isinstance(raws, list):
            raise InvalidNumber(name)
    parsed = [parse_int(raw) for raw in raws]
    if any(value is None for value in parsed):
        raise InvalidNumber(name)
    return [value for value in parsed if value is not None]
