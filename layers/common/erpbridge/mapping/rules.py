"""Pure mapping rules: text → typed values, conditions, and the compiled plan of a table mapping.

Nothing here touches a database: a plan is compiled from a :class:`TableMapping`, the live
destination :class:`TableSchema` and the source columns seen in the file, and then turns each
source row into a tuple of destination values (or a skip, or row errors).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from erpbridge.mapping.model import (
    ColumnMapping,
    Condition,
    ConditionGroup,
    ImportDefinition,
    NullAction,
    Operator,
    TableMapping,
)
from erpbridge.mapping.relations import RELATIONS_BY_TABLE, DerivedRelation
from erpbridge.protocol.tables import Row
from erpbridge.shopdb.delimited import DelimitedText
from erpbridge.shopdb.model import ColumnInfo, TableSchema, ValueKind
from erpbridge.shopdb.ports import Comparison, Predicate, PredicateGroup, Scope

# Dynamicweb's shop and language columns (anchor §4, MappingExtensions).
SHOP_COLUMNS = {
    "EcomProducts": "ProductDefaultShopId",
    "EcomPrices": "PriceShopId",
    "EcomOrders": "OrderShopId",
    "EcomShopGroupRelation": "ShopGroupShopID",
    "AccessUser": "AccessUserShopId",
}
# Shop columns that name a shared row's *default* shop: written on insert only when the import
# has a shop scope, so a second shop importing the same product does not move it.
DEFAULT_SHOP_COLUMNS = {"EcomProducts": "ProductDefaultShopId"}
LANGUAGE_COLUMNS = {
    "EcomProducts": "ProductLanguageID",
    "EcomGroups": "GroupLanguageID",
    "EcomVariantGroups": "VariantGroupLanguageID",
    "EcomVariantsOptions": "VariantOptionLanguageID",
    "EcomCurrencies": "CurrencyLanguageId",
    "EcomStockLocation": "StockLocationLanguageId",
    "EcomOrders": "OrderLanguageId",
}
# Stamped by the importer, as Dynamicweb does for products (mapped values for them are ignored).
STAMP_COLUMNS = {
    "EcomProducts": ("ProductCreated", "ProductUpdated"),
    "AccessUser": ("AccessUserCreatedOn", "AccessUserUpdatedOn"),
}


class ConversionError(ValueError):
    """A text value that does not fit the destination column; the message is the reason."""


Converter = Callable[[str], Any]
_BOOLEANS = {"true": True, "false": False, "True": True, "False": False, "TRUE": True, "FALSE": False}


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
        return _BOOLEANS[value] if value in _BOOLEANS else _BOOLEANS[value.strip().lower()]
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


# -- conditions ------------------------------------------------------------------------------


def _ordered(value: str) -> tuple[int, Any]:
    """Compare numbers as numbers, dates as dates, anything else as text."""
    try:
        return (0, Decimal(value))
    except InvalidOperation:
        pass
    try:
        return (1, datetime.fromisoformat(value))
    except ValueError:
        return (2, value)


def compile_condition(condition: Condition) -> Callable[[Row], bool]:
    column = condition.column
    values = condition.values()
    first = values[0] if values else ""
    operator = condition.operator

    def text(row: Row) -> str | None:
        return row.get(column)

    match operator:
        case Operator.EQUAL_TO:
            return lambda row: text(row) == first
        case Operator.DIFFERENT_FROM:
            return lambda row: text(row) != first
        case Operator.LESS_THAN | Operator.GREATER_THAN:
            bound = _ordered(first)
            less = operator is Operator.LESS_THAN

            def compare(row: Row) -> bool:
                value = text(row)
                if value is None:
                    return False
                mine = _ordered(value)
                if mine[0] != bound[0]:
                    return False
                return bool(mine[1] < bound[1]) if less else bool(mine[1] > bound[1])

            return compare
        case Operator.CONTAINS:
            return lambda row: first in (text(row) or "")
        case Operator.NOT_CONTAINS:
            return lambda row: first not in (text(row) or "")
        case Operator.STARTS_WITH:
            return lambda row: (text(row) or "").startswith(first)
        case Operator.NOT_STARTS_WITH:
            return lambda row: not (text(row) or "").startswith(first)
        case Operator.ENDS_WITH:
            return lambda row: (text(row) or "").endswith(first)
        case Operator.NOT_ENDS_WITH:
            return lambda row: not (text(row) or "").endswith(first)
        case Operator.IN:
            allowed = frozenset(values)
            return lambda row: text(row) in allowed
        case Operator.NOT_IN:
            refused = frozenset(values)
            return lambda row: text(row) not in refused
        case Operator.IS_NULL:
            return lambda row: text(row) is None
        case Operator.IS_NOT_NULL:
            return lambda row: text(row) is not None
        case Operator.IS_NULL_OR_EMPTY:
            return lambda row: not text(row)
    raise AssertionError(operator)  # pragma: no cover - exhaustive


def _group(inner: list[Callable[[Row], bool]], *, any_of: bool) -> Callable[[Row], bool]:
    if any_of:
        return lambda row: any(check(row) for check in inner)
    return lambda row: all(check(row) for check in inner)


def compile_conditions(conditions: Sequence[Condition | ConditionGroup]) -> Callable[[Row], bool] | None:
    """One predicate for a mapping's conditions (list ANDed, groups OR/AND), or None for 'all rows'."""
    if not conditions:
        return None
    parts: list[Callable[[Row], bool]] = []
    for entry in conditions:
        if isinstance(entry, ConditionGroup):
            inner = [compile_condition(c) for c in entry.conditions]
            parts.append(_group(inner, any_of=entry.is_or))
        else:
            parts.append(compile_condition(entry))
    return lambda row: all(check(row) for check in parts)


