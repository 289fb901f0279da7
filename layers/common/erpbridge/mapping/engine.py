"""The import engine: staged rows in, one transaction per file out, and a report of what happened.

Rows arrive as ``(table_name, Row)`` from the streaming reader. Each table mapping converts its
rows (pure rules: :mod:`erpbridge.mapping.planner` compiles each into a plan) and hands them, a
batch at a time, to one background worker that stages and merges the batch (insert/update per
mode, insert-only columns, stamps) while the next batch is parsed; memory holds a few batches,
never the file. All of it happens in one transaction. When the file is read:

1. any row error or duplicate key (within a batch or across the file) rejects the file — the
   transaction rolls back and nothing of it is written — unless the mapping says otherwise:
   ``on_row_error: skip_row`` leaves bad rows out (listed in ``report.failed_rows``),
   ``on_duplicate: keep_first``/``keep_last`` keeps one row per key (the others counted);
2. derived relations are merged, and then — only if allowed, the file staged rows, and at least
   ``min_share_for_removal`` of the rows in scope, and skipped no more than ``max_skipped_share``
   of its rows — missing rows removed or products deactivated.

With a shop scope (``import.shop``, per run from its ``shopID``) the import touches only that
shop: a product keeps the default shop it was created with, shop-group and product-group
relations are replaced only within the shop (its groups), and removal/deactivation of products
covers only products this shop holds and no other shop does (``erpbridge_shop_products``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol, TypeVar, runtime_checkable

from erpbridge.errors import ImportRejectedError, MappingError, ShopDatabaseError
from erpbridge.mapping.conditions import condition_scope
from erpbridge.mapping.model import (
    DuplicateAction,
    ImportDefinition,
    NullAction,
    RowErrorAction,
    TableMapping,
)
from erpbridge.mapping.plan import RelationPlan, TablePlan
from erpbridge.mapping.planner import plan_mapping
from erpbridge.mapping.problems import RowError
from erpbridge.mapping.relations import (
    RELATIONS,
    SHOP_GROUPS,
    SHOP_PRODUCTS,
    SHOP_PRODUCTS_OWNER,
    DerivedRelation,
    split_list,
)
from erpbridge.mapping.shop_columns import LANGUAGE_COLUMNS, SHOP_COLUMNS
from erpbridge.protocol.tables import Row
from erpbridge.shopdb.delimited import DelimitedText
from erpbridge.shopdb.model import ShopSchema, ValueKind
from erpbridge.shopdb.ports import (
    BulkWriter,
    Comparison,
    InSelect,
    KeepDuplicate,
    Members,
    MergeCounts,
    MergeMode,
    MergeSpec,
    Predicate,
    PredicateGroup,
    Scope,
    ShopDatabase,
    Stage,
    StageSpec,
)

_T = TypeVar("_T")

# A file's unmapped tables are named up to this many; warnings list this many names at most; a
# table's columns missing from its first row are warned about this many times.
_NAMED_TABLES = 100
_NAMES_SHOWN = 20
_COLUMN_WARNINGS = 10


def _names(names: list[str] | tuple[str, ...]) -> str:
    """Names for a warning: the first few, each shortened, and how many more."""
    shown = ", ".join(name if len(name) <= 80 else name[:80] + "…" for name in names[:_NAMES_SHOWN])
    more = len(names) - _NAMES_SHOWN
    return f"{shown} and {more:,} more" if more > 0 else shown


@dataclass
class TableReport:
    staged: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    deactivated: int = 0
    skipped: int = 0
    failed: int = 0  # rows with an error (left out with skip_row; else the file was rejected)
    discarded: int = 0  # rows dropped as duplicates of another row's key (keep_first/keep_last)


@dataclass
class ImportReport:
    """What one file did to the shop database (all zeros when it was rolled back)."""

    tables: dict[str, TableReport] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows_read: int = 0
    committed: bool = False
    # skip_row: the first ``max_errors`` errors of the rows left out (all rows are counted in
    # the tables' ``failed``); the file was imported without them.
    failed_rows: list[RowError] = field(default_factory=list)
    # ... and the first ``max_errors`` of those rows as they came: (table, row number, values)
    failed_sources: list[tuple[str, int, dict[str, str | None]]] = field(default_factory=list)
    shop: str | None = None  # the shop scope the file was imported with
    export_is_done: bool | None = None  # the file's root said ExportIsDone (None: it did not say)

    @property
    def ok(self) -> bool:
        return self.committed and not self.errors

    def table(self, name: str) -> TableReport:
        return self.tables.setdefault(name, TableReport())

    def totals(self) -> TableReport:
        total = TableReport()
        for report in self.tables.values():
            for name, value in asdict(report).items():
                setattr(total, name, getattr(total, name) + value)
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "committed": self.committed,
            "rows_read": self.rows_read,
            "tables": {name: asdict(report) for name, report in self.tables.items()},
            "errors": [asdict(error) for error in self.errors],
            "warnings": list(self.warnings),
            "failed_rows": [asdict(error) for error in self.failed_rows],
            "rows_failed": sum(t.failed for t in self.tables.values()) if self.committed else 0,
            "shop": self.shop,
        }

    def raise_for_errors(self) -> None:
        if not self.ok:
            shown = "; ".join(str(e) for e in self.errors[:5])
            more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
            raise ImportRejectedError(f"file not imported, nothing written: {shown}{more}", report=self)


class _Worker:
    """One background thread that owns every database call during a file's import, so the
    database merges batch N while the reader parses batch N+1. At most ``depth`` batches wait
    in the queue, which keeps memory flat. Errors surface on the next call or on ``drain``."""

    def __init__(self, depth: int = 2) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="erpbridge-import")
        self._pending: deque[Future[None]] = deque()
        self._depth = depth

    def submit(self, job: Callable[[], None]) -> None:
        self._pending.append(self._executor.submit(job))
        while len(self._pending) > self._depth:
            self._pending.popleft().result()

    def call(self, job: Callable[[], _T]) -> _T:
        self.drain()
        return self._executor.submit(job).result()

    def drain(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        """Wait for the job in progress (the connection must be idle before a rollback)."""
        self._executor.shutdown(wait=True, cancel_futures=True)


class _Rejected(Exception):
    """Internal: unwind the transaction after the errors were recorded in the report."""


@dataclass
class _RelationRun:
    plan: RelationPlan
    stage: Stage
    # The owner id from the source row (a mapping staged as lines); None: from the converted values.
    owner_text: Callable[[Row], Any] | None = None
    buffer: list[tuple[Any, ...]] = field(default_factory=list)
    # The staged tuples in the common shapes, built without the general per-item steps:
    # "pairs" (owner, related), "positions" (owner, related, position, "<owner>.<related>"),
    # "sorted" (owner, related, sorting from the sorting list[, is primary]).
    shape: str | None = field(init=False)
    empty: tuple[Any, ...] = field(init=False)  # the staged tail of an empty list

    def __post_init__(self) -> None:
        plan = self.plan
        relation = plan.relation
        self.empty = (None,) * (len(plan.stage_columns) - 1)
        self.shape = None
        sorting, primary, surrogate = (
            relation.relation_sorting,
            relation.relation_primary,
            relation.relation_id,
        )
        if relation.default_to_shop:
            return
        if not (sorting or primary or surrogate):
            self.shape = "pairs"
        elif sorting and surrogate and relation.position_sorting and not (plan.sorting_source or primary):
            self.shape = "positions"
        elif sorting and plan.sorting_source and not surrogate and (not primary or plan.primary_source):
            self.shape = "sorted"


@runtime_checkable
class LineStage(Stage, Protocol):
    """A stage that also loads rows as delimited text lines (PostgreSQL's COPY): the converter
    writes each line from the validated text, and the database thread sends them in big chunks."""

    text_format: DelimitedText

    def write_lines(self, lines: Sequence[str]) -> None:
        """Append rows, each one line of ``text_format`` (source row number first)."""
        ...


@dataclass
class _MappingRun:
    plan: TablePlan
    stage: Stage
    source_table: str
    merge: MergeSpec
    buffer: list[Any] = field(default_factory=list)  # tuples, or lines for a LineStage
    relations: list[_RelationRun] = field(default_factory=list)
    counts: MergeCounts = field(default_factory=MergeCounts)
    skipped: int = 0
    failed: int = 0
    failed_keys: list[tuple[Any, ...]] = field(default_factory=list)  # skip_row: keys of bad rows
    convert: Callable[[Row, int, str], Any] = field(init=False)
    as_lines: bool = False
    skip_errors: bool = field(init=False)

    def __post_init__(self) -> None:
        self.skip_errors = self.plan.mapping.on_row_error is RowErrorAction.SKIP_ROW
        # Lines also for a mapping with derived relations when each owner id is its text (see
        # owner_text): the relations then take it from the row, not from converted values.
        if isinstance(self.stage, LineStage) and all(self.owner_text(r) for r in self.plan.relations):
            self.as_lines = True
            self.convert = self.plan.line_converter(self.stage.text_format)
        else:
            self.convert = self.plan.convert

    def owner_text(self, relation: RelationPlan) -> Callable[[Row], str | None] | None:
        """How to read a relation's owner id from the source row, when the staged value is the
        column's text as it is (a text column without null rules or lookup: its converter only
        checks the length, and a row that fails it is not related); None otherwise."""
        column = self.plan.columns[relation.owner_index]
        if (
            column.value_info.kind is ValueKind.TEXT
            and column.on_null is NullAction.NONE
            and not column.lookup
        ):
            return column.text
        return None


class _Importer:
    def __init__(
        self,
        definition: ImportDefinition,
        writer: BulkWriter,
        report: ImportReport,
        *,
        allow_removal: bool,
        now: datetime,
        keys_only: bool = False,
    ) -> None:
        self.definition = definition
        self.writer = writer
        self.report = report
        self.allow_removal = allow_removal
        self.keys_only = keys_only
        self.now = now
        needed = {m.destination for m in definition.mappings if m.active}
        needed |= {c.lookup.table for m in definition.mappings for c in m.columns if c.lookup is not None}
        needed |= {r.relation_table for r in RELATIONS if r.owner_table in needed}
        if definition.shop:
            needed |= {SHOP_GROUPS[0]}
            if SHOP_PRODUCTS_OWNER[0] in needed:
                needed |= {SHOP_PRODUCTS[0]}
        self.schema: ShopSchema = writer.read_schema(sorted(needed))
        self.batch_rows = definition.batch_rows
        self.by_source: dict[str, list[TableMapping]] = {}
        for mapping in definition.mappings:
            if mapping.active:
                self.by_source.setdefault(mapping.source.lower(), []).append(mapping)
        self.runs: list[_MappingRun] = []
        self.runs_by_source: dict[str, list[_MappingRun]] = {}
        self.row_numbers: dict[str, int] = {}
        self.unmapped_tables: dict[str, int] = {}
        self.unlisted_rows = 0  # rows of unmapped tables beyond the first _NAMED_TABLES names
        self.known_columns: dict[str, set[str]] = {}
        self.column_warnings: dict[str, int] = {}
        self._default_shop: str | bool | None = False
        self.worker = _Worker()

    @property
    def default_shop(self) -> str | None:
        if self._default_shop is False:
            self._default_shop = self.definition.shop or self.worker.call(self.writer.default_shop)
        return self._default_shop  # type: ignore[return-value]

    # -- reading ----------------------------------------------------------------------------------

    def _start_source(self, table_name: str, first_row: Row) -> list[_MappingRun]:
        runs: list[_MappingRun] = []
        problems: list[str] = []
        for mapping in self.by_source.get(table_name.lower(), []):
            table = self.schema.table(mapping.destination)
            plan, found = plan_mapping(
                mapping, table, list(first_row), self.definition, resolve_table=self.schema.table
            )
            problems.extend(str(p) for p in found if p.severity == "error")
            self.report.warnings.extend(str(p) for p in found if p.severity == "warning")
            if plan is None:
                continue
            if plan.unmapped_sources:
                self._unknown(
                    table_name,
                    f"{plan.label}: source columns not mapped: {_names(plan.unmapped_sources)}",
                    _names(plan.unmapped_sources),
                )
            language_column = LANGUAGE_COLUMNS.get(plan.table.name)
            spec = StageSpec(
                table=plan.table,
                columns=plan.column_names,
                keys=plan.keys,
                label=plan.label,
                remembered=(language_column,) if language_column in plan.column_names else (),
                lookups=plan.lookups,
            )
            stage = self.worker.call(partial(self.writer.open_stage, spec))
            created, updated = plan.stamps
            merge = MergeSpec(
                mode=MergeMode(mapping.mode.value),
                update_columns=plan.update_columns,
                created_column=created,
                updated_column=updated,
                now=self.now,
                keep=_KEEP.get(mapping.on_duplicate),
            )
            run = _MappingRun(plan=plan, stage=stage, source_table=table_name, merge=merge)
            for relation_plan in () if self.keys_only else plan.relations:
                relation = relation_plan.relation
                relation_table = self.schema.table(relation.relation_table)
                if relation_table is None:
                    problems.append(f"{plan.label}: relation table {relation.relation_table} does not exist")
                    continue
                relation_spec = StageSpec(
                    table=relation_table,
                    columns=relation_plan.stage_columns,
                    keys=(relation.relation_owner, relation.relation_related),
                    label=f"{plan.label} ({relation.list_column})",
                )
                relation_stage = self.worker.call(partial(self.writer.open_stage, relation_spec))
                owner_text = run.owner_text(relation_plan) if run.as_lines else None
                run.relations.append(_RelationRun(relation_plan, relation_stage, owner_text))
            runs.append(run)
        if problems:
            raise MappingError("the mapping does not fit: " + "; ".join(problems), problems=problems)
        self.runs.extend(runs)
        return runs

    def _unknown(self, table_name: str, message: str, column: str | None = None) -> None:
        """A source table or column no mapping knows: a warning, or with ``strict`` an error."""
        if self.definition.strict:
            self.report.errors.append(RowError(table_name, None, column, None, f"{message} (strict)"))
        else:
            self.report.warnings.append(message)

    # The import's hot loop, being optimised on its own branch; split it once that lands.
    def read(  # noqa: C901
        self, rows: Iterable[tuple[str, Row]], on_progress: Callable[[int], None] | None
    ) -> None:
        report = self.report
        max_errors = self.definition.max_errors
        batch_rows = self.batch_rows
        runs_by_source = self.runs_by_source
        row_numbers = self.row_numbers
        errors = report.errors
        read_count = 0
        for table_name, row in rows:
            read_count += 1
            runs = runs_by_source.get(table_name)
            if runs is None:
                if table_name.lower() in self.by_source:
                    runs = self._start_source(table_name, row)
                    self.known_columns[table_name] = set(row)
                elif len(self.unmapped_tables) < _NAMED_TABLES:
                    runs = []
                    self.unmapped_tables[table_name] = 0
                else:  # a file of countless table names must not fill memory with them
                    self.unlisted_rows += 1
                    continue
                runs_by_source[table_name] = runs
            if not runs:
                self.unmapped_tables[table_name] += 1
                continue
            number = row_numbers.get(table_name, 0) + 1
            row_numbers[table_name] = number
            known = self.known_columns.get(table_name)
            if known is not None and not known.issuperset(row):
                # Columns are discovered from a table's first row (as Dynamicweb does); say so
                # once per new column rather than silently dropping its values (up to a point:
                # then the table's new columns are no longer tracked).
                new = sorted(set(row) - known)
                known.update(new)
                report.warnings.append(
                    f"{table_name} row {number}: columns {_names(new)} are not in the table's first row "
                    "and are not imported (the first row must carry every column)"
                )
                warned = self.column_warnings[table_name] = self.column_warnings.get(table_name, 0) + 1
                if warned >= _COLUMN_WARNINGS:
                    del self.known_columns[table_name]
                    report.warnings.append(
                        f"{table_name}: more columns that are not in the first row are not listed"
                    )
            for run in runs:
                result = run.convert(row, number, table_name)
                if result is None:
                    run.skipped += 1
                elif isinstance(result, list):
                    run.failed += 1
                    if run.skip_errors:
                        failed_rows = report.failed_rows
                        if len(failed_rows) < max_errors:
                            failed_rows.extend(result[: max_errors - len(failed_rows)])
                        if len(report.failed_sources) < max_errors:
                            report.failed_sources.append((table_name, number, dict(row)))
                        key = run.plan.key_of(row)
                        if key is not None:
                            run.failed_keys.append((number, *key))
                    else:
                        errors.extend(result[: max_errors - len(errors)])
                elif not errors:  # once the file is rejected, only errors are still collected
                    buffer = run.buffer
                    buffer.append(result)
                    if run.relations:
                        self._relate(run, row, number, result)
                    if len(buffer) >= batch_rows:
                        self._flush(run)
            if errors and len(errors) >= max_errors:
                report.warnings.append(f"stopped reading after {max_errors} errors")
                break
            if on_progress is not None and read_count % 10_000 == 0:
                on_progress(read_count)
        report.rows_read = read_count
        if self.unlisted_rows:  # first: a reader of the first few warnings sees the scale
            report.warnings.append(
                f"{self.unlisted_rows:,} rows of more tables with no mapping ignored "
                f"(only the first {_NAMED_TABLES} such tables are named)"
            )
        for table_name, count in self.unmapped_tables.items():
            self._unknown(table_name, f"source table {table_name}: no mapping, {count} rows ignored")
        if on_progress is not None:
            on_progress(report.rows_read)

    def _relate(self, run: _MappingRun, row: Row, number: int, values: Any) -> None:
        for relation_run in run.relations:
            plan = relation_run.plan
            raw = row.get(plan.list_source)
            if raw is None:
                continue  # the column is absent for this row: leave its relations alone
            if relation_run.owner_text is not None:
                owner = relation_run.owner_text(row)
            else:
                owner = values[plan.owner_index + 1]  # values = (row number, *columns)
            items = split_list(raw)
            shape = relation_run.shape
            if (
                not items
                or shape is None
                or not self._relate_quickly(relation_run, row, number, owner, items)
            ):
                self._relate_generally(relation_run, row, number, owner, items, run.source_table)

    @staticmethod
    def _relate_quickly(
        relation_run: _RelationRun, row: Row, number: int, owner: Any, items: list[str]
    ) -> bool:
        """The common shapes (see ``_RelationRun.shape``); False: the general steps must do it."""
        shape = relation_run.shape
        if shape == "pairs":
            relation_run.buffer.extend([(number, owner, item) for item in items])
            return True
        if shape == "positions":
            relation_run.buffer.extend(
                [
                    (number, owner, item, position, f"{owner}.{item}"[:255])
                    for position, item in enumerate(items, 1)
                ]
            )
            return True
        plan = relation_run.plan
        sorts = split_list(row.get(plan.sorting_source))  # type: ignore[arg-type]
        if len(sorts) != len(items):
            return False
        staged: list[tuple[Any, ...]]
        try:
            if plan.relation.relation_primary is None or plan.primary_source is None:
                staged = [(number, owner, item, int(sort)) for item, sort in zip(items, sorts, strict=True)]
            else:
                primary = (row.get(plan.primary_source) or "").strip().strip("'\"")
                staged = [
                    (number, owner, item, int(sort), item == primary)
                    for item, sort in zip(items, sorts, strict=True)
                ]
        except ValueError:
            return False  # the general steps report the sorting that is not a whole number
        relation_run.buffer.extend(staged)
        return True

    def _relate_generally(
        self,
        relation_run: _RelationRun,
        row: Row,
        number: int,
        owner: Any,
        items: list[str],
        source_table: str,
    ) -> None:
        plan = relation_run.plan
        relation = plan.relation
        if not items and relation.default_to_shop and self.default_shop:
            items = [self.default_shop]
        if not items:
            relation_run.buffer.append((number, owner, *relation_run.empty))
            return
        sorts = split_list(row.get(plan.sorting_source)) if plan.sorting_source else []
        primary = (row.get(plan.primary_source) or "").strip().strip("'\"") if plan.primary_source else None
        for position, item in enumerate(items):
            staged: list[Any] = [number, owner, item]
            if relation.relation_sorting:
                if position < len(sorts):
                    try:
                        staged.append(int(sorts[position]))
                    except ValueError:
                        if len(self.report.errors) < self.definition.max_errors:
                            self.report.errors.append(
                                RowError(
                                    source_table,
                                    number,
                                    plan.sorting_source,
                                    sorts[position],
                                    "sorting is not a whole number",
                                )
                            )
                        staged.append(None)
                else:
                    staged.append(position + 1 if relation.position_sorting or sorts else None)
            if relation.relation_primary:
                staged.append(primary is not None and item == primary)
            if relation.relation_id:
                staged.append(f"{owner}.{item}"[:255])
            relation_run.buffer.append(tuple(staged))

    def _flush(self, run: _MappingRun) -> None:
        """Hand the batch to the worker: stage it and merge it while reading goes on.

        A batch whose lookups read a table this file also writes (addresses → their users) goes
        after the rows of that table read so far: the worker merges in order, so every address
        finds a user that came before it in the file, however the tables interleave."""
        batch, run.buffer = run.buffer, []
        if run.plan.lookups:
            targets = {table for table, _, _ in run.plan.lookups.values()}
            for other in self.runs:
                if other is not run and other.buffer and other.plan.table.name in targets:
                    self._flush(other)
        relation_batches = []
        for relation_run in run.relations:
            relation_batches.append((relation_run.stage, relation_run.buffer))
            relation_run.buffer = []

        line_stage = run.stage if run.as_lines and isinstance(run.stage, LineStage) else None
        keys_only = self.keys_only

        def job() -> None:
            if line_stage is not None:
                line_stage.write_lines(batch)
            else:
                run.stage.write(batch)
            if keys_only:  # finalise: the rows were merged by their page's import
                run.stage.keep_pending()
                return
            run.counts.add(run.stage.merge(run.merge))
            for stage, rows in relation_batches:
                stage.write(rows)

        self.worker.submit(job)

    # -- writing ----------------------------------------------------------------------------------

    def finish(self) -> None:
        report = self.report
        if report.errors:
            self._count_failures()
            raise _Rejected
        for run in self.runs:
            self._flush(run)
        self.worker.drain()
        self.worker.call(self._write_out)

    def _write_out(self) -> None:
        """On the worker thread: the file-wide checks, relations and removals."""
        report = self.report
        for run in self.runs:
            if run.merge.keep is not None or self.keys_only:
                continue  # repeated keys were discarded batch by batch (counted in _merge)
            for duplicate in run.stage.duplicate_keys(self.definition.max_errors):
                report.errors.append(
                    RowError(
                        run.source_table,
                        duplicate.rows[-1] if duplicate.rows else None,
                        ", ".join(run.plan.keys),
                        ", ".join("" if v is None else str(v) for v in duplicate.key),
                        f"duplicate key: {duplicate.count} rows (rows {', '.join(map(str, duplicate.rows))}) "
                        "have this key; the file must have one row per key",
                    )
                )
        if report.errors:
            self._count_failures()
            raise _Rejected
        for run in self.runs:
            self._merge(run)
        for mapping in self.definition.mappings:
            if mapping.active and not any(run.plan.mapping is mapping for run in self.runs):
                report.warnings.append(
                    f"{mapping.source} → {mapping.destination}: no rows in the file; nothing written/removed"
                )

    def _count_failures(self) -> None:
        for run in self.runs:
            self.report.table(run.plan.table.name).failed += run.failed

    def _merge(self, run: _MappingRun) -> None:
        plan = run.plan
        mapping = plan.mapping
        table_report = self.report.table(plan.table.name)
        staged = run.stage.count()
        table_report.staged += staged
        table_report.skipped += run.skipped
        table_report.failed += run.failed
        counts = run.counts
        if run.failed:
            self.report.warnings.append(
                f"{plan.label}: {run.failed} rows left out because of errors (on_row_error: skip_row)"
            )
            run.stage.remember_keys(run.failed_keys)
        table_report.discarded += counts.discarded
        if counts.discarded:
            self.report.warnings.append(
                f"{plan.label}: {counts.discarded} rows discarded as duplicate keys "
                f"(on_duplicate: {mapping.on_duplicate})"
            )
        members = self._members(run)
        if members is not None and not self.keys_only:  # finalise: the pages added them
            run.stage.add_members(members)
        removal = mapping.remove_missing or mapping.deactivate_missing
        scope = self._removal_scope(run) if removal else ()
        # Batches were merged already: the rows in scope before this file are those in scope now
        # minus the ones this file inserted (inserted rows are in scope by construction).
        existing = max(0, run.stage.count_destination(scope) - counts.inserted) if removal and staged else 0
        table_report.inserted += counts.inserted
        table_report.updated += counts.updated
        table_report.unchanged += counts.unchanged
        table_report.skipped += counts.skipped
        if counts.unresolved:
            lookups = ", ".join(
                f"{column} via {table}.{match}" for column, (table, match, _) in plan.lookups.items()
            )
            self.report.warnings.append(
                f"{plan.label}: {counts.unresolved} rows skipped: their lookup ({lookups}) found no match"
            )
        for relation_run in run.relations:
            self._merge_relation(relation_run, prune=mapping.remove_missing)
        if removal and self._remove_missing(run, scope, staged, existing) and members is not None:
            # The shop no longer holds the products its whole export left out.
            run.stage.remove_missing_members(members)

    def _members(self, run: _MappingRun) -> Members | None:
        """The shop's product membership, for an import with a shop scope into EcomProducts."""
        shop = self.definition.shop
        table, member_column, group_column = SHOP_PRODUCTS
        owner_table, owner_column = SHOP_PRODUCTS_OWNER
        if not shop or run.plan.table.name != owner_table or owner_column not in run.plan.keys:
            return None
        if self.schema.table(table) is None:
            raise MappingError(
                f"{table} does not exist: run `erpbridge db upgrade` (a shop-scoped import needs it)",
                problems=[f"missing table {table}"],
            )
        return Members(table, member_column, group_column, shop, owner_column)

    def _relation_scope(self, relation: DerivedRelation) -> Scope:
        """Replacing an owner's relations stays within the import's shop."""
        shop = self.definition.shop
        if not shop or relation.shop_scope is None:
            return ()
        if relation.shop_scope == "related":
            return (Predicate(relation.relation_related, Comparison.EQUAL, (shop,)),)
        table, group_column, shop_column = SHOP_GROUPS
        in_shop = (Predicate(shop_column, Comparison.EQUAL, (shop,)),)
        return (InSelect(relation.relation_related, table, group_column, in_shop),)

    def _merge_relation(self, relation_run: _RelationRun, *, prune: bool) -> None:
        relation = relation_run.plan.relation
        report = self.report.table(relation.relation_table)
        update_columns = tuple(c for c in (relation.relation_sorting, relation.relation_primary) if c)
        counts = relation_run.stage.merge(
            MergeSpec(mode=MergeMode.UPSERT, update_columns=update_columns, collapse_duplicates=True)
        )
        report.staged += counts.inserted + counts.updated + counts.unchanged
        report.inserted += counts.inserted
        report.updated += counts.updated
        report.unchanged += counts.unchanged
        if relation.replace_always or prune:
            report.deleted += relation_run.stage.delete_replaced(
                relation.relation_owner, relation.relation_related, self._relation_scope(relation)
            )

    def _removal_scope(self, run: _MappingRun) -> Scope:
        plan = run.plan
        scope: list[Predicate | PredicateGroup | InSelect] = list(
            condition_scope(plan.mapping.conditions, plan.columns)
        )
        shop = self.definition.shop
        shop_column = SHOP_COLUMNS.get(plan.table.name)
        members = self._members(run)
        if members is not None:
            # Products this shop holds (its default shop, or in its earlier imports) and no
            # other shop does: one shop's missing products never touch another shop's.
            held = InSelect(
                SHOP_PRODUCTS_OWNER[1],
                members.table,
                members.member_column,
                (Predicate(members.group_column, Comparison.EQUAL, (shop,)),),
            )
            mine: list[Predicate | InSelect] = [held]
            if shop_column and plan.table.column(shop_column):
                mine.insert(0, Predicate(shop_column, Comparison.EQUAL, (shop,)))
            scope.append(PredicateGroup(tuple(mine), any_of=True))
            others = (Predicate(members.group_column, Comparison.NOT_EQUAL, (shop,)),)
            scope.append(InSelect(SHOP_PRODUCTS_OWNER[1], members.table, members.member_column, others, True))
        elif shop and shop_column and plan.table.column(shop_column):
            scope.append(Predicate(shop_column, Comparison.EQUAL, (shop,)))
        language_column = LANGUAGE_COLUMNS.get(plan.table.name)
        if language_column and language_column in plan.column_names:
            languages = tuple(v for v in run.stage.distinct_values(language_column) if v is not None)
            if languages:
                scope.append(Predicate(language_column, Comparison.IN, languages))
        return tuple(scope)

    def _remove_missing(self, run: _MappingRun, scope: Scope, staged: int, existing: int) -> bool:
        """Remove or deactivate the rows in scope the file left out; False when refused."""
        plan = run.plan
        mapping = plan.mapping
        what = "deactivate missing products" if mapping.deactivate_missing else "remove missing rows"
        if not self.allow_removal:
            self.report.warnings.append(f"{plan.label}: {what} not run: this file is one page of several")
            return False
        if staged == 0:
            self.report.warnings.append(f"{plan.label}: {what} not run: the file staged no rows")
            return False
        if existing and staged < mapping.min_share_for_removal * existing:
            self.report.warnings.append(
                f"{plan.label}: {what} not run: the file has {staged} rows, fewer than "
                f"{mapping.min_share_for_removal:.0%} of the {existing} rows in scope (truncated file?)"
            )
            return False
        if run.failed and run.failed > mapping.max_skipped_share * (staged + run.failed):
            self.report.warnings.append(
                f"{plan.label}: {what} not run: {run.failed} of {staged + run.failed} rows were left out "
                f"because of errors, more than max_skipped_share {mapping.max_skipped_share:.0%}"
            )
            return False
        table_report = self.report.table(plan.table.name)
        if mapping.deactivate_missing:
            values: dict[str, Any] = {"ProductActive": False}
            unless: dict[str, Any] = {"ProductActive": False}
            if mapping.hide_deactivated and plan.table.column("ProductHidden"):
                values["ProductHidden"] = True
                unless["ProductHidden"] = True
            table_report.deactivated += run.stage.update_missing(scope, values, unless)
        else:
            table_report.deleted += run.stage.delete_missing(scope)
        return True


