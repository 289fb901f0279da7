"""The generic SQLAlchemy Core adapter of the bulk-write port: a TEMP stage table per mapping and
set-based statements (UPDATE … FROM, INSERT … SELECT … WHERE NOT EXISTS, DELETE … WHERE NOT EXISTS)
that work for any key set, not only the primary key — the merge Dynamicweb's providers run
(anchor §5.6). Dialect adapters override how rows reach the stage and, where the database has a
faster single-statement upsert, the merge.

Every statement costs O(rows) or O(rows log rows), never rows x rows: a batch's statements join
the batch to the destination through the destination's key index; the file-wide statements
(duplicate keys, remove/deactivate missing, replaced relations) probe the whole-file stage, which
gets an index on its key columns before the first of them (built once from the finished stage,
so the batches do not maintain it) and, on PostgreSQL, statistics (:meth:`SqlStage.prepare_file`).
Without that index a ``NOT EXISTS`` over the stage is a scan of the stage per destination row.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from erpbridge.shopdb.introspect import read_schema
from erpbridge.shopdb.model import ShopSchema
from erpbridge.shopdb.ports import (
    Comparison,
    DuplicateKey,
    InSelect,
    KeepDuplicate,
    Members,
    MergeCounts,
    MergeMode,
    MergeSpec,
    Predicate,
    PredicateGroup,
    Scope,
    StageSpec,
)

ROW_COLUMN = "_erpbridge_row"
_stage_numbers = itertools.count(1)


def _predicate(table: sa.Table, predicate: Predicate) -> sa.ColumnElement[bool]:
    column: sa.ColumnElement[Any] = table.c[predicate.column]
    values = predicate.values
    match predicate.comparison:
        case Comparison.EQUAL:
            return sa.and_(column == values[0])
        case Comparison.NOT_EQUAL:
            return sa.and_(column != values[0])
        case Comparison.LESS:
            return sa.and_(column < values[0])
        case Comparison.GREATER:
            return sa.and_(column > values[0])
        case Comparison.IN:
            return column.in_(values)
        case Comparison.NOT_IN:
            return column.not_in(values)
        case Comparison.LIKE:
            return column.like(values[0], escape="\\")
        case Comparison.NOT_LIKE:
            return column.not_like(values[0], escape="\\")
        case Comparison.IS_NULL:
            return column.is_(None)
        case Comparison.IS_NOT_NULL:
            return column.is_not(None)
        case Comparison.IS_NULL_OR_EMPTY:
            return sa.or_(column.is_(None), column == "")
    raise AssertionError(predicate.comparison)  # pragma: no cover - exhaustive


def _in_select(
    table: sa.Table, entry: InSelect, tables: Callable[[str], sa.Table] | None
) -> sa.ColumnElement[bool]:
    if tables is None:
        raise LookupError(f"no table resolver for {entry.table}")
    other = tables(entry.table)
    # A correlated EXISTS rather than IN (subquery): an anti-join / index probe per row on every
    # database, where NOT IN may be planned as a scan of the subquery per row.
    found = sa.exists().where(
        other.c[entry.select_column] == table.c[entry.column], *(_predicate(other, p) for p in entry.where)
    )
    return ~found if entry.negate else found


def _entry(
    table: sa.Table, entry: Predicate | InSelect, tables: Callable[[str], sa.Table] | None
) -> sa.ColumnElement[bool]:
    return _in_select(table, entry, tables) if isinstance(entry, InSelect) else _predicate(table, entry)


def scope_clause(
    table: sa.Table, scope: Scope, tables: Callable[[str], sa.Table] | None = None
) -> sa.ColumnElement[bool]:
    parts: list[sa.ColumnElement[bool]] = []
    for entry in scope:
        if isinstance(entry, PredicateGroup):
            inner = [_entry(table, p, tables) for p in entry.predicates]
            parts.append(sa.or_(*inner) if entry.any_of else sa.and_(*inner))
        else:
            parts.append(_entry(table, entry, tables))
    return sa.and_(sa.true(), *parts)


def scope_columns(scope: Scope) -> tuple[str, ...]:
    """The destination columns a removal scope filters on."""
    names: list[str] = []
    for entry in scope:
        predicates = entry.predicates if isinstance(entry, PredicateGroup) else (entry,)
        names.extend(p.column for p in predicates if p.column not in names)
    return tuple(names)


class SqlStage:
    """Two TEMP tables per mapping: ``pending`` receives each batch; ``merge`` upserts the pending
    rows into the destination and moves them to ``table``, which keeps every row of the file (for
    the file-wide duplicate check and the removal of missing rows)."""

    def __init__(
        self,
        connection: Connection,
        spec: StageSpec,
        destination: sa.Table,
        tables: Callable[[str], sa.Table] | None = None,
    ) -> None:
        self.spec = spec
        self.connection = connection
        self.destination = destination
        self._tables = tables or self._no_tables
        self._lookup_tables = {column: self._tables(table) for column, (table, _, _) in spec.lookups.items()}
        number = next(_stage_numbers)
        self.name = f"erpbridge_stage_{number}"
        self.table = self._temp_table(self.name, spec.kept)
        self.pending_name = f"erpbridge_pending_{number}"
        self.pending = self._temp_table(self.pending_name, spec.columns)
        self.rows_written = 0
        self.pending_rows = 0
        self.rows_absorbed = 0  # rows in ``table`` (the whole-file stage)
        self._indexed = False
        self._processors = self._bind_processors()
        self._statements: dict[Any, Any] = {}  # built once per stage, reused for every batch

    def _statement(self, key: Any, build: Callable[[], Any]) -> Any:
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statements[key] = build()
        return statement

    def _temp_table(self, name: str, columns: Sequence[str]) -> sa.Table:
        table = sa.Table(
            name,
            sa.MetaData(),
            sa.Column(ROW_COLUMN, sa.Integer()),
            *[sa.Column(column, self._staged_type(column)) for column in columns],
            prefixes=["TEMPORARY"],
            **self._table_options(),
        )
        table.create(self.connection)
        return table

    def _table_options(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def _no_tables(name: str) -> sa.Table:
        raise LookupError(f"no table resolver for lookup table {name}")

    def _staged_type(self, column: str) -> Any:
        """A lookup column stages the text it is matched by, typed like the match column."""
        if column in self.spec.lookups:
            _, match, _ = self.spec.lookups[column]
            return self._lookup_tables[column].c[match].type
        return self.destination.c[column].type

    def _resolved(self) -> sa.Subquery:
        """The pending rows with lookup columns resolved; rows whose lookup finds nothing drop out."""
        pending = self.pending
        selected: list[Any] = [pending.c[ROW_COLUMN]]
        found: list[sa.ColumnElement[bool]] = []
        for name in self.spec.columns:
            if name not in self.spec.lookups:
                selected.append(pending.c[name])
                continue
            _, match, value = self.spec.lookups[name]
            target = self._lookup_tables[name]
            resolved = (
                sa.select(target.c[value])
                .where(target.c[match] == pending.c[name])
                .order_by(target.c[value])
                .limit(1)
                .scalar_subquery()
            )
            selected.append(resolved.label(name))
            found.append(sa.or_(pending.c[name].is_(None), resolved.is_not(None)))
        return sa.select(*selected).where(*found).subquery("resolved")

    def _bind_processors(self) -> list[tuple[int, Callable[[Any], Any]]]:
        processors: list[tuple[int, Callable[[Any], Any]]] = []
        for index, name in enumerate(self.spec.columns, start=1):
            processor = self.pending.c[name].type._cached_bind_processor(self.connection.dialect)
            if processor is not None:
                processors.append((index, processor))
        return processors

    # -- writing ------------------------------------------------------------------------------

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        self._write(rows)
        self.rows_written += len(rows)
        self.pending_rows += len(rows)

    def _write(self, rows: Sequence[Sequence[Any]]) -> None:
        """Portable path: executemany of a plain INSERT, values run through the type processors."""
        processors = self._processors
        if processors:
            processed = []
            for row in rows:
                values = list(row)
                for index, processor in processors:
                    if values[index] is not None:
                        values[index] = processor(values[index])
                processed.append(tuple(values))
            rows = processed
        marks = ", ".join(["?"] * (len(self.spec.columns) + 1))
        quoted = ", ".join(self._quote(c) for c in (ROW_COLUMN, *self.spec.columns))
        sql = f"INSERT INTO {self._quote(self.pending_name)} ({quoted}) VALUES ({marks})"  # noqa: S608
        cursor = self.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, rows)
        finally:
            cursor.close()

    def _quote(self, name: str) -> str:
        return str(self.connection.dialect.identifier_preparer.quote(name))

    # -- questions ----------------------------------------------------------------------------

    def count(self) -> int:
        return self.rows_written

    def _key_match(self, source: sa.FromClause | sa.Table) -> sa.ColumnElement[bool]:
        return sa.and_(*(self.destination.c[k] == source.c[k] for k in self.spec.keys))

    def duplicate_keys(self, limit: int, *, pending: bool = False) -> list[DuplicateKey]:
        """Keys staged more than once in the whole file (or in the pending batch)."""
        table = self.pending if pending else self.file_stage()

        def build() -> Any:
            keys = [table.c[k] for k in self.spec.keys]
            row = table.c[ROW_COLUMN]
            return (
                sa.select(*keys, sa.func.count(), sa.func.min(row), sa.func.max(row))
                .group_by(*keys)
                .having(sa.func.count() > 1)
                .order_by(sa.func.min(row))
                .limit(sa.bindparam("limit"))
            )

        query = self._statement(("duplicates", pending), build)
        keys = self.spec.keys
        found = []
        width = len(keys)
        for result in self.connection.execute(query, {"limit": limit}):
            values = tuple(result)
            found.append(DuplicateKey(key=values[:width], count=int(values[width]), rows=values[width + 1 :]))
        return found

    def distinct_values(self, column: str) -> list[Any]:
        table = self.file_stage()
        return list(self.connection.execute(sa.select(table.c[column]).distinct()).scalars())

    def count_destination(self, scope: Scope) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(self.destination)
            .where(scope_clause(self.destination, scope, self._tables))
        )
        return int(self.connection.execute(query).scalar_one())

    # -- writing to the destination ----------------------------------------------------------

    def _source(self, merge: MergeSpec) -> sa.FromClause | sa.Table:
        if not merge.collapse_duplicates:
            if self.spec.lookups:
                return self._statement("resolved", self._resolved)  # type: ignore[no-any-return]
            return self.pending
        keys = [self.pending.c[k] for k in self.spec.keys]
        others = [self._collapsed(self.pending.c[c]) for c in self.spec.columns if c not in self.spec.keys]
        return (
            sa.select(*keys, *others)
            .where(*(k.is_not(None) for k in keys))
            .group_by(*keys)
            .subquery("collapsed")
        )

    @staticmethod
    def _collapsed(column: sa.Column[Any]) -> sa.Label[Any]:
        if isinstance(column.type, sa.Boolean):
            # any row saying True wins (min/max are not defined on booleans everywhere)
            as_number = sa.func.max(sa.cast(column, sa.Integer()))
            return sa.cast(as_number, sa.Boolean()).label(column.name)
        return sa.func.min(column).label(column.name)

    def prepare_merge(self) -> None:
        """Hook: e.g. statistics on the pending batch before the generic merge joins it."""

    def prepare_lookups(self) -> None:
        """Hook: e.g. statistics on the lookup tables before the batch's lookups probe them."""

    def file_stage(self, destination_columns: Sequence[str] = ()) -> sa.Table:
        """The whole-file stage, ready for the file-wide statements: indexed on the key columns,
        so each ``NOT EXISTS``/``IN`` probe of it is a B-tree search (or the planner hashes it),
        never a scan per destination row. The index is built once, when the first file-wide
        statement runs; rows absorbed later (a finalise step adding pages) keep it up to date.
        ``destination_columns``: the destination columns the coming statement filters on."""
        if not self._indexed:
            columns = [self.table.c[k] for k in self.spec.keys]
            sa.Index(f"{self.name}_keys", *columns).create(self.connection)
            self._indexed = True
        self.prepare_file(destination_columns)
        return self.table

    def prepare_file(self, destination_columns: Sequence[str]) -> None:
        """Hook: statistics on the whole-file stage (and on ``destination_columns``) before a
        file-wide statement."""

    def merge(self, merge: MergeSpec) -> MergeCounts:
        """Merge the rows written since the last merge. Keys repeated among them are reported
        (``counts.duplicates``) and nothing is merged: the caller rejects the file."""
        if self.pending_rows == 0:
            return MergeCounts()
        counts = MergeCounts()
        if merge.keep is not None:
            counts.discarded = self._discard_duplicates(merge.keep)
        elif not merge.collapse_duplicates:
            counts.duplicates = self.duplicate_keys(10, pending=True)
        if not counts.duplicates:
            total = self.pending_rows
            if self.spec.lookups:
                self.prepare_lookups()
            if self.spec.lookups and not merge.collapse_duplicates:
                source = self._source(merge)
                total = int(
                    self.connection.execute(sa.select(sa.func.count()).select_from(source)).scalar_one()
                )
                counts.skipped += self.pending_rows - total
                counts.unresolved += self.pending_rows - total
            self._merge_pending(merge, counts, total)
        self._absorb_pending()
        return counts

    def keep_pending(self) -> None:
        if self.pending_rows == 0:
            return
        if self.spec.lookups:
            self.prepare_lookups()
            resolved = self._statement("resolved", self._resolved)
            names = (ROW_COLUMN, *self.spec.kept)
            kept = sa.insert(self.table).from_select(list(names), sa.select(*(resolved.c[n] for n in names)))
            unresolved = self.pending_rows - self._rowcount(kept)
            self.rows_written -= unresolved
            self.rows_absorbed += self.pending_rows - unresolved
            self._clear_pending()
            self.pending_rows = 0
            return
        self._absorb_pending()

    def _discard_duplicates(self, keep: KeepDuplicate) -> int:
        """Drop pending rows whose key another row keeps: within the batch the first (or last)
        row by source row number stays; with ``first`` a key an earlier batch had is dropped,
        with ``last`` the later row overwrites it when merged (counted as discarded)."""
        pending = self.pending
        other = pending.alias("other_row")
        same_key = [other.c[k] == pending.c[k] for k in self.spec.keys]
        if keep is KeepDuplicate.FIRST:
            beaten = other.c[ROW_COLUMN] < pending.c[ROW_COLUMN]
        else:
            beaten = other.c[ROW_COLUMN] > pending.c[ROW_COLUMN]
        within = sa.delete(pending).where(sa.exists().where(*same_key, beaten))
        discarded = self._rowcount(within)
        earlier = sa.exists().where(*(self.table.c[k] == pending.c[k] for k in self.spec.keys))
        if keep is KeepDuplicate.FIRST:
            across = self._rowcount(sa.delete(pending).where(earlier))
        else:
            query = sa.select(sa.func.count()).select_from(pending).where(earlier)
            across = int(self.connection.execute(query).scalar_one())
            # the earlier batch's row gives way: it leaves the file-wide stage (one row per key)
            previous = sa.exists().where(*(pending.c[k] == self.table.c[k] for k in self.spec.keys))
            self._rowcount(sa.delete(self.table).where(previous))
        dropped = discarded + (across if keep is KeepDuplicate.FIRST else 0)
        self.pending_rows -= dropped
        self.rows_written -= discarded + across
        return discarded + across

    def _absorb_pending(self) -> None:
        def build() -> Any:
            columns = [self.pending.c[c] for c in (ROW_COLUMN, *self.spec.kept)]
            return sa.insert(self.table).from_select([c.name for c in columns], sa.select(*columns))

        self.connection.execute(self._statement("absorb", build))
        self.rows_absorbed += self.pending_rows
        self._clear_pending()
        self.pending_rows = 0

    def _clear_pending(self) -> None:
        self.connection.execute(self._statement("clear", lambda: sa.delete(self.pending)))

    def _merge_pending(self, merge: MergeSpec, counts: MergeCounts, total: int) -> None:
        """Merge ``total`` source rows (the pending rows whose lookups resolved)."""
        self.prepare_merge()  # the joins below need statistics on the pending rows
        source = self._source(merge)
        columns = list(self.spec.columns)
        if merge.collapse_duplicates:
            total = int(self.connection.execute(sa.select(sa.func.count()).select_from(source)).scalar_one())
        match = self._key_match(source)
        if merge.mode is not MergeMode.INSERT_ONLY and merge.update_columns:
            changed = sa.or_(
                *(self.destination.c[c].is_distinct_from(source.c[c]) for c in merge.update_columns)
            )
            values: dict[str, Any] = {c: source.c[c] for c in merge.update_columns}
            if merge.updated_column and merge.now is not None:
                values[merge.updated_column] = merge.now
            update = sa.update(self.destination).values(values).where(match).where(changed)
            counts.updated = self._rowcount(update)
        if merge.mode is not MergeMode.UPDATE_ONLY:
            selected: list[Any] = [source.c[c] for c in columns]
            names = list(columns)
            for stamp in (merge.created_column, merge.updated_column):
                if stamp and merge.now is not None and stamp not in names:
                    names.append(stamp)
                    selected.append(sa.literal(merge.now, self.destination.c[stamp].type))
            query = sa.select(*selected).where(~sa.exists().where(match))
            insert = sa.insert(self.destination).from_select(names, query)
            counts.inserted = self._rowcount(insert)
        if merge.mode is MergeMode.UPSERT:
            counts.unchanged = max(0, total - counts.inserted - counts.updated)
        elif merge.mode is MergeMode.INSERT_ONLY:
            counts.skipped += total - counts.inserted
        else:
            matched_query = sa.select(sa.func.count()).select_from(source).where(sa.exists().where(match))
            matched = int(self.connection.execute(matched_query).scalar_one())
            counts.skipped += total - matched
            counts.unchanged = max(0, matched - counts.updated)

    def _rowcount(self, statement: sa.Executable) -> int:
        # INSERT … SELECT reports -1 unless SQLAlchemy is asked to keep the driver's rowcount.
        result = self.connection.execute(statement.execution_options(preserve_rowcount=True))
        return int(result.rowcount)

    def _missing(self, filtered: Sequence[str]) -> sa.ColumnElement[bool]:
        """Destination rows whose key is not staged: an anti-join on the indexed file stage."""
        staged = self.file_stage((*self.spec.keys, *filtered))
        return ~sa.exists().where(self._key_match(staged))

    def delete_missing(self, scope: Scope) -> int:
        statement = (
            sa.delete(self.destination)
            .where(scope_clause(self.destination, scope, self._tables))
            .where(self._missing(scope_columns(scope)))
        )
        return self._rowcount(statement)

    def update_missing(self, scope: Scope, values: Mapping[str, Any], unless: Mapping[str, Any]) -> int:
        already = sa.and_(*(self.destination.c[c] == v for c, v in unless.items()))
        statement = (
            sa.update(self.destination)
            .values(dict(values))
            .where(scope_clause(self.destination, scope, self._tables))
            .where(~already)
            .where(self._missing((*scope_columns(scope), *unless)))
        )
        return self._rowcount(statement)

    def delete_replaced(self, owner_column: str, related_column: str, scope: Scope = ()) -> int:
        owner = self.destination.c[owner_column]
        related = self.destination.c[related_column]
        # keys (owner, related): a semi-join and an anti-join on the stage's index
        staged = self.file_stage((owner_column, related_column))
        statement = (
            sa.delete(self.destination)
            .where(owner.in_(sa.select(staged.c[owner_column])))
            .where(scope_clause(self.destination, scope, self._tables))
            .where(
                ~sa.exists().where(
                    staged.c[owner_column] == owner,
                    staged.c[related_column] == related,
                )
            )
        )
        return self._rowcount(statement)

    def remember_keys(self, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            names = (ROW_COLUMN, *self.spec.keys)
            self.connection.execute(
                sa.insert(self.table), [dict(zip(names, row, strict=True)) for row in rows]
            )

    def add_members(self, members: Members) -> int:
        target = self._tables(members.table)
        staged = self.table.c[members.staged_column]
        group = sa.literal(members.group, target.c[members.group_column].type)
        query = (
            sa.select(group, staged)
            .distinct()
            .where(staged.is_not(None))
            .where(
                ~sa.exists().where(
                    target.c[members.group_column] == members.group,
                    target.c[members.member_column] == staged,
                )
            )
        )
        insert = sa.insert(target).from_select([members.group_column, members.member_column], query)
        return self._rowcount(insert)

    def remove_missing_members(self, members: Members) -> int:
        target = self._tables(members.table)
        staged = self.table.c[members.staged_column]
        # NOT IN over the (non-NULL) staged values: one hashed / indexed set on every database,
        # where a correlated NOT EXISTS probes the unindexed stage once per member row.
        statement = (
            sa.delete(target)
            .where(target.c[members.group_column] == members.group)
            .where(target.c[members.member_column].not_in(sa.select(staged).where(staged.is_not(None))))
        )
        return self._rowcount(statement)

    def drop(self) -> None:
        self.table.drop(self.connection, checkfirst=True)
        self.pending.drop(self.connection, checkfirst=True)


class SqlBulkWriter:
    """The port bound to one connection inside one transaction."""

    dialect = "generic"
    stage_class: type[SqlStage] = SqlStage

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._stages: list[SqlStage] = []
        self._tables: dict[str, sa.Table] = {}

    def read_schema(self, tables: Sequence[str] | None = None) -> ShopSchema:
        """The schema of ``tables``; their SQLAlchemy tables are reflected here too, in one
        ``MetaData.reflect`` (batched catalogue queries, not a round of them per table)."""
        schema = read_schema(self.connection, tables)
        if tables is not None:
            metadata = sa.MetaData()
            metadata.reflect(self.connection, only=sorted(schema.tables))
            self._tables.update(metadata.tables)
        return schema

    def _destination(self, name: str) -> sa.Table:
        table = self._tables.get(name)
        if table is None:
            table = sa.Table(name, sa.MetaData(), autoload_with=self.connection)
            self._tables[name] = table
        return table

    def open_stage(self, spec: StageSpec) -> SqlStage:
        stage = self.stage_class(self.connection, spec, self._destination(spec.table.name), self._destination)
        self._stages.append(stage)
        return stage

    def default_shop(self) -> str | None:
        shops = self._destination("EcomShops")
        query = sa.select(shops.c.ShopID).order_by(shops.c.ShopDefault.desc(), shops.c.ShopID).limit(1)
        value = self.connection.execute(query).scalar()
        return None if value is None else str(value)

    def close(self) -> None:
        """Drop the stages (PostgreSQL drops them on commit anyway; SQLite keeps TEMP tables per
        connection, and pooled connections live on)."""
        for stage in self._stages:
            stage.drop()
        self._stages.clear()
