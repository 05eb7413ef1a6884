"""Personnummer and samordningsnummer parsing (Skatteverket's rules)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from crm.people.personnummer import InvalidPersonnummer
from crm.people.personnummer import Personnummer
from crm.people.personnummer import parse

TODAY = date(2026, 11, 22)


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("811228-9874", "198112289874"),
        ("8112289874", "198112289874"),
        ("19811228-9874", "198112289874"),
        ("198112289874", "198112289874"),
        (" 811228 - 9874 ", "198112289874"),
        ("811228+9874", "188112289874"),  # '+': 100 years or older
        ("701063-2391", "197010632391"),  # samordningsnummer: day + 60
    ],
)
def test_valid(text, digits):
    assert parse(text, TODAY).digits == digits


@pytest.mark.parametrize(
    "text",
    [
        "811228-9875",  # check digit
        "811328-9877",  # month 13
        "810230-9879",  # 30 February
        "811228-0001",  # birth number 000 cannot exist
        "19811228+9874",  # '+' only with ten digits
        "301228-9873",  # born in the future (2030)
        "81122-9874",
        "abcdef-ghij",
        "",
        "811228-98745",
    ],
)
def test_invalid(text):
    with pytest.raises(InvalidPersonnummer):
        parse(text, TODAY)


def test_display_switches_to_plus_in_the_year_of_the_100th_birthday():
    number = Personnummer("192612319992")
    assert number.display(date(2025, 6, 1)) == "261231-9992"
    assert number.display(date(2026, 1, 1)) == "261231+9992"
    assert number.masked() == "261231-****"


def test_century_inference_for_ten_digits():
    assert parse("261231-9992", TODAY).digits.startswith("1926")  # 2026-12-31 is future
    assert parse("200101-2380", TODAY).digits.startswith("2020")


@given(st.dates(min_value=date(1900, 1, 1), max_value=TODAY), st.integers(1, 999), st.booleans())
def test_every_valid_number_roundtrips(born, serial, coordination):
    day = born.day + 60 if coordination else born.day
    body = f"{born:%y%m}{day:02d}{serial:03d}"
    check = luhn.calc_check_digit(body)
    number = parse(f"{born.year}{body[2:]}{check}", TODAY)
    assert number.birth_date == born
    assert number.is_samordningsnummer == coordination
    assert parse(number.display(TODAY), TODAY) == number


@given(st.text(max_size=20))
def test_garbage_never_crashes(text):
    try:
        parse(text, TODAY)
    except InvalidPersonnummer:
        pass
