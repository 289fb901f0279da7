"""PostgreSQL: COPY into a TEMP stage (ON COMMIT DROP), then one INSERT … ON CONFLICT DO UPDATE.

The upsert counts inserted vs updated rows with ``RETURNING (xmax = 0)`` (a freshly inserted
tuple has no deleting transaction), and only touches rows whose values really changed, so a
re-import of an unchanged file writes (almost) nothing. Insert-only (or nothing to update) is
the same statement with ON CONFLICT DO NOTHING. Key sets other than the primary key, update-only
and collapsed duplicates fall back to the generic statements.

Statistics: a TEMP table has none until ANALYZEd, and a destination filled in this very
transaction still has the statistics of before (an empty table, on a first import). With those
the planner once ran "deactivate missing" as a nested loop that scanned the whole-file stage
once per product (minutes at 100,000 products). So the pending batch is ANALYZEd before the
generic joins, the whole-file stage before the file-wide statements whenever rows were added
since, and the destination too when this file inserted a large share of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from erpbridge.mapping.delimited import DelimitedText
from erpbridge.shopdb.dialects.sql import ROW_COLUMN, SqlBulkWriter, SqlStage
from erpbridge.shopdb.ports import MergeCounts, MergeMode, MergeSpec

# COPY's text format: tab-separated, \N for NULL, t/f, backslash escapes (PostgreSQL docs, COPY).
COPY_TEXT = DelimitedText()
_LINES_PER_CHUNK = 1000
# ANALYZE the destination before the file-wide statements when this file inserted more than this
# share of the rows its statistics know of (or it never had statistics).
STALE_STATISTICS_SHARE = 0.2


class PostgresStage(SqlStage):
    text_format = COPY_TEXT
    _analyzed_rows = 0  # rows in the whole-file stage when it was last ANALYZEd
    _destination_analyzed_at = 0  # ``rows_inserted`` when the destination's statistics were checked

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

    def prepare_file(self, destination_columns: Sequence[str]) -> None:
        if self._analyzed_rows != self.rows_absorbed:
            self.connection.exec_driver_sql(f"ANALYZE {self._quote(self.name)}")
            self._analyzed_rows = self.rows_absorbed
        if destination_columns and self.rows_inserted > self._destination_analyzed_at:
            known = self.connection.execute(
                sa.text("SELECT reltuples FROM pg_class WHERE oid = CAST(:name AS regclass)"),
                {"name": self._quote(self.destination.name)},
            ).scalar()
            # reltuples is -1 for a table never analyzed (PostgreSQL 14+), 0 when it was empty.
            if known is None or self.rows_inserted > STALE_STATISTICS_SHARE * max(float(known), 0.0):
                # Only the columns the statement filters on: the sample is the same, but the wide
                # text columns (descriptions) would cost most of the time.
                columns = ", ".join(self._quote(c) for c in dict.fromkeys(destination_columns))
                self.connection.exec_driver_sql(f"ANALYZE {self._quote(self.destination.name)} ({columns})")
            self._destination_analyzed_at = self.rows_inserted

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


class PostgresBulkWriter(SqlBulkWriter):
    dialect = "postgresql"
    stage_class = PostgresStage
