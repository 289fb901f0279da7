"""The live API's own tables: order export state (with claims), the order timeline, idempotency keys.

The order itself lives in EcomOrders/EcomOrderLines (m0001); ``erpbridge_live_orders`` adds what
the shop schema has no place for: the state machine, the attempt counter, the worker claim (so two
workers never send one order at once) and the validated request (the source of every re-send).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def define_tables(metadata: sa.MetaData) -> None:
    sa.Table(
        "erpbridge_live_orders",
        metadata,
        sa.Column("order_id", sa.String(50), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("customer_number", sa.String(255), nullable=True),
        sa.Column("shop_id", sa.String(255), nullable=False, server_default=""),
        sa.Column("currency", sa.String(3), nullable=False, server_default=""),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("erp_order_id", sa.String(50), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Index("ix_erpbridge_live_orders_state", "state", "created_at"),
    )
    sa.Table(
        "erpbridge_live_order_attempts",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.String(50), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("outcome", sa.String(30), nullable=False),
        sa.Column("erp_message", sa.Text(), nullable=True),
        sa.Column("erp_order_id", sa.String(50), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("request_xml", sa.String(500), nullable=True),
        sa.Column("response_xml", sa.String(500), nullable=True),
        sa.Index("ix_erpbridge_live_order_attempts_order", "order_id", "id"),
    )
    sa.Table(
        "erpbridge_idempotency_keys",
        metadata,
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("locked_until", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def upgrade(connection: Connection) -> None:
    metadata = sa.MetaData()
    define_tables(metadata)
    metadata.create_all(connection, checkfirst=True)
