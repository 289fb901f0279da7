"""Health: is the ERP reachable, the breaker's state, the last success, orders waiting for export."""

from __future__ import annotations

from erpbridge.live.models import Health
from erpbridge.live.ports import LiveErp, OrderState, OrderStore


class HealthService:
    def __init__(self, *, erp: LiveErp, orders: OrderStore) -> None:
        self._erp = erp
        self._orders = orders

    def check(self) -> Health:
        status = self._erp.status()
        counts = self._orders.counts()
        waiting = sum(counts.get(s, 0) for s in (OrderState.RECEIVED, OrderState.QUEUED, OrderState.SENDING))
        breaker = getattr(status.breaker_state, "value", status.breaker_state)
        condition = str(status.condition)
        return Health(
            status="ok"
            if status.reachable and condition == "ok" and str(breaker) == "closed"
            else "degraded",
            erp_reachable=status.reachable,
            erp_condition=condition,  # type: ignore[arg-type]  # one of ErpCondition's values
            erp_reason=status.reason,
            erp_setting=status.setting,
            erp_endpoint=status.endpoint,
            breaker_state=str(breaker),
            checked_at=status.checked_at,
            last_success=status.last_success,
            orders_waiting_for_export=waiting,
            orders_dead_lettered=counts.get(OrderState.DEAD_LETTER, 0),
            orders_unknown=counts.get(OrderState.UNKNOWN, 0),
            orders_rejected=counts.get(OrderState.REJECTED, 0),
        )
