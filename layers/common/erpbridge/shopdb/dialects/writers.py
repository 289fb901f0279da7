"""The bulk writer of each SQLAlchemy dialect."""

from __future__ import annotations

from erpbridge.shopdb.dialects.postgresql import PostgresBulkWriter
from erpbridge.shopdb.dialects.sql import SqlBulkWriter
from erpbridge.shopdb.dialects.sqlite import SqliteBulkWriter

_WRITERS: dict[str, type[SqlBulkWriter]] = {
    "sqlite": SqliteBulkWriter,
    "postgresql": PostgresBulkWriter,
}


def writer_class_for(dialect_name: str) -> type[SqlBulkWriter]:
    """The adapter for a SQLAlchemy dialect name; unknown dialects get the generic (untested) one."""
    return _WRITERS.get(dialect_name, SqlBulkWriter)
