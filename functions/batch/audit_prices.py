"""Price Audit Lambda: the golden-price audit, daily (EventBridge Scheduler), or a console test event.

Event (all optional; see ``events/audit-prices.json``)::

    {"sample": 200, "seed": 7, "shop": "SHOP2", "scheduled_time": "<aws.scheduler.scheduled-time>"}

``sample`` (per shop) defaults to ``ERPBRIDGE_PRICE_AUDIT_SAMPLE``; ``shop`` limits the audit to
one shop (default: every shop of the endpoint map); ``scheduled_time`` makes the run id (a
duplicate delivery of one slot runs once). The report goes into the run record (job
``price-audit``); the metrics ``PriceAuditMismatchRate`` (percent of the served prices compared),
``PriceAuditMismatches`` and ``PriceAuditComparisons`` are published for the total (dimension
``service``: the alarm's) and per ERP endpoint (dimensions ``service`` and ``endpoint``). An audit
that could check nothing of an endpoint (BC quoted none of its sample) is recorded failed and
raised, so the function's errors alarm sees it; the metrics of what it could check are published
first.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from erpbridge.batch.models import Trigger
from erpbridge.batch.price_audit import AuditReport, Tally
from erpbridge.errors import ConfigurationError, ErpUnavailableError
from erpbridge.wiring.price_audit import PriceAuditor, price_auditor

logger = Logger()
metrics = Metrics()


class AuditEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sample: int | None = Field(default=None, ge=1, le=10_000)
    seed: int | None = Field(default=None, ge=0)
    shop: str | None = None
    scheduled_time: datetime | None = None

    @field_validator("scheduled_time", mode="before")
    @classmethod
    def _placeholder_means_none(cls, value: object) -> object:
        # The console sample carries Scheduler's placeholder verbatim: treat it as "not scheduled".
        return None if isinstance(value, str) and (not value or value.startswith("<aws.")) else value


@functools.cache
def auditor() -> PriceAuditor:
    """The auditor of this execution environment, built on the first invocation."""
    return price_auditor()


@logger.inject_lambda_context  # logs the event where POWERTOOLS_LOGGER_LOG_EVENT=true (dev only)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.clear_metrics()  # a previous invocation's dimensions linger when metrics are disabled (local)
    try:
        request = AuditEvent.model_validate(event or {})
    except ValidationError as error:
        raise ConfigurationError(f"price audit event: {error.errors(include_url=False)}") from None
    audit = auditor()
    run = audit.run(
        sample=request.sample or audit.services.settings.price_audit_sample,
        trigger=Trigger.SCHEDULE if request.scheduled_time else Trigger.MANUAL,
        seed=request.seed,
        scheduled_time=request.scheduled_time,
        shop=request.shop,
    )
    if run.report is None:
        logger.info("price audit skipped: this schedule slot ran already", extra={"run_id": run.run_id})
        return {"run_id": run.run_id, "skipped": True}
    served = run.report.served
    _publish(run.report)
    logger.info("price audit finished", extra={"run_id": run.run_id, "served": served.as_dict()})
    if run.error is not None:
        failure = ConfigurationError if run.report.sampled == 0 else ErpUnavailableError
        raise failure(f"price audit {run.run_id}: {run.error}")
    return {"run_id": run.run_id, **run.report.as_dict()}


def _publish(report: AuditReport) -> None:
    """The served prices' counts: the total (the alarm's metric), then one set per ERP endpoint.
    Nothing for an endpoint (or a total) BC quoted none of: a 0 % rate would say all is well."""
    if report.nothing_quoted or not report.comparisons:
        return
    for name, value, unit in _figures(report.served):
        metrics.add_metric(name=name, unit=unit, value=value)
    for endpoint in report.endpoints:
        part = report.at(endpoint)
        if part.nothing_quoted:
            continue
        for name, value, unit in _figures(part.served):
            with single_metric(name=name, unit=unit, value=value, namespace=metrics.namespace) as metric:
                metric.add_dimension(name="service", value=metrics.service or "erpbridge")
                metric.add_dimension(name="endpoint", value=endpoint)


def _figures(served: Tally) -> list[tuple[str, float, MetricUnit]]:
    return [
        ("PriceAuditMismatchRate", served.rate, MetricUnit.Percent),
        ("PriceAuditMismatches", served.mismatches, MetricUnit.Count),
        ("PriceAuditComparisons", served.matches + served.mismatches, MetricUnit.Count),
    ]
