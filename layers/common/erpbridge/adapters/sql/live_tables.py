"""The live API's own tables in the shop database (migrations m0100, m0120), and the time convention of
their columns: naive UTC ``DateTime`` (SQLite keeps no zone), made aware again on read."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from erpbridge.shopdb.migrations.m0100_live_orders import define_tables
from erpbridge.shopdb.migrations.m0120_order_endpoint import define_column

_metadata = sa.MetaData()
define_tables(_metadata)
LIVE_ORDERS = _metadata.tables["erpbridge_live_orders"]
define_column(LIVE_ORDERS)  # m0120: the order's ERP endpoint
ATTEMPTS = _metadata.tables["erpbridge_live_order_attempts"]
IDEMPOTENCY = _metadata.tables["erpbridge_idempotency_keys"]


def utc_naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def now_naive() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