# -- the plan of one table mapping -------------------------------------------------------------


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
                        for text, flag in _BOOLEANS.items()
                    }
                else:
                    namespace["BOOLEANS"] = _BOOLEANS
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


def _find_source(name: str, source_columns: Sequence[str] | None) -> str | None:
    if source_columns is None:
        return name
    lowered = name.lower()
    return next((c for c in source_columns if c.lower() == lowered), None)


def plan_mapping(
    mapping: TableMapping,
    table: TableSchema | None,
    source_columns: Sequence[str] | None,
    definition: ImportDefinition,
    *,
    default_shop: str | None = None,
    keep_partial_plan: bool = False,
    resolve_table: Callable[[str], TableSchema | None] | None = None,
) -> tuple[TablePlan | None, list[Problem]]:
    """Compile one table mapping. ``source_columns``: the columns of the file's first row of the
    source table (None when unknown: automatic mapping then maps nothing, explicit sources are
    trusted). Returns the plan (None when there are errors, unless ``keep_partial_plan``: then
    the columns that did fit, so a check can still convert sample rows) and every problem."""
    label = f"{mapping.source} → {mapping.destination}"
    problems: list[Problem] = []

    def problem(message: str, severity: str = "error") -> None:
        problems.append(Problem(label, message, severity))

    if table is None:
        problem(f"destination table {mapping.destination} does not exist in the shop database")
        return None, problems

    relations = RELATIONS_BY_TABLE.get(table.name, ())
    virtual_names = {name.lower() for relation in relations for name in relation.virtual_columns}
    columns: list[ColumnPlan] = []
    mapped: set[str] = set()
    explicit_sources = _explicit_columns(
        mapping, table, source_columns, virtual_names, columns, mapped, problem, resolve_table
    )
    unmapped, relation_sources = _automatic_columns(
        mapping, table, source_columns, virtual_names, explicit_sources, columns, mapped
    )
    _fill_shop_and_language(table, definition, columns, mapped)

    created, updated = STAMP_COLUMNS.get(table.name, (None, None))
    stamps = tuple(name if name and table.column(name) else None for name in (created, updated))
    columns = [c for c in columns if c.destination.name not in stamps]
    mapped -= {name for name in stamps if name}

    # Without the file's columns, automatic mapping may still map any destination column.
    unknown = source_columns is None and mapping.auto_map
    keys = _keys(mapping, table, mapped, unknown, problem)
    _check_keys(mapping, table, columns, mapped, keys, unknown, problem)
    relation_plans = _relation_plans(relations, relation_sources, columns, problem)
    consumed = {p.list_source.lower() for p in relation_plans} | {
        s.lower() for p in relation_plans for s in (p.sorting_source, p.primary_source) if s
    }
    unmapped.extend(source for lowered, source in relation_sources.items() if lowered not in consumed)

    plan = TablePlan(
        label=label,
        mapping=mapping,
        table=table,
        columns=columns,
        keys=keys,
        condition=compile_conditions(mapping.conditions),
        unmapped_sources=unmapped,
        relations=relation_plans,
        stamps=(stamps[0], stamps[1]),
    )
    if mapping.remove_missing or mapping.deactivate_missing:
        try:
            condition_scope(plan)
        except ValueError as error:
            problem(str(error))
    if not columns and not unknown:
        problem("no column is mapped")
    errors = [p for p in problems if p.severity == "error"]
    return (None if errors and not keep_partial_plan else plan), problems


