"""Health: is each ERP endpoint reachable, its breaker's state, its last success; orders waiting
for export. The top-level ``erp_*`` fields are the default endpoint's; ``endpoints`` has one line
per endpoint (docs/erp-endpoints.md), and ``status`` is ok only when every endpoint is."""

from __future__ import annotations

import re
from collections.abc import Sequence

from erpbridge.live.models import EndpointHealth, Health
from erpbridge.live.ports import ErpStatusView, LiveErp, OrderState, OrderStore

# One endpoint as health sees it: its name, the shops it serves, its client.
NamedErp = tuple[str, Sequence[str], LiveErp]


class HealthService:
    def __init__(self, *, erp: LiveErp, orders: OrderStore, endpoints: Sequence[NamedErp] = ()) -> None:
        self._endpoints: Sequence[NamedErp] = endpoints or (("default", (), erp),)
        self._orders = orders

    def check(self) -> Health:
        lines = [_line(name, shops, erp.status()) for name, shops, erp in self._endpoints]
        counts = self._orders.counts()
        waiting = sum(counts.get(s, 0) for s in (OrderState.RECEIVED, OrderState.QUEUED, OrderState.SENDING))
        default = lines[0].model_dump(exclude={"name", "shops", "status"})
        return Health(
            status="ok" if all(line.status == "ok" for line in lines) else "degraded",
            **default,
            orders_waiting_for_export=waiting,
            orders_dead_lettered=counts.get(OrderState.DEAD_LETTER, 0),
            orders_unknown=counts.get(OrderState.UNKNOWN, 0),
            orders_rejected=counts.get(OrderState.REJECTED, 0),
            endpoints=lines,
        )


def _line(name: str, shops: Sequence[str], status: ErpStatusView) -> EndpointHealth:
    breaker = str(getattr(status.breaker_state, "value", status.breaker_state))
    condition = str(status.condition)
    return EndpointHealth(
        name=name,
        shops=sorted(shops),
        status="ok" if status.reachable and condition == "ok" and breaker == "closed" else "degraded",
        erp_reachable=status.reachable,
        erp_condition=condition,  # type: ignore[arg-type]  # one of ErpCondition's values
        erp_reason=status.reason,
        erp_setting=_setting_in(name, status.setting),
        erp_endpoint=status.endpoint,
        breaker_state=breaker,
        checked_at=status.checked_at,
        last_success=status.last_success,
    )


_ERP_SETTING = re.compile(r"ERPBRIDGE_ERP_([A-Z0-9_]+)")


def _setting_in(endpoint: str, setting: str | None) -> str | None:
    """The setting to check, as it is spelled for this endpoint: ``ERPBRIDGE_ERP_URL`` is
    ``ERPBRIDGE_ERP_ENDPOINTS[nordic].url`` for the endpoint named nordic."""
    if setting is None or endpoint == "default":
        return setting
    return _ERP_SETTING.sub(lambda m: f"ERPBRIDGE_ERP_ENDPOINTS[{endpoint}].{m.group(1).lower()}", setting)
