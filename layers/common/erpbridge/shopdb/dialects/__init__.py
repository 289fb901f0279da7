"""Dialect adapters of the bulk-write port.

Tested: SQLite and PostgreSQL (CI). SQL Server is not implemented or tested: add
``mssql.py`` with a stage written by pyodbc ``fast_executemany`` into a ``#temp`` table (and,
optionally, a ``MERGE … WITH (HOLDLOCK)``) and register it in
:mod:`erpbridge.shopdb.dialects.writers`; the generic statements in
:mod:`erpbridge.shopdb.dialects.sql` (UPDATE … FROM, INSERT … SELECT … WHERE NOT EXISTS) already
render for SQL Server through SQLAlchemy. :mod:`erpbridge.shopdb.dialects.shop_database` opens a
transaction with the writer of the engine's dialect.
"""