def _explicit_columns(
    mapping: TableMapping,
    table: TableSchema,
    source_columns: Sequence[str] | None,
    virtual_names: set[str],
    columns: list[ColumnPlan],
    mapped: set[str],
    problem: Callable[..., None],
    resolve_table: Callable[[str], TableSchema | None] | None,
) -> set[str]:
    """Plan the mapping's active columns into ``columns``/``mapped``; returns the sources they read
    (lower case)."""
    explicit_sources: set[str] = set()
    for column_mapping in mapping.columns:
        if not column_mapping.active:
            continue
        info = table.column(column_mapping.destination)
        if info is None:
            if column_mapping.destination.lower() in virtual_names:
                problem(f"{column_mapping.destination} is a virtual column: map it by its source name")
            else:
                problem(f"destination column {column_mapping.destination} does not exist in {table.name}")
            continue
        column_plan = _column_plan(column_mapping, info, source_columns, problem, resolve_table)
        if column_plan is not None:
            columns.append(column_plan)
            mapped.add(info.name)
            explicit_sources.update(s.lower() for s in column_plan.sources)
    return explicit_sources


def _automatic_columns(
    mapping: TableMapping,
    table: TableSchema,
    source_columns: Sequence[str] | None,
    virtual_names: set[str],
    explicit_sources: set[str],
    columns: list[ColumnPlan],
    mapped: set[str],
) -> tuple[list[str], dict[str, str]]:
    """Map the file's other columns by name (``auto_map``) into ``columns``/``mapped``. Returns the
    sources nothing maps, and the virtual (relation) sources by lower-case name."""
    unmapped: list[str] = []
    relation_sources: dict[str, str] = {}
    ignored = {name.lower() for name in mapping.ignore}
    if mapping.auto_map and source_columns is not None:
        for source in source_columns:
            lowered = source.lower()
            if lowered in ignored:
                continue
            if lowered in virtual_names:
                relation_sources[lowered] = source
                continue
            info = table.column(source)
            if info is None:
                if lowered not in explicit_sources:
                    unmapped.append(source)
                continue
            if info.name in mapped:
                continue
            columns.append(
                ColumnPlan(destination=info, origin="name", sources=(source,), converter=converter_for(info))
            )
            mapped.add(info.name)
    elif source_columns is not None:
        unmapped = [
            s for s in source_columns if s.lower() not in explicit_sources and s.lower() not in ignored
        ]
    return unmapped, relation_sources


def _fill_shop_and_language(
    table: TableSchema, definition: ImportDefinition, columns: list[ColumnPlan], mapped: set[str]
) -> None:
    """The job's shop and language fill (and, for removals, scope) the table's shop/language column."""
    for fill, column_name, origin in (
        (definition.shop, SHOP_COLUMNS.get(table.name), "shop"),
        (definition.language, LANGUAGE_COLUMNS.get(table.name), "language"),
    ):
        if fill is None or column_name is None or table.column(column_name) is None:
            continue
        existing = next((c for c in columns if c.destination.name == column_name), None)
        if existing is not None:
            existing.fallback = fill
        else:
            info = table.columns[column_name]
            existing = ColumnPlan(
                destination=info, origin=origin, constant=fill, converter=converter_for(info)
            )
            columns.append(existing)
            mapped.add(column_name)
        if origin == "shop" and DEFAULT_SHOP_COLUMNS.get(table.name) == column_name:
            # One catalogue, several shops: a product keeps the default shop it was created
            # with; another shop's import does not take it over.
            existing.insert_only = True


def _keys(
    mapping: TableMapping, table: TableSchema, mapped: set[str], unknown: bool, problem: Callable[..., None]
) -> tuple[str, ...]:
    """The columns rows are matched by: the mapping's ``keys``, else the mapped primary key."""
    if mapping.keys:
        resolved = []
        for key in mapping.keys:
            info = table.column(key)
            if info is None:
                problem(f"key column {key} does not exist in {table.name}")
            elif unknown:
                resolved.append(info.name)
            elif info.name not in mapped:
                problem(f"key column {info.name} is not mapped")
            else:
                resolved.append(info.name)
        return tuple(resolved)
    keys = tuple(name for name in table.primary_key if name in mapped or unknown)
    if not keys:
        problem(
            f"no key: none of the primary key columns of {table.name} "
            f"({', '.join(table.primary_key) or 'none'}) is mapped; map one or set 'keys'"
        )
    return keys


