"""The console's order listing over erpbridge_live_orders (SQLAlchemy Core; SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from erpbridge.adapters.sql.live_tables import LIVE_ORDERS
from erpbridge.admin.ports import OrderSummary
from erpbridge.live.ports import OrderState


class SqlOrderListing:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def list_orders(
        self, *, states: Sequence[OrderState], older_than: datetime | None, limit: int
    ) -> list[OrderSummary]:
        query = sa.select(LIVE_ORDERS).where(LIVE_ORDERS.c.state.in_([s.value for s in states]))
        if older_than is not None:
            query = query.where(LIVE_ORDERS.c.created_at <= older_than.astimezone(UTC).replace(tzinfo=None))
        query = query.order_by(LIVE_ORDERS.c.created_at.desc(), LIVE_ORDERS.c.order_id).limit(limit)
        with self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [
            OrderSummary(
                order_id=row["order_id"],
                customer_number=row["customer_number"],
                state=OrderState(row["state"]),
                erp_order_id=row["erp_order_id"],
                attempts=row["attempts"],
                last_error=row["last_error"],
                created_at=row["created_at"].replace(tzinfo=UTC),
                updated_at=row["updated_at"].replace(tzinfo=UTC),
            )
            for row in rows
        ]
