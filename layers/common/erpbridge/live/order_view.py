"""Reading orders: an order's status and the timeline of its attempts, from the order store alone.

Needs no ERP client: the live API's ``GET /v1/orders/{id}`` (through :class:`OrderService`) and
read-only commands (``erpbridge orders show``) share it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from erpbridge.live.errors import NotFoundError
from erpbridge.live.models import OrderDetail, OrderStatus, TimelineEntry
from erpbridge.live.ports import OrderState, OrderStore, StoredOrder

STATUS_OF_STATE: dict[OrderState, OrderStatus] = {
    OrderState.RECEIVED: OrderStatus.QUEUED,
    OrderState.SENDING: OrderStatus.UNKNOWN,
    OrderState.CREATED: OrderStatus.CREATED,
    OrderState.QUEUED: OrderStatus.QUEUED,
    OrderState.UNKNOWN: OrderStatus.UNKNOWN,
    OrderState.DEAD_LETTER: OrderStatus.FAILED,
    OrderState.REJECTED: OrderStatus.REJECTED,
    OrderState.DECLINED: OrderStatus.DECLINED,
}


class OrderView:
    def __init__(
        self, orders: OrderStore, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._orders = orders
        self._now = now

    def get_order(self, order_id: str) -> StoredOrder:
        order = self._orders.get(order_id)
        if order is None:
            raise NotFoundError(f"order {order_id} not found")
        return order

    def detail(self, order: StoredOrder) -> OrderDetail:
        """The status and timeline of an order read with :meth:`get_order`."""
        order_id = order.order_id
        created = order.created_at or self._now()
        return OrderDetail(
            order_id=order.order_id,
            customer_number=order.customer_number,
            status=STATUS_OF_STATE[order.state],
            state=order.state.value,
            erp_order_id=order.erp_order_id,
            attempts=order.attempts,
            created_at=created,
            updated_at=order.updated_at or created,
            totals=(order.result or {}).get("totals"),
            lines=(order.result or {}).get("lines", []),
            custom_fields=(order.result or {}).get("custom_fields", {}),
            last_error=order.last_error,
            timeline=[
                TimelineEntry(
                    at=a.at,
                    trigger=str(a.trigger),
                    outcome=str(a.outcome),
                    erp_message=a.erp_message,
                    erp_order_id=a.erp_order_id,
                    duration_ms=a.duration_ms,
                    request_xml=a.request_xml,
                    response_xml=a.response_xml,
                )
                for a in self._orders.attempts(order_id)
            ],
        )
