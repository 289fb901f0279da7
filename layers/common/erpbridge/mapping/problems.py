"""Problems with a mapping (``check_mapping`` lists them all) and errors of one row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Problem:
    """Something wrong with a mapping; ``check_mapping`` lists them all at once."""

    mapping: str
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        return f"{self.severity}: {self.mapping}: {self.message}"


# How much of a value an error message shows.
MAX_VALUE_SHOWN: Final = 120


@dataclass(frozen=True)
class RowError:
    """A row that could not be imported: where, what value, and why."""

    table: str
    row: int | None
    column: str | None
    value: str | None
    reason: str

    def __post_init__(self) -> None:
        # A hostile file's value can be megabytes; the error (kept, logged, written to the run
        # record and the failed/ report) shows its start and its length.
        value = self.value
        if value is not None and len(value) > MAX_VALUE_SHOWN:
            shown = f"{value[:MAX_VALUE_SHOWN]}… ({len(value):,} characters)"
            object.__setattr__(self, "value", shown)

    def __str__(self) -> str:
        where = self.table + (f" row {self.row}" if self.row is not None else "")
        column = f" column {self.column}" if self.column else ""
        value = f" value {self.value!r}" if self.value is not None else ""
        return f"{where}{column}{value}: {self.reason}"
