"""Swedish personnummer and samordningsnummer: parse, validate, store, display.

Rules (Skatteverket, see shared/docs/legal-requirements.md 2.19-2.21):

- YYMMDD-NNNC or YYYYMMDDNNNC (separator optional); C is the Luhn check digit over the ten
  digits YYMMDDNNNC (century excluded).
- Samordningsnummer: the day is increased by 60 (61-91).
- With ten digits the century is inferred: "-" means under 100 years old, "+" means 100 or
  older (born 100 years earlier than "-" would say).
- Stored as twelve digits (the ten-digit form does not carry the century); shown as ten digits
  with "-", or "+" from the calendar year the person turns 100.

python-stdnum's ``se.personnummer`` does not accept samordningsnummer, so the parsing is ours;
the check digit uses stdnum's Luhn implementation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from stdnum import luhn

from crm.i18n import N_

_PATTERN = re.compile(r"^(\d{2})?(\d{2})(\d{2})(\d{2})([-+]?)(\d{3})(\d)$")


class InvalidPersonnummer(ValueError):
    """The text is not a valid personnummer or samordningsnummer; the message says why."""


@dataclass(frozen=True)
class Personnummer:
    """A validated number, kept in its twelve-digit form."""

    digits: str  # YYYYMMDDNNNC

    @property
    def is_samordningsnummer(self) -> bool:
        """Whether the day field carries the +60 of a coordination number."""
        return int(self.digits[6:8]) > 60

    @property
    def birth_date(self) -> date:
        """The date of birth (for a samordningsnummer, with the 60 taken off the day)."""
        day = int(self.digits[6:8])
        return date(int(self.digits[:4]), int(self.digits[4:6]), day - 60 if day > 60 else day)

    def display(self, today: date | None = None) -> str:
        """Return the ten-digit form with "-" or, from the year they turn 100, "+"."""
        today = today or date.today()
        sep = "+" if today.year - int(self.digits[:4]) >= 100 else "-"
        return f"{self.digits[2:8]}{sep}{self.digits[8:]}"

    def masked(self) -> str:
        """Return the birth date part only, the last four digits hidden (for lists and pages)."""
        return f"{self.digits[2:8]}-****"


def parse(text: str, today: date | None = None) -> Personnummer:
    """Validate ``text`` and return it in twelve-digit form.

    :raises InvalidPersonnummer: with a message (an English msgid) saying what is wrong.
    """
    today = today or date.today()
    cleaned = re.sub(r"\s", "", text or "")
    match = _PATTERN.match(cleaned)
    if not match:
        raise InvalidPersonnummer(N_("Enter a personnummer as YYMMDD-NNNN or YYYYMMDDNNNN."))
    century, yy, mm, dd, sep, serial, check = match.groups()
    if century and sep == "+":
        raise InvalidPersonnummer(N_("Use '+' only with the ten-digit form."))
    if not luhn.is_valid(f"{yy}{mm}{dd}{serial}{check}"):
        raise InvalidPersonnummer(N_("The check digit is wrong; check the number for typos."))
    if serial == "000":
        raise InvalidPersonnummer(N_("The birth number 000 does not exist."))
    day = int(dd) - 60 if int(dd) > 60 else int(dd)
    year = int(century + yy) if century else _infer_year(int(yy), int(mm), day, sep, today)
    try:
        born = date(year, int(mm), day)
    except ValueError as err:
        raise InvalidPersonnummer(N_("The date of birth in the number does not exist.")) from err
    if born > today:
        raise InvalidPersonnummer(N_("The date of birth in the number lies in the future."))
    return Personnummer(f"{year:04d}{mm}{dd}{serial}{check}")


def _infer_year(yy: int, mm: int, day: int, sep: str, today: date) -> int:
    """Pick the century for a ten-digit number.

    "+" means the person turns 100 or more in the current calendar year (the rule used for
    display), so it picks the latest such year. "-" picks the latest year whose date is not in
    the future.
    """
    year = today.year - (today.year - yy) % 100
    if sep == "+":
        return year if today.year - year >= 100 else year - 100
    try:
        if date(year, mm, day) > today:
            year -= 100
    except ValueError:
        pass  # an impossible date is reported by the caller
    return year


def is_valid(text: str) -> bool:
    """Tell whether ``text`` parses."""
    try:
        parse(text)
    except InvalidPersonnummer:
        return False
    return True


_BIRTH_DATE = re.compile(r"^(\d{2})?(\d{2})-?(\d{2})-?(\d{2})$")


def parse_birth_date(text: str, today: date | None = None) -> date:
    """Validate a birth date typed as YYYYMMDD or YYMMDD (dashes allowed) and return it.

    For a controller that records only the birth date (dataskyddslagen 3 kap. 10 §; seed 003:
    "de sista fyra siffrorna registreras ej"): a full number is refused rather than cut, so
    the last four digits are never asked for and never pass into storage. A six-digit date
    is the latest such date not in the future.

    :raises InvalidPersonnummer: with a message (an English msgid) saying what is wrong.
    """
    today = today or date.today()
    cleaned = re.sub(r"\s", "", text or "")
    if len(re.sub(r"\D", "", cleaned)) in (10, 12):
        raise InvalidPersonnummer(
            N_("Only the birth date is recorded here: leave out the last four digits.")
        )
    match = _BIRTH_DATE.match(cleaned)
    if not match:
        raise InvalidPersonnummer(N_("Enter the birth date as YYYYMMDD or YYMMDD."))
    century, yy, mm, dd = match.groups()
    year = int(century + yy) if century else _infer_year(int(yy), int(mm), int(dd), "-", today)
    try:
        born = date(year, int(mm), int(dd))
    except ValueError as err:
        raise InvalidPersonnummer(N_("That birth date does not exist.")) from err
    if born > today:
        raise InvalidPersonnummer(N_("The birth date lies in the future."))
    return born


def birth_date_or_none(text: str) -> date | None:
    """The birth date ``text`` spells (YYYYMMDD or YYMMDD), or None (for search)."""
    try:
        return parse_birth_date(text)
    except InvalidPersonnummer:
        return None
