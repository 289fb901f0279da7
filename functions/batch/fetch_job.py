"""Fetch Lambda: run one batch job now (EventBridge Scheduler, console test event, CLI).

Event (the Scheduler's ``Input``; see ``events/fetch-shop-data.json``)::

    {"job": "fetch-shop-data", "scheduled_time": "<aws.scheduler.scheduled-time>",
     "parameters": {"shopID": "SHOP1"}}

``scheduled_time`` makes the run id (a duplicate delivery of one schedule slot runs once); without
it (console, CLI) the run is manual. A failed fetch is recorded, then raised, so the function's
retry policy and dead-letter queue see it.
"""

from __future__ import annotations

from typing import Any

import workflow_steps
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from fetch_event import FetchEvent
from pydantic import ValidationError

from erpbridge.batch.fetch import FetchResult
from erpbridge.batch.models import Trigger
from erpbridge.errors import ConfigurationError
from erpbridge.wiring.batch import batch_runtime

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context  # logs the event where POWERTOOLS_LOGGER_LOG_EVENT=true (dev only)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, object]:
    metrics.clear_metrics()  # a previous invocation's dimensions linger when metrics are disabled (local)
    if workflow_steps.is_step(event):  # a state of the long-run workflow (template LongRunWorkflow)
        return workflow_steps.run_step(event, workflow_steps.FETCH_STEPS)
    try:
        request = FetchEvent.model_validate(event)
    except ValidationError as error:
        raise ConfigurationError(f"fetch event: {error.errors(include_url=False)}") from None
    trigger = request.trigger or (Trigger.SCHEDULE if request.scheduled_time else Trigger.MANUAL)
    logger.append_keys(job=request.job)
    outcome = batch_runtime().fetch(
        request.job,
        trigger,
        scheduled_time=request.scheduled_time,
        parameters=request.parameters,
        run_id=request.run_id,
        requested_by=request.requested_by,
    )
    metrics.add_dimension(name="job", value=request.job)
    if outcome.result is FetchResult.FETCHED:
        metrics.add_metric(name="PagesFetched", unit=MetricUnit.Count, value=outcome.pages)
        metrics.add_metric(name="BytesFetched", unit=MetricUnit.Bytes, value=outcome.bytes)
    else:
        metrics.add_metric(name="FetchesSkipped", unit=MetricUnit.Count, value=1)
    return outcome.as_dict()
