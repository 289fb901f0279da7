"""A mapping's conditions, two ways: a predicate on source rows, and (for removals) a scope on
destination columns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from erpbridge.mapping.columns import ColumnPlan
from erpbridge.mapping.converters import ConversionError
from erpbridge.mapping.model import Condition, ConditionGroup, Operator
from erpbridge.protocol.tables import Row
from erpbridge.shopdb.model import ValueKind
from erpbridge.shopdb.ports import Comparison, Predicate, PredicateGroup, Scope


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


def condition_scope(conditions: Sequence[Condition | ConditionGroup], columns: Sequence[ColumnPlan]) -> Scope:
    """A mapping's conditions translated onto its planned destination columns, so that removals
    only touch rows the file could have contained. Raises ValueError when one cannot be translated."""
    by_source = {}
    for column in columns:
        source = column.plain_source
        if source is not None:
            by_source[source.lower()] = column
    scope: list[Predicate | PredicateGroup] = []
    for entry in conditions:
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
