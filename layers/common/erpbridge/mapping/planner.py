"""Compile a table mapping into a :class:`~erpbridge.mapping.plan.TablePlan`, listing every problem.

Nothing here touches a database: a plan is compiled from a :class:`TableMapping`, the destination
:class:`TableSchema` and the source columns seen in the file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from erpbridge.mapping.columns import ColumnPlan, column_plan
from erpbridge.mapping.conditions import compile_conditions, condition_scope
from erpbridge.mapping.converters import converter_for
from erpbridge.mapping.model import ImportDefinition, TableMapping
from erpbridge.mapping.plan import RelationPlan, TablePlan
from erpbridge.mapping.problems import Problem
from erpbridge.mapping.relations import RELATIONS_BY_TABLE, DerivedRelation
from erpbridge.mapping.shop_columns import DEFAULT_SHOP_COLUMNS, LANGUAGE_COLUMNS, SHOP_COLUMNS, STAMP_COLUMNS
from erpbridge.shopdb.model import TableSchema


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
            condition_scope(plan.mapping.conditions, plan.columns)
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
        planned = column_plan(column_mapping, info, source_columns, problem, resolve_table)
        if planned is not None:
            columns.append(planned)
            mapped.add(info.name)
            explicit_sources.update(s.lower() for s in planned.sources)
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
