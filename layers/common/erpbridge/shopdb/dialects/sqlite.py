"""SQLite: stage with executemany (one statement per batch), then the generic set-based merge.

SQLite runs in-process, so there is no round trip to save: executemany into the TEMP stage is
its fast path, and the set-based UPDATE … FROM / INSERT … SELECT (SQLite ≥ 3.33) merges in C.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from erpbridge.shopdb.dialects.sql import SqlBulkWriter, SqlStage


class SqliteStage(SqlStage):
    def _bind_processors(self) -> list[tuple[int, Callable[[Any], Any]]]:
        # The converters stage True/False, which sqlite3 binds as 1/0 itself: SQLAlchemy's
        # Boolean processor (a Python call per value) would only check them again.
        return [
            (index, processor)
            for index, processor in super()._bind_processors()
            if not isinstance(self.pending.c[self.spec.columns[index - 1]].type, sa.Boolean)
        ]


class SqliteBulkWriter(SqlBulkWriter):
    dialect = "sqlite"
    stage_class = SqliteStage