_KEEP = {DuplicateAction.KEEP_FIRST: KeepDuplicate.FIRST, DuplicateAction.KEEP_LAST: KeepDuplicate.LAST}


def import_rows(
    definition: ImportDefinition,
    rows: Iterable[tuple[str, Row]],
    database: ShopDatabase,
    *,
    allow_removal: bool = True,
    now: datetime | None = None,
    on_progress: Callable[[int], None] | None = None,
    keys_only: bool = False,
) -> ImportReport:
    """Apply ``definition`` to ``rows`` in one transaction. Row errors and duplicate keys do not
    raise: the transaction is rolled back and the report lists them (``report.ok`` is False;
    ``report.raise_for_errors()`` turns that into :class:`ImportRejectedError`). A mapping that
    does not fit the schema raises :class:`MappingError`; a database failure raises
    :class:`ShopDatabaseError` (both after rolling back).

    ``allow_removal=False`` (one page of a paged export) never removes or deactivates rows.
    ``keys_only=True`` (the finalise step of a paged run, :mod:`erpbridge.batch.finalise`): the
    rows — every page of the run — were merged by their pages' imports; only their keys are
    staged, then missing rows are removed or deactivated once, with the guards of a whole file.
    """
    report = ImportReport(shop=definition.shop)
    moment = now or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    try:
        with database.transaction() as writer:
            importer = _Importer(
                definition, writer, report, allow_removal=allow_removal, now=moment, keys_only=keys_only
            )
            try:
                importer.read(rows, on_progress)
                importer.finish()
            finally:
                importer.worker.close()
        report.committed = True
    except _Rejected:
        report.committed = False
    except (MappingError, ShopDatabaseError):
        report.committed = False
        raise
    if not report.committed:
        for table_report in report.tables.values():
            failed = table_report.failed
            for name in ("inserted", "updated", "unchanged", "deleted", "deactivated", "discarded"):
                setattr(table_report, name, 0)
            table_report.failed = failed
    return report