def _check_keys(
    mapping: TableMapping,
    table: TableSchema,
    columns: list[ColumnPlan],
    mapped: set[str],
    keys: tuple[str, ...],
    unknown: bool,
    problem: Callable[..., None],
) -> None:
    """What inserts and removals need of the keys and the primary key."""
    for name in table.primary_key:
        info = table.columns[name]
        if (
            name not in mapped
            and not unknown
            and not info.has_default
            and mapping.mode.value != "update-only"
        ):
            problem(f"primary key column {name} is not mapped and has no default: inserts would fail")
    for column in columns:
        if column.insert_only and column.destination.name in keys:
            problem(f"key column {column.destination.name} cannot be insert_only")
    if (mapping.remove_missing or mapping.deactivate_missing) and any(
        c.lookup is not None and c.destination.name in keys for c in columns
    ):
        problem("remove/deactivate missing is not supported when a key column uses a lookup")
    if mapping.deactivate_missing and table.column("ProductActive") is None:
        problem(f"deactivate_missing needs a ProductActive column; {table.name} has none")


def _relation_plans(
    relations: Sequence[DerivedRelation],
    relation_sources: dict[str, str],
    columns: list[ColumnPlan],
    problem: Callable[..., None],
) -> list[RelationPlan]:
    """A plan per relation whose list column the file has (its owner column must be mapped)."""
    relation_plans: list[RelationPlan] = []
    for relation in relations:
        list_source = relation_sources.get(relation.list_column.lower())
        if list_source is None:
            continue
        owner_index = next(
            (i for i, c in enumerate(columns) if c.destination.name == relation.owner_column), None
        )
        if owner_index is None:
            problem(f"{relation.list_column} needs {relation.owner_column} mapped")
            continue
        sorting = relation_sources.get(relation.sorting_column.lower()) if relation.sorting_column else None
        primary = relation_sources.get(relation.primary_column.lower()) if relation.primary_column else None
        relation_plans.append(
            RelationPlan(
                relation=relation,
                list_source=list_source,
                sorting_source=sorting,
                primary_source=primary,
                owner_index=owner_index,
                stage_columns=relation.stage_columns,
            )
        )
    return relation_plans


def _column_plan(
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


def condition_scope(plan: TablePlan) -> Scope:
    """The mapping's conditions translated onto destination columns, so that removals only
    touch rows the file could have contained. Raises ValueError when one cannot be translated."""
    by_source = {}
    for column in plan.columns:
        source = column.plain_source
        if source is not None:
            by_source[source.lower()] = column
    scope: list[Predicate | PredicateGroup] = []
    for entry in plan.mapping.conditions:
        if isinstance(entry, ConditionGroup):
            scope.append(
                PredicateGroup(tuple(_predicate(c, by_source) for c in entry.conditions), any_of=entry.is_or)
            )
        else:
            scope.append(_predicate(entry, by_source))
    return tuple(scope)


_COMPARISONS = {
    Operator.EQUAL_TO: Comparison.EQUAL,
    Operator.DIFFERENT_FROM: Comparison.NOT_EQUAL,
    Operator.LESS_THAN: Comparison.LESS,
    Operator.GREATER_THAN: Comparison.GREATER,
    Operator.IN: Comparison.IN,
    Operator.NOT_IN: Comparison.NOT_IN,
    Operator.IS_NULL: Comparison.IS_NULL,
    Operator.IS_NOT_NULL: Comparison.IS_NOT_NULL,
    Operator.IS_NULL_OR_EMPTY: Comparison.IS_NULL_OR_EMPTY,
}
_LIKES = {
    Operator.CONTAINS: (Comparison.LIKE, "%{}%"),
    Operator.NOT_CONTAINS: (Comparison.NOT_LIKE, "%{}%"),
    Operator.STARTS_WITH: (Comparison.LIKE, "{}%"),
    Operator.NOT_STARTS_WITH: (Comparison.NOT_LIKE, "{}%"),
    Operator.ENDS_WITH: (Comparison.LIKE, "%{}"),
    Operator.NOT_ENDS_WITH: (Comparison.NOT_LIKE, "%{}"),
}


def _predicate(condition: Condition, by_source: dict[str, ColumnPlan]) -> Predicate:
    column = by_source.get(condition.column.lower())
    if column is None:
        raise ValueError(
            f"removal cannot be scoped by the condition on {condition.column}: "
            "that source column is not copied unchanged to a destination column"
        )
    name = column.destination.name
    if condition.operator in _LIKES:
        if column.destination.kind is not ValueKind.TEXT:
            raise ValueError(f"condition {condition.operator} on {condition.column} needs a text column")
        comparison, pattern = _LIKES[condition.operator]
        escaped = condition.values()[0].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return Predicate(name, comparison, (pattern.format(escaped),))
    try:
        values = tuple(column.converter(v) for v in condition.values())
    except ConversionError as error:
        raise ValueError(f"condition value on {condition.column} does not fit {name}: {error}") from None
    return Predicate(name, _COMPARISONS[condition.operator], values)
