"""Text → typed values: the converter of a destination column, and what ``on_null: default`` writes."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from erpbridge.shopdb.model import ColumnInfo, ValueKind


class ConversionError(ValueError):
    """A text value that does not fit the destination column; the message is the reason."""


Converter = Callable[[str], Any]
# The texts a boolean column accepts (the plan's fast path reads them too).
BOOLEANS = {"true": True, "false": False, "True": True, "False": False, "TRUE": True, "FALSE": False}


def _to_text(limit: int | None) -> Converter:
    if limit is None:
        return str

    def convert(value: str) -> str:
        if len(value) > limit:
            raise ConversionError(f"longer than {limit} characters ({len(value)})")
        return value

    return convert


def _to_integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConversionError("not a whole number") from None


def _to_decimal(value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ConversionError("not a number (invariant format, '.' as decimal separator)") from None
    if not number.is_finite() or "_" in value:
        raise ConversionError("not a number (invariant format, '.' as decimal separator)")
    return number


def _to_float(value: str) -> float:
    number = _to_decimal(value)
    result = float(number)
    if math.isinf(result):
        raise ConversionError("number out of range")
    return result


def _to_boolean(value: str) -> bool:
    try:
        return BOOLEANS[value] if value in BOOLEANS else BOOLEANS[value.strip().lower()]
    except KeyError:
        raise ConversionError("not a boolean (True or False)") from None


def _to_datetime(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConversionError("not a date/time (yyyy-MM-ddTHH:mm:ss)") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _to_date(value: str) -> date:
    return _to_datetime(value).date()


def converter_for(column: ColumnInfo) -> Converter:
    match column.kind:
        case ValueKind.TEXT:
            return _to_text(column.length)
        case ValueKind.INTEGER:
            return _to_integer
        case ValueKind.DECIMAL:
            return _to_decimal
        case ValueKind.FLOAT:
            return _to_float
        case ValueKind.BOOLEAN:
            return _to_boolean
        case ValueKind.DATETIME:
            return _to_datetime
        case ValueKind.DATE:
            return _to_date
        case _:
            return str


def type_default(column: ColumnInfo) -> Any:
    """The value ``on_null: default`` writes."""
    return {
        ValueKind.TEXT: "",
        ValueKind.INTEGER: 0,
        ValueKind.DECIMAL: Decimal(0),
        ValueKind.FLOAT: 0.0,
        ValueKind.BOOLEAN: False,
        ValueKind.DATETIME: datetime(1900, 1, 1),
        ValueKind.DATE: date(1900, 1, 1),
    }.get(column.kind, "")
