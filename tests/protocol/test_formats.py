"""Value formats exactly as the plug-in unit protocol writes and reads them (anchor §2.11)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from erpbridge.errors import ProtocolError
from erpbridge.protocol.formats import (
    format_bool,
    format_datetime,
    format_number,
    parse_bool,
    parse_datetime,
    parse_number,
)


def test_booleans_are_written_the_dotnet_way() -> None:
    assert (format_bool(True), format_bool(False)) == ("True", "False")


@pytest.mark.parametrize("text", ["true", "True", "TRUE", " true "])
def test_true_in_any_case_is_true(text: str) -> None:
    assert parse_bool(text) is True


@pytest.mark.parametrize("text", ["false", "False", "FALSE"])
def test_false_in_any_case_is_false(text: str) -> None:
    assert parse_bool(text) is False


@pytest.mark.parametrize("text", ["1", "0", "yes", "", None, "Truee"])
def test_anything_else_is_not_a_boolean(text: str | None) -> None:
    with pytest.raises(ProtocolError, match="not a boolean"):
        parse_bool(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("12.50"), "12.5"),
        (1, "1"),
        (Decimal("1234.567"), "1234.57"),
        (1234.567, "1234.57"),
        (Decimal("0.125"), "0.12"),  # Math.Round: half to even
        (Decimal("0.135"), "0.14"),
        (Decimal("-0.001"), "0"),
        (100, "100"),
        (Decimal("1E+3"), "1000"),
        (Decimal("-5.5"), "-5.5"),
        (1234567.891, "1234567.89"),
        (Decimal("1E+30"), "1000000000000000000000000000000"),
        (1e-7, "0"),
    ],
)
def test_numbers_are_invariant_rounded_to_two_decimals(value: Decimal | int | float, text: str) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize("value", [Decimal("NaN"), float("inf"), True])
def test_non_numbers_cannot_be_formatted(value: object) -> None:
    with pytest.raises(ProtocolError):
        format_number(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "value"),
    [("12.5", Decimal("12.5")), ("-3", Decimal("-3")), (" 7 ", Decimal("7")), ("1E3", Decimal("1000"))],
)
def test_invariant_numbers_parse_to_decimal(text: str, value: Decimal) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1,5", "1.234,56", "1 000", "NaN", "1E999999", None])
def test_junk_is_not_a_number(text: str | None) -> None:
    with pytest.raises(ProtocolError, match="not an invariant number"):
        parse_number(text)


def test_dates_are_sortable_without_zone() -> None:
    assert format_datetime(datetime(2024, 3, 5, 7, 8, 9, 999)) == "2024-03-05T07:08:09"
    assert format_datetime(date(2024, 3, 5)) == "2024-03-05T00:00:00"
    assert format_datetime(datetime(1, 1, 1)) == "0001-01-01T00:00:00"
    plus_two = timezone(timedelta(hours=2))
    assert format_datetime(datetime(2024, 3, 5, 2, 0, tzinfo=plus_two)) == "2024-03-05T00:00:00"


def test_dates_parse_back() -> None:
    assert parse_datetime("2024-03-05T07:08:09") == datetime(2024, 3, 5, 7, 8, 9)
    assert parse_datetime("2024-03-05") == datetime(2024, 3, 5)
    assert parse_datetime("2024-03-05T07:08:09Z") == datetime(2024, 3, 5, 7, 8, 9, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "05-03-2024", "2024-13-01T00:00:00", "yesterday", None])
def test_junk_is_not_a_date(text: str | None) -> None:
    with pytest.raises(ProtocolError, match="not a date"):
        parse_datetime(text)
