"""PostgreSQL: COPY into a TEMP stage (ON COMMIT DROP), then one INSERT … ON CONFLICT DO UPDATE.

The upsert counts inserted vs updated rows with ``RETURNING (xmax = 0)`` (a freshly inserted
tuple has no deleting transaction), and only touches rows whose values really changed, so a
re-import of an unchanged file writes (almost) nothing. Insert-only (or nothing to update) is
the same statement with ON CONFLICT DO NOTHING. Key sets other than the primary key, update-only
and collapsed duplicates fall back to the generic statements.

Statistics: a TEMP table has none until ANALYZEd, and a table filled in this very transaction
still has the statistics of before (an empty table, on a first import). With those the planner
ran "deactivate missing" as a nested loop that scanned the whole-file stage once per product
(minutes at 100,000 products), and a lookup (address → user) as a walk of the whole user table
per address. So the pending batch is ANALYZEd before the generic joins, the whole-file stage
before the file-wide statements whenever rows were added since, and the destination and lookup
tables whenever they have doubled since their statistics were taken (:class:`TableStatistics`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from erpbridge.shopdb.delimited import DelimitedText
from erpbridge.shopdb.dialects.sql import ROW_COLUMN, SqlBulkWriter, SqlStage
from erpbridge.shopdb.ports import Members, MergeCounts, MergeMode, MergeSpec, StageSpec

# COPY's text format: tab-separated, \N for NULL, t/f, backslash escapes (PostgreSQL docs, COPY).
COPY_TEXT = DelimitedText()
_LINES_PER_CHUNK = 1000
# Tables under this many pages (8 KB each) are not worth statistics: any plan over them is cheap.
SMALL_TABLE_PAGES = 16


class TableStatistics:
    """Keeps the planner's statistics of the tables an import writes or looks up in step with
    their growth during the import's transaction.

    Before a statement joins a table, :meth:`refresh` ANALYZEs it — only the columns the
    statement joins or filters on (the sample is the same, but wide text columns would cost most
    of the time) — when the table has at least doubled in pages since its statistics were taken,
    or when those columns were not analyzed at its present size. Doubling keeps the total linear:
    the analyzed sizes 1, 2, 4 … n add up to 2n, and each ANALYZE samples at most 30,000 rows. A
    re-import into a table of the same size ANALYZEs nothing."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._analyzed: dict[str, tuple[int, frozenset[str]]] = {}  # table → (pages, columns)

    def refresh(self, table: str, columns: Iterable[str]) -> None:
        wanted = frozenset(columns)
        quote = self.connection.dialect.identifier_preparer.quote
        row = self.connection.execute(
            sa.text(
                "SELECT relpages, pg_relation_size(oid) / current_setting('block_size')::int "
                "FROM pg_class WHERE oid = CAST(:name AS regclass)"
            ),
            {"name": quote(table)},
        ).one()
        known_pages, pages = int(row[0]), int(row[1])
        if pages < SMALL_TABLE_PAGES:
            return
        # Not analyzed in this transaction: its statistics (autovacuum's) cover every column.
        analyzed_pages, covered = self._analyzed.get(table, (known_pages, None))
        if pages >= 2 * max(analyzed_pages, SMALL_TABLE_PAGES // 2):
            columns_now = wanted | (covered or frozenset())
            self._analyzed[table] = (pages, columns_now)
        elif covered is not None and not wanted <= covered:
            columns_now = wanted - covered
            self._analyzed[table] = (analyzed_pages, covered | columns_now)
        else:
            return
        names = ", ".join(quote(c) for c in sorted(columns_now))
        self.connection.exec_driver_sql(f"ANALYZE {quote(table)} ({names})")


class PostgresStage(SqlStage):
    text_format = COPY_TEXT
    statistics: TableStatistics  # shared by the writer's stages (set by PostgresBulkWriter)
    _analyzed_rows = 0  # rows in the whole-file stage when it was last ANALYZEd

    def _table_options(self) -> dict[str, Any]:
        return {"postgresql_on_commit": "DROP"}

    def _bind_processors(self) -> list[tuple[int, Any]]:
        return []  # psycopg adapts Decimal, datetime and bool itself

    def _write(self, rows: Any) -> None:
        # Text COPY, not binary: psycopg's binary numeric dumper goes through Decimal.as_tuple()
        # in Python and measured ~2x the client CPU of text COPY for our numeric-heavy rows.
        columns = ", ".join(self._quote(c) for c in (ROW_COLUMN, *self.spec.columns))
        statement = f"COPY {self._quote(self.pending_name)} ({columns}) FROM STDIN"
        cursor = self.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()

    def write_lines(self, lines: Sequence[str]) -> None:
        """Rows already written as COPY text lines by the row converter: sent in ~1 MB chunks,
        so this thread holds the GIL for a few joins instead of formatting every value."""
        if not lines:
            return
        columns = ", ".join(self._quote(c) for c in (ROW_COLUMN, *self.spec.columns))
        statement = f"COPY {self._quote(self.pending_name)} ({columns}) FROM STDIN"
        cursor = self.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(statement) as copy:
                for start in range(0, len(lines), _LINES_PER_CHUNK):
                    copy.write("\n".join(lines[start : start + _LINES_PER_CHUNK]))
                    copy.write("\n")
        finally:
            cursor.close()
        self.rows_written += len(lines)
        self.pending_rows += len(lines)

    def prepare_merge(self) -> None:
        # A TEMP table has no statistics; without them the planner may pick nested loops.
        self.connection.exec_driver_sql(f"ANALYZE {self._quote(self.pending_name)}")
        self.statistics.refresh(self.destination.name, self.spec.keys)

    def prepare_lookups(self) -> None:
        for table, match, value in self.spec.lookups.values():
            self.statistics.refresh(table, (match, value))

    def prepare_file(self, destination_columns: Sequence[str]) -> None:
        if self._analyzed_rows != self.rows_absorbed:
            self.connection.exec_driver_sql(f"ANALYZE {self._quote(self.name)}")
            self._analyzed_rows = self.rows_absorbed
        if destination_columns:
            self.statistics.refresh(self.destination.name, destination_columns)

    def _merge_pending(self, merge: MergeSpec, counts: MergeCounts, total: int) -> None:
        primary_key = [c.name for c in self.destination.primary_key.columns]
        if (
            merge.mode is MergeMode.UPDATE_ONLY
            or merge.collapse_duplicates
            or set(primary_key) != set(self.spec.keys)
        ):
            super()._merge_pending(merge, counts, total)
            return
        query = self._statement(("upsert", merge), lambda: self._upsert_statement(merge, primary_key))
        inserted, updated = self.connection.execute(query).one()
        counts.inserted, counts.updated = int(inserted), int(updated)
        if merge.mode is MergeMode.INSERT_ONLY:
            counts.skipped += total - counts.inserted
        else:
            counts.unchanged = max(0, total - counts.inserted - counts.updated)

    def _upsert_statement(self, merge: MergeSpec, primary_key: list[str]) -> Any:
        names = list(self.spec.columns)
        source = self._source(merge)
        selected: list[Any] = [source.c[c] for c in names]
        for stamp in (merge.created_column, merge.updated_column):
            if stamp and merge.now is not None and stamp not in names:
                names.append(stamp)
                selected.append(sa.literal(merge.now, self.destination.c[stamp].type))
        statement = pg_insert(self.destination).from_select(names, sa.select(*selected))
        if merge.mode is MergeMode.INSERT_ONLY or not merge.update_columns:
            statement = statement.on_conflict_do_nothing(index_elements=primary_key)
        else:
            values: dict[str, Any] = {c: statement.excluded[c] for c in merge.update_columns}
            if merge.updated_column and merge.now is not None:
                values[merge.updated_column] = merge.now
            changed = sa.or_(
                *(self.destination.c[c].is_distinct_from(statement.excluded[c]) for c in merge.update_columns)
            )
            statement = statement.on_conflict_do_update(
                index_elements=primary_key, set_=values, where=changed
            )
        upserted = statement.returning(sa.literal_column("(xmax = 0)").label("inserted")).cte("upserted")
        inserted_flag = upserted.c.inserted
        return sa.select(
            sa.func.count().filter(inserted_flag),
            sa.func.count().filter(~inserted_flag),
        )

    def _clear_pending(self) -> None:
        self.connection.exec_driver_sql(f"TRUNCATE {self._quote(self.pending_name)}")

    def remove_missing_members(self, members: Members) -> int:
        # Not the generic NOT IN (SELECT …): PostgreSQL hashes that subquery only while it fits
        # work_mem (4 MB by default); at 500,000 products it fell back to a plain SubPlan, a scan
        # of the stage per member row (minutes, then the statement timeout). NOT EXISTS is an
        # anti-join, hashed (spilling to disk when large) or merged at any size.
        target = self._tables(members.table)
        staged = self.file_stage().c[members.staged_column]
        member = target.c[members.member_column]
        statement = (
            sa.delete(target)
            .where(target.c[members.group_column] == members.group)
            .where(~sa.exists().where(staged == member))
        )
        return self._rowcount(statement)


class PostgresBulkWriter(SqlBulkWriter):
    dialect = "postgresql"
    stage_class = PostgresStage

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self.statistics = TableStatistics(connection)

    def open_stage(self, spec: StageSpec) -> SqlStage:
        stage = super().open_stage(spec)
        if isinstance(stage, PostgresStage):
            stage.statistics = self.statistics
        return stage
