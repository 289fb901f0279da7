"""Which ERP endpoint an order belongs to: ``erpbridge_live_orders.erp_endpoint``.

Set when the order is stored (the endpoint serving its shop and currency then, docs/erp-endpoints.md).
Export Failed Orders, re-sends and the lookup of an order whose outcome is unknown use it, so an
order that may already be in one ERP is never sent to another because its shop moved. Empty for
orders stored before: they follow their shop.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

TABLE = "erpbridge_live_orders"
COLUMN = "erp_endpoint"


def define_column(orders: sa.Table) -> None:
    """Add the column to the m0100 table definition the adapters use."""
    orders.append_column(sa.Column(COLUMN, sa.String(100), nullable=False, server_default=""))


def upgrade(connection: Connection) -> None:
    if COLUMN in {column["name"] for column in sa.inspect(connection).get_columns(TABLE)}:
        return
    connection.execute(sa.text(f"ALTER TABLE {TABLE} ADD {COLUMN} VARCHAR(100) NOT NULL DEFAULT ''"))
