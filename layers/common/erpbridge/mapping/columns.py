"""The plan of one destination column: where its text comes from and how it converts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from erpbridge.mapping.converters import ConversionError, Converter, converter_for
from erpbridge.mapping.model import ColumnMapping, NullAction
from erpbridge.protocol.tables import Row
from erpbridge.shopdb.model import ColumnInfo, TableSchema


@dataclass
class ColumnPlan:
    destination: ColumnInfo
    origin: str  # "name" (matched by name), "explicit", "constant", "shop", "language"
    sources: tuple[str, ...] = ()
    constant: str | None = None
    prepend: str = ""
    append: str = ""
    substring: tuple[int, int | None] | None = None
    insert_only: bool = False
    on_null: NullAction = NullAction.NONE
    null_value: str | None = None
    fallback: str | None = None  # the job's shop/language when the value is empty
    converter: Converter = str
    # (table, match column, value column): the staged value is the match text, resolved to the
    # value at merge time; ``match_info`` types it.
    lookup: tuple[str, str, str] | None = None
    match_info: ColumnInfo | None = None

    @property
    def value_info(self) -> ColumnInfo:
        """The column whose type the staged value has (the lookup's match column, if any)."""
        return self.match_info if self.match_info is not None else self.destination

    @property
    def plain_source(self) -> str | None:
        """The source column when the value is copied unchanged (usable to scope removals)."""
        if (
            self.constant is None
            and len(self.sources) == 1
            and not (self.prepend or self.append or self.substring)
        ):
            return self.sources[0]
        return None

    def text(self, row: Row) -> str | None:
        if self.constant is not None:
            value: str | None = self.constant
        elif len(self.sources) == 1:
            value = row.get(self.sources[0])
        else:
            parts = [row.get(source) for source in self.sources]
            value = None if all(p is None for p in parts) else "".join(p or "" for p in parts)
        if value is not None and (self.substring or self.prepend or self.append):
            if self.substring is not None:
                start, length = self.substring
                value = value[start:] if length is None else value[start : start + length]
            value = f"{self.prepend}{value}{self.append}"
        if not value and self.fallback is not None:
            value = self.fallback
        return value


def _find_source(name: str, source_columns: Sequence[str] | None) -> str | None:
    if source_columns is None:
        return name
    lowered = name.lower()
    return next((c for c in source_columns if c.lower() == lowered), None)


def column_plan(
    column: ColumnMapping,
    info: ColumnInfo,
    source_columns: Sequence[str] | None,
    problem: Callable[..., None],
    resolve_table: Callable[[str], TableSchema | None] | None = None,
) -> ColumnPlan | None:
    converter = converter_for(info)
    lookup: tuple[str, str, str] | None = None
    match_info: ColumnInfo | None = None
    if column.lookup is not None:
        target = resolve_table(column.lookup.table) if resolve_table is not None else None
        if target is None:
            problem(f"lookup table {column.lookup.table} (for {info.name}) does not exist")
            return None
        match_info, value_info = target.column(column.lookup.match), target.column(column.lookup.value)
        if match_info is None or value_info is None:
            missing = column.lookup.match if match_info is None else column.lookup.value
            problem(f"lookup column {missing} (for {info.name}) does not exist in {target.name}")
            return None
        lookup = (target.name, match_info.name, value_info.name)
        converter = converter_for(match_info)
    sources: list[str] = []
    for source in column.sources:
        found = _find_source(source, source_columns)
        if found is None:
            problem(f"source column {source} (for {info.name}) is not in the file", "warning")
            found = source
        sources.append(found)
    plan = ColumnPlan(
        destination=info,
        origin="constant" if column.constant is not None else "explicit",
        sources=tuple(sources),
        constant=column.constant,
        prepend=column.prepend,
        append=column.append,
        substring=(column.substring.start, column.substring.length) if column.substring else None,
        insert_only=column.insert_only,
        on_null=column.on_null,
        null_value=column.null_value,
        converter=converter,
        lookup=lookup,
        match_info=match_info,
    )
    for what, text in (("constant", column.constant), ("null_value", column.null_value)):
        if text is None:
            continue
        try:
            converter(text)
        except ConversionError as error:
            problem(f"{what} {text!r} for {info.name} ({info.type_name}): {error}")
            return None
    return plan
