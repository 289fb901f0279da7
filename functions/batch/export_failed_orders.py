"""Export Failed Orders (EventBridge Scheduler, console test event, `erpbridge orders export`).

Picks complete orders not yet in the ERP that finished more than X minutes ago, at most N per run,
each claimed so no other worker sends it at the same time; sends each with
``submitType="ScheduledTask"`` (orders in state ``unknown`` are looked up in the ERP first), stores
the ERP number and state, counts failed attempts and dead-letters an order after K of them (metric
``OrdersDeadLettered`` → alarm). Request/response XML copies go to the orders XML bucket.

Event (all optional): ``{"older_than_s": 300, "limit": 25}``; defaults come from the settings
``ERPBRIDGE_ORDER_EXPORT_AFTER_S`` / ``ERPBRIDGE_ORDER_EXPORT_BATCH``.
"""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from erpbridge.live.orders import OrderService
from erpbridge.live.ports import Metric
from erpbridge.wiring.batch import order_export

logger = Logger()
metrics = Metrics()


class ExportEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    older_than_s: float | None = Field(default=None, ge=0)
    limit: int | None = Field(default=None, ge=1, le=500)


class _EmfMetrics:
    def emit(self, metric: Metric) -> None:
        metrics.add_metric(name=metric.name, unit=MetricUnit(metric.unit), value=metric.value)


@functools.cache
def orders() -> OrderService:
    """The order service of this execution environment, built on the first invocation."""
    return order_export(_EmfMetrics()).orders


@logger.inject_lambda_context  # logs the event where POWERTOOLS_LOGGER_LOG_EVENT=true (dev only)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ExportEvent.model_validate(event or {})
    report = orders().export_failed_orders(older_than_s=request.older_than_s, limit=request.limit)
    metrics.add_metric(name="OrdersExportPicked", unit=MetricUnit.Count, value=report.picked)
    metrics.add_metric(name="OrdersExported", unit=MetricUnit.Count, value=report.created)
    # Always present (0 too), so the dead-letter alarm sees data points instead of "missing data".
    metrics.add_metric(name="OrdersDeadLettered", unit=MetricUnit.Count, value=0)
    logger.info("export finished", extra={"report": report.__dict__})
    return {
        "picked": report.picked,
        "created": report.created,
        "queued": report.queued,
        "unknown": report.unknown,
        "dead_lettered": report.dead_lettered,
        "rejected": report.rejected,
        "idempotency_keys_purged": report.idempotency_keys_purged,
        "orders": report.orders,
    }
