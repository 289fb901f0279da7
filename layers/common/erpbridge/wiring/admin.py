"""The admin API's composition root: the console's use cases over the batch runtime and the live
services of these settings (local files and SQLite, or S3/DynamoDB/Lambda in AWS).

Each AWS-only port has two adapters, picked here from the admin settings: Run now (a thread
here, or the fetch function / the long-run workflow), the ERP latency of the last hour (this
process's measurements, or CloudWatch), the jobs' enabled (the job file, or the Scheduler
schedule's State)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from erpbridge.admin.ports import (
    JobLauncher,
    LatencyLog,
    LatencySummary,
    RunNow,
    ScheduleStates,
    summarise,
)
from erpbridge.admin.service import AdminService, MappingView
from erpbridge.batch.models import Trigger
from erpbridge.live.ports import Metric
from erpbridge.settings import AdminSettings
from erpbridge.wiring.batch import BatchRuntime, runtime_from_settings

log = logging.getLogger("erpbridge.admin")


class MemoryLatencyLog:
    """ERP latencies this process measured (the live services' ``ErpLatency`` metric), one hour."""

    def __init__(self, forward: Any = None, keep: int = 5000) -> None:
        self._values: deque[tuple[float, float]] = deque(maxlen=keep)
        self._forward = forward
        self._lock = threading.Lock()

    def emit(self, metric: Metric) -> None:
        if metric.name == "ErpLatency":
            with self._lock:
                self._values.append((time.time(), metric.value))
        if self._forward is not None:
            self._forward.emit(metric)

    def recent(self, *, since: datetime) -> list[float]:
        cutoff = since.timestamp()
        with self._lock:
            return [value for at, value in self._values if at >= cutoff]

    def summary(self, *, since: datetime) -> LatencySummary:
        return summarise(self.recent(since=since))


class LocalLauncher:
    """Run now on this machine: fetch, then import every staged page, in a thread of its own."""

    def __init__(self, runtime: BatchRuntime) -> None:
        self._runtime = runtime

    def launch(self, run_now: RunNow) -> None:
        job, run_id = run_now.job, run_now.run_id

        def run() -> None:
            try:
                outcome = self._runtime.fetch(
                    job,
                    Trigger.MANUAL,
                    parameters=run_now.parameters,
                    run_id=run_id,
                    requested_by=run_now.requested_by,
                )
                store = self._runtime.store()
                for key in outcome.keys:
                    info = store.head(key)
                    self._runtime.import_object(store.bucket, key, etag=info.etag if info else None)
            except Exception:
                log.exception("run %s of %s failed", run_id, job)

        threading.Thread(target=run, name=f"run-{run_id}", daemon=True).start()

    def launch_import(self, bucket: str, key: str, requested_by: str) -> None:
        def run() -> None:
            try:
                self._runtime.import_object(bucket, key)
            except Exception:
                log.exception("redrive of %s failed", key)

        threading.Thread(target=run, name=f"redrive-{key}", daemon=True).start()


def _aws_or_local(
    runtime: BatchRuntime, admin: AdminSettings
) -> tuple[JobLauncher, LatencyLog | None, ScheduleStates]:
    """The launcher, the latency log (None: this process's) and the schedule states."""
    function = os.environ.get("ERPBRIDGE_FETCH_FUNCTION")
    launcher: JobLauncher = LocalLauncher(runtime)
    if function:
        from erpbridge.adapters.aws.job_launcher import AwsJobLauncher

        launcher = AwsJobLauncher(function, admin.admin_workflow_arn)
    latency: LatencyLog | None = None
    if admin.admin_latency_namespace:
        from erpbridge.adapters.aws.cloudwatch_latency import CloudWatchLatencyLog

        latency = CloudWatchLatencyLog(admin.admin_latency_namespace, admin.admin_latency_service)
    schedules: ScheduleStates
    if admin.admin_schedule_prefix:
        from erpbridge.adapters.aws.scheduler_states import SchedulerStates

        schedules = SchedulerStates(admin.admin_schedule_prefix, admin.admin_schedule_group)
    else:
        from erpbridge.adapters.local.job_file_schedules import JobFileSchedules

        schedules = JobFileSchedules()
    return launcher, latency, schedules


def build_admin(live_services: Any | None = None, latency: MemoryLatencyLog | None = None) -> AdminService:
    """The console's use cases. Given ``live_services``, pass the ``latency`` log they were built
    with as their metrics sink (else the health page measures nothing); without, both are built."""
    from erpbridge.adapters.sql.admin_orders import SqlOrderListing
    from erpbridge.admin.mappings import mapping_view
    from erpbridge.batch.jobs import list_batch_jobs
    from erpbridge.mapping.jobfile import load_job
    from erpbridge.settings import get_settings
    from erpbridge.shopdb.introspect import read_schema
    from erpbridge.wiring.live import LiveServices

    settings = get_settings()
    mappings = os.environ.get("ERPBRIDGE_MAPPINGS_DIR")
    mappings_dir = Path(mappings) if mappings else None
    runtime = runtime_from_settings(settings, mappings_dir=mappings_dir)
    measured = latency or MemoryLatencyLog()
    services = live_services or LiveServices(settings, metrics=measured, migrate=True)
    launcher, published, schedules = _aws_or_local(runtime, settings)

    def check(job_id: str, sample: bytes | None) -> MappingView:
        return mapping_view(load_job(job_id, mappings_dir), read_schema(services.engine), sample)

    from erpbridge.adapters.sql.orders import SqlOrderStore

    return AdminService(
        jobs=lambda: list_batch_jobs(mappings_dir),
        runs=runtime.runs,
        store=runtime.store,
        launcher=launcher,
        mapping_check=check,
        orders=services.orders,
        order_store=SqlOrderStore(services.engine),
        listing=SqlOrderListing(services.engine),
        xml_store=services.xml_store,
        health=services.health,
        latency=published or measured,
        schedules=schedules,
        now=lambda: datetime.now(UTC),
    )
