"""The compiled plan of one table mapping: it turns each source row into a tuple of destination
values (or a skip, or row errors). Compiled by :func:`erpbridge.mapping.planner.plan_mapping`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from erpbridge.mapping.columns import ColumnPlan
from erpbridge.mapping.converters import BOOLEANS, ConversionError, type_default
from erpbridge.mapping.model import NullAction, TableMapping
from erpbridge.mapping.problems import RowError
from erpbridge.mapping.relations import DerivedRelation
from erpbridge.protocol.tables import Row
from erpbridge.shopdb.delimited import DelimitedText
from erpbridge.shopdb.model import TableSchema, ValueKind


class _Slow(Exception):
    """The fast path cannot handle this row."""


@dataclass
class RelationPlan:
    relation: DerivedRelation
    list_source: str
    sorting_source: str | None
    primary_source: str | None
    owner_index: int  # position of the owner id in the converted row
    stage_columns: tuple[str, ...]


@dataclass
class TablePlan:
    label: str
    mapping: TableMapping
    table: TableSchema
    columns: list[ColumnPlan]
    keys: tuple[str, ...]
    condition: Callable[[Row], bool] | None
    unmapped_sources: list[str] = field(default_factory=list)
    relations: list[RelationPlan] = field(default_factory=list)
    stamps: tuple[str | None, str | None] = (None, None)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.destination.name for c in self.columns)

    @property
    def lookups(self) -> dict[str, tuple[str, str, str]]:
        return {c.destination.name: c.lookup for c in self.columns if c.lookup is not None}

    @property
    def update_columns(self) -> tuple[str, ...]:
        return tuple(
            c.destination.name
            for c in self.columns
            if not c.insert_only and c.destination.name not in self.keys
        )

    def __post_init__(self) -> None:
        self._fast = self._compile_fast_path()

    def key_of(self, row: Row) -> tuple[Any, ...] | None:
        """The typed key (``keys`` order) of a source row, or None when a key value is empty,
        does not convert, or is resolved by a lookup — e.g. to keep a skipped row's product
        from counting as missing."""
        by_name = {c.destination.name: c for c in self.columns}
        values: list[Any] = []
        for name in self.keys:
            plan = by_name.get(name)
            if plan is None or plan.lookup is not None:
                return None
            text = plan.text(row)
            if text is None or (text == "" and plan.value_info.kind is not ValueKind.TEXT):
                return None
            try:
                values.append(plan.converter(text))
            except ConversionError:
                return None
        return tuple(values)

    def _compile_fast_path(self, text_format: DelimitedText | None = None) -> Callable[[Row, int], Any]:
        """One straight-line function for the common row: every value present and valid.

        It is generated (as ``dataclasses`` and ``namedtuple`` do) because the per-column loop
        was a large share of the import's CPU. Anything unusual — an empty or NULL value, a text
        too long, a conversion error — raises and the row takes ``_convert_slowly``, which
        applies the null rules and reports errors. Source names enter the code only as repr()
        literals.

        With ``text_format`` the function returns the row as one delimited text line (the same
        values, written from the validated text) instead of a tuple."""
        namespace: dict[str, Any] = {"_Slow": _Slow}
        lines = ["def fast(row, number):", "    get = row.get"]
        outputs = ["str(number)" if text_format else "number"]
        for index, plan in enumerate(self.columns):
            column = plan.value_info
            value = f"v{index}"
            if (
                plan.constant
                and plan.fallback is None
                and not (plan.prepend or plan.append or plan.substring)
            ):
                try:
                    constant = plan.converter(plan.constant)
                    namespace[f"k{index}"] = text_format.text(constant) if text_format else constant
                    outputs.append(f"k{index}")
                    continue
                except ConversionError:
                    pass  # reported by plan_mapping; the slow path reports it per row too
            source = plan.plain_source if plan.fallback is None else None
            if source is not None:
                lines.append(f"    {value} = get({source!r})")
            else:
                namespace[f"p{index}"] = plan
                lines.append(f"    {value} = p{index}.text(row)")
            is_text = column.kind is ValueKind.TEXT
            keeps_empty = is_text and plan.on_null is NullAction.NONE and plan.fallback is None
            lines.append(
                f"    if {value} is None: raise _Slow" if keeps_empty else f"    if not {value}: raise _Slow"
            )
            if is_text:
                if column.length is not None:
                    lines.append(f"    if len({value}) > {int(column.length)}: raise _Slow")
            elif column.kind is ValueKind.DECIMAL:
                # Decimal() inline; anything it refuses (or lets through: NaN, 1_000) goes slow.
                namespace["Decimal"] = Decimal
                lines.append(f"    t{index} = {value}")
                indent = "    "
                if text_format:
                    # Plain ASCII digits with at most one '.' are valid as they are (the
                    # database parses them to the same number); anything else is checked
                    # by Decimal and written as str(Decimal), as before.
                    plain = f"t{index}.isascii() and t{index}.replace('.', '', 1).isdigit()"
                    lines.append(f"    if not ({plain}):")
                    indent = "        "
                lines.append(f"{indent}{value} = Decimal(t{index})")
                lines.append(f"{indent}if not {value}.is_finite() or '_' in t{index}: raise _Slow")
                if text_format:
                    lines.append(f"{indent}t{index} = str({value})")
                    lines.append(f"    {value} = t{index}")
            elif column.kind is ValueKind.BOOLEAN:
                if text_format:
                    namespace["BOOLEANS"] = {
                        text: text_format.true if flag else text_format.false
                        for text, flag in BOOLEANS.items()
                    }
                else:
                    namespace["BOOLEANS"] = BOOLEANS
                lines.append(f"    {value} = BOOLEANS[{value}]")
            else:
                namespace[f"c{index}"] = plan.converter
                if text_format:
                    namespace["text_of"] = text_format.text
                    lines.append(f"    {value} = text_of(c{index}({value}))")
                else:
                    lines.append(f"    {value} = c{index}({value})")
            outputs.append(value)
        if text_format is None:
            lines.append(f"    return ({', '.join(outputs)},)")
        else:
            # Values are joined unescaped; a line with a character that needs escaping (one
            # delimiter too many, a line break, the escape character) is rebuilt value by value.
            namespace.update(DELIMITER=text_format.delimiter, escape=text_format.escape)
            lines.append(f"    parts = ({', '.join(outputs)},)")
            lines.append("    line = DELIMITER.join(parts)")
            unusual = [f"line.count(DELIMITER) != {len(outputs) - 1}"]
            unusual += [f"{character!r} in line" for character in text_format.needs_escaping()]
            lines.append(f"    if {' or '.join(unusual)}:")
            lines.append("        return DELIMITER.join([escape(part) for part in parts])")
            lines.append("    return line")
        exec("\n".join(lines), namespace)  # noqa: S102 - generated from trusted templates, names via repr()
        function: Callable[[Row, int], Any] = namespace["fast"]
        return function

    def line_converter(
        self, text_format: DelimitedText
    ) -> Callable[[Row, int, str], str | list[RowError] | None]:
        """Like :meth:`convert`, but the staged row comes back as one line of ``text_format``
        (``row_number`` first, then the destination values), for a stage that loads text."""
        fast = self._compile_fast_path(text_format)
        condition = self.condition
        slowly = self._convert_slowly
        to_line = text_format.line

        def convert(row: Row, row_number: int, source_table: str) -> str | list[RowError] | None:
            if condition is not None and not condition(row):
                return None
            try:
                line: str = fast(row, row_number)
                return line
            except (_Slow, ConversionError, KeyError, ArithmeticError):
                result = slowly(row, row_number, source_table)
                return to_line(result) if isinstance(result, tuple) else result

        return convert

    def convert(
        self, row: Row, row_number: int, source_table: str
    ) -> tuple[Any, ...] | list[RowError] | None:
        """The staged row ``(row_number, *destination values)``, None when the row is skipped
        (conditions, skip-row), or the row's errors."""
        if self.condition is not None and not self.condition(row):
            return None
        try:
            values: tuple[Any, ...] = self._fast(row, row_number)
            return values
        except (_Slow, ConversionError, KeyError, ArithmeticError):  # InvalidOperation: ArithmeticError
            return self._convert_slowly(row, row_number, source_table)

    def _convert_slowly(
        self, row: Row, row_number: int, source_table: str
    ) -> tuple[Any, ...] | list[RowError] | None:
        values: list[Any] = [row_number]
        errors: list[RowError] | None = None
        keys = self.keys
        for plan in self.columns:
            text = plan.text(row)
            column = plan.destination
            kind = plan.value_info.kind
            if text is None or (
                text == "" and (plan.on_null is not NullAction.NONE or kind is not ValueKind.TEXT)
            ):
                action = plan.on_null
                if action is NullAction.SKIP_ROW:
                    return None
                if action is NullAction.DEFAULT:
                    value: Any = type_default(plan.value_info)
                elif action is NullAction.CONSTANT:
                    value = plan.converter(plan.null_value or "")
                elif text == "" and kind is ValueKind.TEXT:
                    value = ""
                else:
                    value = None
                if value is None and (not column.nullable or column.name in keys):
                    reason = (
                        "key column is empty"
                        if column.name in keys
                        else "empty, but the column does not accept NULL (set on_null: default or constant)"
                    )
                    errors = errors or []
                    errors.append(RowError(source_table, row_number, column.name, text, reason))
                values.append(value)
                continue
            try:
                values.append(plan.converter(text))
            except ConversionError as error:
                errors = errors or []
                errors.append(RowError(source_table, row_number, column.name, text, str(error)))
                values.append(None)
        if errors:
            return errors
        return tuple(values)
