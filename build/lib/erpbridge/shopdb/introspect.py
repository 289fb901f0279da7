"""Read the destination schema from the database at run time (never a stale snapshot)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from erpbridge.shopdb.model import ColumnInfo, ShopSchema, TableSchema, ValueKind


def value_kind(column_type: sa.types.TypeEngine[Any]) -> ValueKind:
    if isinstance(column_type, sa.Boolean):
        return ValueKind.BOOLEAN
    if isinstance(column_type, sa.Integer):
        return ValueKind.INTEGER
    if isinstance(column_type, sa.Float):
        return ValueKind.FLOAT
    if isinstance(column_type, sa.Numeric):
        return ValueKind.DECIMAL
    if isinstance(column_type, sa.DateTime):
        return ValueKind.DATETIME
    if isinstance(column_type, sa.Date):
        return ValueKind.DATE
    if isinstance(column_type, sa.String):
        return ValueKind.TEXT
    return ValueKind.OTHER


def read_schema(bind: Engine | Connection, tables: Sequence[str] | None = None) -> ShopSchema:
    """Every table (or the named ones that exist) with its columns (kind, length, nullability,
    primary key, default)."""
    inspector = sa.inspect(bind)
    names = None
    if tables is not None:
        wanted = {name.lower() for name in tables}
        names = [name for name in inspector.get_table_names() if name.lower() in wanted]
    columns_by_table = inspector.get_multi_columns(filter_names=names)
    keys_by_table = inspector.get_multi_pk_constraint(filter_names=names)
    found: dict[str, TableSchema] = {}
    for (schema_name, table_name), columns in columns_by_table.items():
        del schema_name
        pk_info = keys_by_table.get((None, table_name))
        primary_key = tuple(pk_info["constrained_columns"] if pk_info else ())
        infos: dict[str, ColumnInfo] = {}
        for column in columns:
            column_type = column["type"]
            identity = bool(column.get("identity")) or bool(column.get("autoincrement") is True)
            single_int_pk = (
                len(primary_key) == 1
                and column["name"] == primary_key[0]
                and isinstance(column_type, sa.Integer)
                and column.get("autoincrement", "auto") != False  # noqa: E712 - reflected value may be "auto"
            )
            infos[column["name"]] = ColumnInfo(
                name=column["name"],
                kind=value_kind(column_type),
                type_name=str(column_type),
                nullable=bool(column["nullable"]),
                primary_key=column["name"] in primary_key,
                has_default=column.get("default") is not None or identity or single_int_pk,
                length=getattr(column_type, "length", None),
            )
        found[table_name] = TableSchema(name=table_name, columns=infos, primary_key=primary_key)
    return ShopSchema(tables=found)


def reflect_table(bind: Engine | Connection, name: str) -> sa.Table:
    """A SQLAlchemy ``Table`` for ``name`` as it is in the database now."""
    return sa.Table(name, sa.MetaData(), autoload_with=bind)
