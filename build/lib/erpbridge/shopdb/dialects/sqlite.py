"""SQLite: stage with executemany (one statement per batch), then the generic set-based merge.

SQLite runs in-process, so there is no round trip to save: executemany into the TEMP stage is
its fast path, and the set-based UPDATE … FROM / INSERT … SELECT (SQLite ≥ 3.33) merges in C.
"""

from __future__ import annotations

from erpbridge.shopdb.dialects.sql import SqlBulkWriter, SqlStage


class SqliteStage(SqlStage):
    pass


class SqliteBulkWriter(SqlBulkWriter):
    dialect = "sqlite"
    stage_class = SqliteStage
