"""Dialect adapters of the bulk-write port.

Tested: SQLite and PostgreSQL (CI). SQL Server is not implemented or tested: add
``mssql.py`` with a stage written by pyodbc ``fast_executemany`` into a ``#temp`` table (and,
optionally, a ``MERGE … WITH (HOLDLOCK)``) and register it below; the generic statements in
:mod:`erpbridge.shopdb.dialects.sql` (UPDATE … FROM, INSERT … SELECT … WHERE NOT EXISTS) already
render for SQL Server through SQLAlchemy.
"""

from __future__ import annotations

from erpbridge.shopdb.dialects.postgresql import PostgresBulkWriter
from erpbridge.shopdb.dialects.sql import SqlBulkWriter, SqlShopDatabase
from erpbridge.shopdb.dialects.sqlite import SqliteBulkWriter

_WRITERS: dict[str, type[SqlBulkWriter]] = {
    "sqlite": SqliteBulkWriter,
    "postgresql": PostgresBulkWriter,
}


def writer_class_for(dialect_name: str) -> type[SqlBulkWriter]:
    """The adapter for a SQLAlchemy dialect name; unknown dialects get the generic (untested) one."""
    return _WRITERS.get(dialect_name, SqlBulkWriter)


__all__ = ["SqlShopDatabase", "writer_class_for"]
