"""Importer Lambda: one staged object → the shop database (S3 → EventBridge "Object Created").

The event names the bucket, the key and the object's ETag (see ``events/s3-object-created.json``).
Duplicate deliveries import once; bad files move to ``failed/`` with a report (not raised: a
retry cannot fix them); anything else is raised so EventBridge retries and then dead-letters it.
"""

from __future__ import annotations

from typing import Any

import workflow_steps
from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from erpbridge.batch.importer import ImportResult
from erpbridge.wiring.batch import batch_runtime

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context  # logs the event where POWERTOOLS_LOGGER_LOG_EVENT=true (dev only)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, object]:
    metrics.clear_metrics()  # a previous invocation's dimensions linger when metrics are disabled (local)
    if workflow_steps.is_step(event):  # a state of the long-run workflow (template LongRunWorkflow)
        return workflow_steps.run_step(event, workflow_steps.IMPORT_STEPS)
    detail = S3EventBridgeNotificationEvent(event).detail
    bucket, key, etag = detail.bucket.name, detail.object.key, detail.object.etag
    logger.append_keys(bucket=bucket, key=key)
    outcome = batch_runtime().import_object(bucket, key, etag=etag)
    if outcome.job:
        metrics.add_dimension(name="job", value=outcome.job)
    if outcome.result is ImportResult.IMPORTED:
        counts = outcome.counts
        metrics.add_metric(name="FilesImported", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="RowsInserted", unit=MetricUnit.Count, value=counts.inserted)
        metrics.add_metric(name="RowsUpdated", unit=MetricUnit.Count, value=counts.updated)
        metrics.add_metric(name="RowsDeleted", unit=MetricUnit.Count, value=counts.deleted)
        metrics.add_metric(name="RowsSkipped", unit=MetricUnit.Count, value=counts.skipped)
        metrics.add_metric(name="RowsFailed", unit=MetricUnit.Count, value=counts.failed)  # skip_row
    elif outcome.result is ImportResult.FAILED:
        # Without the job dimension, so one alarm (template: ImportFilesFailedAlarm) covers every job.
        with single_metric(name="FilesFailed", unit=MetricUnit.Count, value=1) as metric:
            metric.add_dimension(name="service", value=metrics.service or "erpbridge")
        metrics.add_metric(name="FilesFailed", unit=MetricUnit.Count, value=1)  # and per job
    else:
        metrics.add_metric(name="EventsSkipped", unit=MetricUnit.Count, value=1)
    return outcome.as_dict()
