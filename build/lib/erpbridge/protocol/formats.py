"""Value formats of the plug-in unit protocol (live-integration-anchor §2.11).

* Booleans are written the .NET way, ``True``/``False``; read with ``bool.TryParse`` semantics
  (any letter case, surrounding blanks allowed) — ``1``/``0``/``yes`` are *not* booleans.
* Numbers are invariant (``.`` decimal point, no thousands separator), rounded to 2 decimals the
  way .NET's ``Math.Round`` does (half to even), written without trailing zeros: ``12.5``, ``1``,
  ``1234.57``.
* Dates are .NET's sortable format ``yyyy-MM-ddTHH:mm:ss`` without a zone.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from typing import Final

from erpbridge.errors import ProtocolError

__all__ = [
    "INVARIANT_NUMBER",
    "format_bool",
    "format_datetime",
    "format_number",
    "parse_bool",
    "parse_datetime",
    "parse_number",
]

_CENT: Final = Decimal("0.01")
# An exponent of at most 3 digits: enough for any amount, and no Decimal with a huge exponent.
INVARIANT_NUMBER: Final = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?")


def format_bool(value: bool) -> str:
    """``True`` / ``False`` exactly as .NET writes them."""
    return "True" if value else "False"


def parse_bool(text: str | None) -> bool:
    """``true``/``True``/``TRUE`` → True, ``false``… → False; anything else (``1``, empty) is refused."""
    if text is not None:
        word = text.strip().lower()
        if word == "true":
            return True
        if word == "false":
            return False
    raise ProtocolError(f"not a boolean: {text!r} (expected True or False)")


def format_number(value: Decimal | int | float) -> str:
    """Invariant number rounded to 2 decimals (half to even), no trailing zeros: ``12.5``, ``1``."""
    if isinstance(value, bool):
        raise ProtocolError("a boolean is not a number; use format_bool")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise ProtocolError(f"not a number: {value!r}") from None
    if not number.is_finite():
        raise ProtocolError(f"not a finite number: {value!r}")
    with localcontext() as context:  # enough precision that quantize never overflows
        context.prec = max(28, number.adjusted() + 4)
        rounded = number.quantize(_CENT, rounding=ROUND_HALF_EVEN)
    if rounded == 0:
        return "0"  # also turns -0.00 into 0
    text = format(rounded, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def parse_number(text: str | None) -> Decimal:
    """An invariant number (``12.5``, ``-3``, ``1E3``) as Decimal; anything else → ProtocolError."""
    if text is not None:
        candidate = text.strip()
        if INVARIANT_NUMBER.fullmatch(candidate):
            return Decimal(candidate)
    raise ProtocolError(f"not an invariant number: {text!r}")


def format_datetime(value: datetime | date) -> str:
    """``yyyy-MM-ddTHH:mm:ss``; an aware datetime is converted to UTC first, a date is midnight."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    elif value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )


def parse_datetime(text: str | None) -> datetime:
    """``yyyy-MM-ddTHH:mm:ss`` (also a plain date, fractions and a zone, as ISO 8601 allows)."""
    if text is not None:
        candidate = text.strip()
        if candidate.endswith(("Z", "z")):
            candidate = candidate[:-1] + "+00:00"
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ][\d:.]+([+-]\d{2}:\d{2})?)?", candidate):
            try:
                return datetime.fromisoformat(candidate)
            except ValueError:
                pass
    raise ProtocolError(f"not a date/time in yyyy-MM-ddTHH:mm:ss: {text!r}")
