"""One way to page and sort an owner list: people, subscribers, requests, the audit trail.

Why one helper: each list grew its own "Previous / Next" and none could be sorted or said how
many rows there were. A :class:`Pager` reads ``page`` and ``sort`` from the request values
(GET arguments, or the form of a list whose search is a POST so that a searched name never
lands in a URL), applies the chosen order and the page's window to a statement, and gives the
template (templates/_pager.html) the counts and the page numbers to show. The order always
ends with a unique column, so a page never repeats or skips a row whose sort value ties.

Kernel: imports no feature; each list names its own sort options.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from typing import Any
from typing import TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T", bound=Any)
#: a column to order by: a mapped attribute or an expression
Column = ColumnElement[Any] | InstrumentedAttribute[Any]

#: the most page numbers shown around the current one (plus the first and the last)
WINDOW = 2


@dataclass(frozen=True)
class SortOption:
    """One way to order a list: a label (English msgid) and its columns, first to last.

    ``columns`` are ascending; a descending option (key ``-name``) reverses each of them.
    """

    label: str
    columns: tuple[Column, ...]
    descending: bool = False


@dataclass(frozen=True)
class Pager:
    """One page of a list: which page, how it is sorted, how many rows there are."""

    page: int
    per_page: int
    sort: str
    options: Mapping[str, SortOption]
    total: int = 0

    @property
    def pages(self) -> int:
        """How many pages there are (at least one, even for an empty list)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def offset(self) -> int:
        """Rows before this page."""
        return (self.page - 1) * self.per_page

    @property
    def first_row(self) -> int:
        """The number of the page's first row, counted from 1 (0 on an empty page)."""
        return min(self.total, self.offset + 1)

    @property
    def last_row(self) -> int:
        """The number of the page's last row."""
        return min(self.total, self.offset + self.per_page)

    def numbers(self) -> list[int | None]:
        """Page numbers to link: the first, the last and a few around this one; None is a gap."""
        wanted = {1, self.pages, *range(self.page - WINDOW, self.page + WINDOW + 1)}
        shown = sorted(n for n in wanted if 1 <= n <= self.pages)
        out: list[int | None] = []
        for n in shown:
            if out and n - (out[-1] or 0) > 1:
                out.append(None)
            out.append(n)
        return out

    def sort_choices(self) -> list[tuple[str, str]]:
        """(key, label) of every sort option, for the sort control."""
        return [(key, option.label) for key, option in self.options.items()]

    def with_total(self, total: int) -> Pager:
        """The pager once the rows are counted (a page past the end becomes the last page)."""
        counted = replace(self, total=total)
        return replace(counted, page=min(self.page, counted.pages))

    def order(self, stmt: Select[T], tiebreak: Column) -> Select[T]:
        """``stmt`` ordered by the chosen option, then by ``tiebreak`` (a unique column)."""
        option = self.options[self.sort]
        columns = [c.desc() if option.descending else c.asc() for c in option.columns]
        tie = tiebreak.desc() if option.descending else tiebreak.asc()
        return stmt.order_by(None).order_by(*columns, tie)

    def window(self, stmt: Select[T]) -> Select[T]:
        """``stmt`` limited to this page's rows."""
        return stmt.limit(self.per_page).offset(self.offset)


def from_values(
    values: Mapping[str, Any], options: Mapping[str, SortOption], per_page: int
) -> Pager:
    """Read ``page`` and ``sort`` from request values; anything unknown falls back quietly.

    The first option is the default order. A page number that is not a number is page 1.
    """
    raw_page = str(values.get("page", "1")).strip()
    page = int(raw_page) if raw_page.isascii() and raw_page.isdigit() and len(raw_page) < 7 else 1
    sort = str(values.get("sort", ""))
    if sort not in options:
        sort = next(iter(options))
    return Pager(page=max(1, page), per_page=per_page, sort=sort, options=options)


def options(*items: tuple[str, str, Sequence[Column], bool]) -> dict[str, SortOption]:
    """Build the sort options of a list from (key, label, columns, descending) tuples."""
    return {key: SortOption(label, tuple(columns), desc) for key, label, columns, desc in items}
