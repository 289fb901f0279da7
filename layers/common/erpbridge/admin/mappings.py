"""The mapping page: table mappings, each with its column mappings told apart by kind, and the
problems of ``mappings check`` against the live schema (and the newest staged sample) in place."""

from __future__ import annotations

import io

from erpbridge.admin.service import ColumnView, MappingView, TableView
from erpbridge.mapping.check import check_mapping
from erpbridge.mapping.columns import ColumnPlan
from erpbridge.mapping.model import JobDefinition, TableMapping
from erpbridge.mapping.plan import TablePlan
from erpbridge.mapping.planner import plan_mapping
from erpbridge.protocol.streaming import StreamingTableReader
from erpbridge.shopdb.model import ShopSchema

KIND_LABEL = {
    "constant": "constant",
    "shop": "constant (job shop)",
    "language": "constant (job language)",
    "name": "auto-matched by name",
    "explicit": "explicit",
}


def _kind(column: ColumnPlan) -> str:
    if column.origin in ("constant", "shop", "language"):
        return "constant"
    if column.prepend or column.append or column.substring or column.lookup is not None:
        return "script"
    return "auto" if column.origin == "name" else "explicit"


def removal_rule(mapping: TableMapping) -> str:
    """What happens to rows the file no longer holds, in words."""
    if mapping.remove_missing:
        return f"remove missing (≥{mapping.min_share_for_removal:.0%})"
    if mapping.deactivate_missing:
        return f"deactivate missing (≥{mapping.min_share_for_removal:.0%})"
    return "none"


def column_rules(plan: TablePlan, column: ColumnPlan) -> list[str]:
    """A column mapping's rules in words (key, insert only, on null, transforms, lookup)."""
    rules = []
    if column.destination.name in plan.keys:
        rules.append("key")
    if column.insert_only:
        rules.append("insert only")
    if column.on_null.value != "none":
        rules.append(
            f"on null: {column.on_null.value}" + (f" {column.null_value!r}" if column.null_value else "")
        )
    if column.prepend:
        rules.append(f"prepend {column.prepend!r}")
    if column.append:
        rules.append(f"append {column.append!r}")
    if column.substring:
        rules.append(f"substring {column.substring}")
    if column.lookup is not None:
        table, match, value = column.lookup
        rules.append(f"lookup {table}.{match} → {value}")
    return rules


def _column(plan: TablePlan, column: ColumnPlan) -> ColumnView:
    kind = _kind(column)
    label = KIND_LABEL.get(column.origin, column.origin)
    if kind == "script":
        label = "script (" + label + ")"
    source = repr(column.constant) if column.constant is not None else " + ".join(column.sources)
    if column.origin in ("shop", "language") and column.constant is None:
        source = f"the run's {column.origin}"
    return ColumnView(
        destination=column.destination.name,
        type_name=column.destination.type_name,
        source=source,
        kind=kind,
        label=label,
        rules=column_rules(plan, column),
        origin=column.origin,
    )


def mapping_view(job: JobDefinition, schema: ShopSchema, sample: bytes | None) -> MappingView:
    if job.import_ is None:
        return MappingView(
            job=job.id, tables=[], problems=[("warning", job.id, "no import section")], sample=None
        )
    imports = job.import_for()
    first_rows: dict[str, list[str]] = {}
    if sample is not None:
        for table_name, row in StreamingTableReader(io.BytesIO(sample), what="sample").rows():
            first_rows.setdefault(table_name.lower(), list(row))
    checked = check_mapping(job, schema, io.BytesIO(sample) if sample is not None else None)
    tables = []
    placed: set[int] = set()
    for mapping in imports.mappings:
        columns = first_rows.get(mapping.source.lower()) if sample is not None else None
        plan, _ = plan_mapping(
            mapping,
            schema.table(mapping.destination),
            columns,
            imports,
            keep_partial_plan=True,
            resolve_table=schema.table,
        )
        label = f"{mapping.source} → {mapping.destination}"
        problems = []
        for number, problem in enumerate(checked):
            if problem.mapping in (label, mapping.source, mapping.destination) or (
                plan is not None and problem.mapping == plan.label
            ):
                problems.append((problem.severity, problem.message))
                placed.add(number)
        tables.append(
            TableView(
                source=mapping.source,
                destination=mapping.destination,
                mode=mapping.mode.value,
                keys=", ".join(mapping.keys) or "primary key",
                removal=removal_rule(mapping),
                active=mapping.active,
                columns=[_column(plan, c) for c in plan.columns] if plan is not None else [],
                problems=problems,
                auto_map_note=bool(mapping.auto_map and sample is None),
                key_columns=list(mapping.keys),
                conditions=len(mapping.conditions),
                auto_map=bool(mapping.auto_map),
                not_mapped=list(plan.unmapped_sources) if plan is not None else [],
            )
        )
    rest = [(p.severity, p.mapping, p.message) for n, p in enumerate(checked) if n not in placed]
    return MappingView(job=job.id, tables=tables, problems=rest, sample="newest run" if sample else None)
