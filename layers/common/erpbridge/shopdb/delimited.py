"""Delimited text lines for a database's bulk loader (e.g. PostgreSQL's ``COPY … FROM STDIN``).

A dialect adapter whose stage accepts lines (``text_format`` + ``write_lines``) lets the mapping
engine hand it one text line per row instead of a tuple of Python values: the row converter then
writes the line straight from the validated source text, and the database thread only joins and
sends big chunks — no per-value formatting on the thread that competes with the XML parser for
the GIL. Pure: no database import here; the adapter says which format it reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DelimitedText:
    """How values are written: the delimiter between them, the NULL marker, the two booleans,
    and the characters a text value must escape (the delimiter and line breaks among them)."""

    delimiter: str = "\t"
    null: str = "\\N"
    true: str = "t"
    false: str = "f"
    escapes: Mapping[str, str] = field(
        default_factory=lambda: {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
    )

    def escape(self, text: str) -> str:
        for character, replacement in self.escapes.items():  # the escape character comes first
            if character in text:
                text = text.replace(character, replacement)
        return text

    def text(self, value: Any) -> str:
        """One value, unescaped (``escape`` applies to text values)."""
        if value is None:
            return self.null
        if value is True or value is False:
            return self.true if value else self.false
        return str(value)  # text as it is; Decimal, int, float, date and datetime in ISO form

    def line(self, values: Sequence[Any]) -> str:
        """A whole row, escaped (without the line terminator)."""
        parts = []
        for value in values:
            text = self.text(value)
            parts.append(self.escape(text) if isinstance(value, str) else text)
        return self.delimiter.join(parts)

    def needs_escaping(self) -> tuple[str, ...]:
        """Characters other than the delimiter whose presence in a line means a value must be escaped."""
        return tuple(c for c in self.escapes if c != self.delimiter)
