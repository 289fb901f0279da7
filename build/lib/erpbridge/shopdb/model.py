"""What the mapping engine knows about the shop database: tables, columns, value kinds. Pure data."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ValueKind(StrEnum):
    """The kinds of value a destination column holds; the text format is converted to these."""

    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    FLOAT = "float"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    DATE = "date"
    OTHER = "other"


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    kind: ValueKind
    type_name: str  # as the database reports it, e.g. VARCHAR(30), NUMERIC(19, 4)
    nullable: bool
    primary_key: bool = False
    has_default: bool = False  # a server default or an identity: the column may be left out on insert
    length: int | None = None  # the text length limit, when there is one


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: dict[str, ColumnInfo]  # in table order, by exact name
    primary_key: tuple[str, ...] = ()
    _by_lower: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_lower.update({name.lower(): name for name in self.columns})

    def column(self, name: str) -> ColumnInfo | None:
        """A column by name, case-insensitively (the exact destination name is in the result)."""
        exact = self._by_lower.get(name.lower())
        return self.columns[exact] if exact is not None else None


@dataclass(frozen=True)
class ShopSchema:
    """The live schema, read from the database at run time."""

    tables: dict[str, TableSchema]

    def table(self, name: str) -> TableSchema | None:
        if name in self.tables:
            return self.tables[name]
        lowered = name.lower()
        return next((t for n, t in self.tables.items() if n.lower() == lowered), None)
