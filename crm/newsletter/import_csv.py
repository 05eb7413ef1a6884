"""Reading a subscriber import file: tolerant of what Swedish spreadsheets write.

Columns (header row required, names case-insensitive, Swedish aliases accepted):

=================  ===========================================================================
``email``          required (alias ``e-post``, ``epost``, ``mail``)
``name``           optional (alias ``namn``)
``list``           optional list name; empty means the default list (alias ``lista``)
``consent_method`` how consent was obtained: ``papper``, ``muntligt``, ``kund``, ``webb`` or
                   ``import`` (English or the stored codes work too); empty means the method
                   chosen for the whole file (alias ``samtycke``, ``consent``)
``consent_date``   optional ISO date the consent was given, not in the future (alias ``datum``)
=================  ===========================================================================

Encodings: UTF-8, UTF-8 with BOM, Windows-1252. Separators: comma or semicolon (Swedish Excel).
What the rows then do to the database is crm/newsletter/importer.py.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from crm.errors import DomainError
from crm.i18n import N_
from crm.newsletter import common
from crm.newsletter import suppression
from crm.newsletter.models import Method

ALIASES = {
    "email": "email",
    "e-post": "email",
    "epost": "email",
    "e-mail": "email",
    "mail": "email",
    "e-postadress": "email",
    "name": "name",
    "namn": "name",
    "list": "list",
    "lista": "list",
    "consent_method": "consent_method",
    "consent": "consent_method",
    "samtycke": "consent_method",
    "consent_date": "consent_date",
    "date": "consent_date",
    "datum": "consent_date",
}
#: how consent was given, in the words the import help uses (Swedish and English); the
#: stored codes are accepted too, so files written for earlier versions still import
METHOD_WORDS = {
    "papper": Method.PAPER_FORM,
    "paper": Method.PAPER_FORM,
    "muntligt": Method.VERBAL,
    "verbal": Method.VERBAL,
    "kund": Method.SOFT_OPT_IN,
    "client": Method.SOFT_OPT_IN,
    "webb": Method.WEB_FORM,
    "web": Method.WEB_FORM,
    "import": Method.IMPORT,
}
#: the practices are Swedish: "today" for a consent date is the day in Sweden
LOCAL_TIME = ZoneInfo("Europe/Stockholm")
IMPORT_METHODS = {
    Method.PAPER_FORM,
    Method.VERBAL,
    Method.SOFT_OPT_IN,
    Method.WEB_FORM,
    Method.IMPORT,
}


class ImportFileError(DomainError):
    """The file as a whole cannot be read; the message is an English msgid.

    ``params`` fill its ``%(name)s`` placeholders (a line number) after translation.
    """

    def english(self) -> str:
        """The message with its placeholders filled, for the command line."""
        return str(self) % self.params if self.params else str(self)


@dataclass
class RowError:
    """A row that was not imported, with its line number in the file."""

    line: int
    message: str


@dataclass
class Row:
    """One data line that reads as a subscriber."""

    line: int
    email: str
    name: str
    list_name: str
    method: str
    consent_date: date | None


def decode(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM), falling back to Windows-1252 as Excel writes it."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _unreadable(reader: Any, err: csv.Error) -> ImportFileError:
    """Say on which line the csv module gave up, and why, in words a user can act on.

    The module stops at the first such line and cannot resynchronise (the rest of a quoted
    field would be read as rows), so the whole file is refused and nothing is imported.
    """
    line = max(1, reader.line_num)
    if "field larger than field limit" in str(err):
        # csv.field_size_limit(): 131072 characters unless someone raised it process-wide
        return ImportFileError(
            N_("Line %(line)s: a field is longer than %(limit)s characters. Nothing was imported."),
            line=line,
            limit=csv.field_size_limit(),
        )
    return ImportFileError(
        N_("Line %(line)s cannot be read as CSV. Nothing was imported."), line=line
    )


def _rows(reader: Any) -> Iterator[list[str]]:
    """Iterate over the reader, turning the csv module's errors into an ImportFileError."""
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise _unreadable(reader, err) from err
        yield cells


def _reader(text: str) -> tuple[Iterator[list[str]], Any, list[str]]:
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = _rows(reader)
    try:
        header = next(rows)
    except StopIteration as err:
        raise ImportFileError(N_("The file is empty.")) from err
    columns = [ALIASES.get(h.strip().lower(), "") for h in header]
    if "email" not in columns:
        raise ImportFileError(N_("The first row must name the columns and include 'email'."))
    return rows, reader, columns


def parse(text: str, default_method: str) -> Iterator[Row | RowError]:
    """Yield one parsed row or one error per data line (line numbers count the header as 1)."""
    rows, reader, columns = _reader(text)
    for cells in rows:
        line = reader.line_num
        if not "".join(cells).strip():
            continue  # a blank line
        values = {col: cells[i].strip() for i, col in enumerate(columns) if col and i < len(cells)}
        email = suppression.normalise(values.get("email", ""))
        if not common.valid_email(email):
            yield RowError(line, N_("not a valid email address"))
            continue
        given = values.get("consent_method", "").lower()
        method = METHOD_WORDS.get(given, given) or default_method
        if method not in IMPORT_METHODS:
            yield RowError(line, N_("unknown consent method"))
            continue
        consent_date = None
        if values.get("consent_date"):
            try:
                consent_date = date.fromisoformat(values["consent_date"])
            except ValueError:
                yield RowError(line, N_("consent date is not a date (YYYY-MM-DD)"))
                continue
            if consent_date > datetime.now(LOCAL_TIME).date():
                yield RowError(line, N_("consent date lies in the future"))
                continue
        yield Row(
            line, email, values.get("name", "")[:200], values.get("list", ""), method, consent_date
        )
