"""``check_mapping``: every problem of a job's mapping against the shop's schema (and a sample file).

The schema is a description (tables, columns, keys): the caller reads it from the database
(:func:`erpbridge.shopdb.introspect.read_schema`), so nothing here needs a connection.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from erpbridge.errors import ErpBridgeError
from erpbridge.mapping.model import JobDefinition
from erpbridge.mapping.plan import TablePlan
from erpbridge.mapping.planner import plan_mapping
from erpbridge.mapping.problems import Problem
from erpbridge.protocol.streaming import StreamingTableReader
from erpbridge.protocol.tables import Row
from erpbridge.shopdb.model import ShopSchema

SAMPLE_ROWS_CHECKED = 1000  # per source table: enough to catch type mismatches, fast on big files


def _sample(source: Path | BinaryIO) -> tuple[dict[str, list[Row]], dict[str, int]]:
    """The first rows of each source table, and each table's row count."""
    rows: dict[str, list[Row]] = {}
    counts: dict[str, int] = {}

    def read(stream: BinaryIO) -> None:
        for table, row in StreamingTableReader(stream, what="sample").rows():
            counts[table] = counts.get(table, 0) + 1
            kept = rows.setdefault(table, [])
            if len(kept) < SAMPLE_ROWS_CHECKED:
                kept.append(row)

    if isinstance(source, Path):
        with source.open("rb") as stream:
            read(stream)
    else:
        read(source)
    return rows, counts


def check_mapping(
    job: JobDefinition, schema: ShopSchema, sample_xml: Path | BinaryIO | None = None
) -> list[Problem]:
    """Every problem at once: unknown destination tables/columns, keys, constants that do not fit
    their column, removal scopes that cannot be translated, and — with a sample file — source
    tables and columns nobody maps, mapped sources missing from the file, and values that would
    not convert (with table, row and column)."""
    problems: list[Problem] = []
    if job.import_ is None:
        return [Problem(job.id, "the job has no 'import' section: nothing to check", "warning")]
    definition = job.import_for()  # the default run's scope ({shopID} → the default shopID)
    sample_rows: dict[str, list[Row]] = {}
    counts: dict[str, int] = {}
    if sample_xml is not None:
        try:
            sample_rows, counts = _sample(sample_xml)
        except ErpBridgeError as error:
            problems.append(Problem("sample", f"the sample file cannot be read: {error}"))
    by_lower = {name.lower(): name for name in sample_rows}
    for mapping in definition.mappings:
        if not mapping.active:
            continue
        source_name = by_lower.get(mapping.source.lower())
        rows = sample_rows.get(source_name, []) if source_name else []
        columns: list[str] | None = None
        if sample_xml is not None:
            if not rows:
                problems.append(
                    Problem(
                        f"{mapping.source} → {mapping.destination}",
                        "the sample has no rows for it",
                        "warning",
                    )
                )
            else:
                columns = list(rows[0])
        destination = schema.table(mapping.destination)
        plan, found = plan_mapping(
            mapping, destination, columns, definition, keep_partial_plan=True, resolve_table=schema.table
        )
        problems.extend(found)
        if plan is not None and rows:
            problems.extend(_check_rows(plan, rows, source_name or mapping.source))
    mapped_sources = {m.source.lower() for m in definition.mappings if m.active}
    for table, count in counts.items():
        if table.lower() not in mapped_sources:
            problems.append(
                Problem(table, f"source table in the sample ({count} rows) is not mapped", "warning")
            )
    return problems


def _check_rows(plan: TablePlan, rows: list[Row], table: str) -> list[Problem]:
    problems: list[Problem] = []
    for number, row in enumerate(rows, start=1):
        result = plan.convert(row, number, table)
        if isinstance(result, list):
            problems.extend(Problem(plan.label, f"sample {error}") for error in result)
        if len(problems) >= 50:
            problems.append(
                Problem(plan.label, "more sample rows fail; only the first 50 problems are listed")
            )
            break
    if plan.unmapped_sources:
        problems.append(
            Problem(plan.label, f"source columns not mapped: {', '.join(plan.unmapped_sources)}", "warning")
        )
    return problems
