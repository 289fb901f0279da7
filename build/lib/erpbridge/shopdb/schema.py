"""SQLAlchemy Core tables of the shop schema, for code that queries it (the live API, tests).

The mapping engine does not use these: it reads the live schema from the database at run time
(:func:`erpbridge.shopdb.introspect.read_schema`). Tables added by later migrations define their
``Table`` objects next to the code that uses them.
"""

from __future__ import annotations

import sqlalchemy as sa

from erpbridge.shopdb.migrations.m0001_shop_schema import define_tables

metadata = sa.MetaData()
define_tables(metadata)


def table(name: str) -> sa.Table:
    return metadata.tables[name]
