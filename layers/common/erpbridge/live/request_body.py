"""Reading a live API request body: hostile until parsed.

The API's bodies are small JSON objects (at most 500 lines of a few short fields), so anything
outside that shape is refused with :class:`BadRequestError` (400) before the models see it:

* more than :data:`MAX_BODY_CHARS` characters;
* not JSON (syntax errors; ``NaN``/``Infinity``, which JSON does not have);
* nested deeper than the JSON parser's recursion limit (about 1,000 levels): the parser stops
  with ``RecursionError``, answered as 400. Shallower unexpected nesting is refused by the models'
  types (422), since no request field takes free-form JSON.

Integers too long for Python's ``int`` conversion (4,300 digits) are read as ``Decimal`` instead,
so a huge number in any field is a 422 "out of range" or "extra field" from the models, not a crash.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from erpbridge.live.errors import BadRequestError

MAX_BODY_CHARS = 2_000_000  # ~4x the largest valid order (500 lines, every field at its maximum)
_LONG_INT_DIGITS = 30


def _int(text: str) -> int | Decimal:
    return int(text) if len(text) <= _LONG_INT_DIGITS else Decimal(text)


def _no_constant(name: str) -> Any:
    raise BadRequestError(f"the body is not valid JSON: {name} is not a JSON number")


def parse_json_body(text: str) -> Any:
    """The JSON value of a request body, or :class:`BadRequestError` saying why not."""
    if len(text) > MAX_BODY_CHARS:
        raise BadRequestError(f"the body is larger than {MAX_BODY_CHARS} characters")
    try:
        return json.loads(text, parse_int=_int, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise BadRequestError(
            f"the body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise BadRequestError("the body is nested too deeply") from None


def decode_body(data: bytes) -> str:
    """A request body's bytes as text: UTF-8 or :class:`BadRequestError`."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequestError(f"the body is not UTF-8 (invalid byte at offset {error.start})") from None
