"""The console's use cases: what an operator sees and does, over the existing ports.

Every action names its operator: an order's re-send adds an ``operator`` entry to the order's
timeline (who, when) before the re-send's own entries; a Run now records who asked in the run
(its ``requested_by``); a redrive of a failed file adds a ``redrive`` action (who, when, which
file) to its run's ``actions``; switching a schedule on or off is logged with who did it (and in
AWS noted in the schedule's description). Re-sends go through ``OrderService.resend``, so an order
whose last send may have reached the ERP is looked up there before anything is sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from erpbridge.admin.ports import (
    JobLauncher,
    LatencyLog,
    LatencySummary,
    OrderListing,
    OrderSummary,
    RunNow,
    ScheduleStates,
)
from erpbridge.admin.schedule import next_run
from erpbridge.batch.jobs import BatchJob
from erpbridge.batch.models import (
    ARCHIVE_PREFIX,
    FAILED_PREFIX,
    STAGING_PREFIX,
    OperatorAction,
    RunRecord,
    RunStatus,
    new_run_id,
)
from erpbridge.batch.ports import RunRecorder, StagingStore
from erpbridge.live.errors import ConflictError, NotFoundError
from erpbridge.live.health import HealthService
from erpbridge.live.models import Health, OrderDetail, OrderResponse
from erpbridge.live.orders import OrderService
from erpbridge.live.ports import Attempt, AttemptOutcome, OrderState, OrderStore, OrderTrigger, XmlCopyStore

log = logging.getLogger("erpbridge.admin")


@dataclass(frozen=True)
class JobView:
    job: BatchJob
    last_run: RunRecord | None
    next_run: datetime | None
    enabled: bool  # its schedule fires (AWS: the Scheduler schedule's State)


@dataclass(frozen=True)
class RunFile:
    key: str
    size: int
    where: str  # "staging", "archive", "failed"
    report: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class RunDetail:
    record: RunRecord
    files: list[RunFile]

    @property
    def progress(self) -> int:
        """Per cent of fetched pages imported (0 while nothing is fetched)."""
        record = self.record
        if record.status is RunStatus.SUCCEEDED:
            return 100
        if not record.pages:
            return 0
        return min(100, round(100 * (record.files_imported + record.files_failed) / record.pages))


@dataclass(frozen=True)
class ColumnView:
    destination: str
    type_name: str
    source: str
    kind: str  # constant, script, auto, explicit
    label: str
    rules: list[str]
    origin: str = ""  # how the planner mapped it: name, explicit, constant, shop, language


@dataclass(frozen=True)
class TableView:
    source: str
    destination: str
    mode: str
    keys: str
    removal: str
    active: bool
    columns: list[ColumnView]
    problems: list[tuple[str, str]]  # (severity, message)
    auto_map_note: bool = False
    key_columns: list[str] = field(default_factory=list)  # empty: the primary key
    conditions: int = 0
    auto_map: bool = False
    not_mapped: list[str] = field(default_factory=list)  # source columns the sample has, unmapped


@dataclass(frozen=True)
class MappingView:
    job: str
    tables: list[TableView]
    problems: list[tuple[str, str, str]]  # job-wide: (severity, mapping, message)
    sample: str | None


@dataclass(frozen=True)
class HealthView:
    health: Health
    latency: LatencySummary

    @property
    def latency_summary(self) -> dict[str, float | int | str | None]:
        return self.latency.as_dict()

    def as_dict(self) -> dict[str, Any]:
        """The admin API's health answer (``erpbridge health --json``)."""
        return {**self.health.model_dump(mode="json"), "latency_last_hour": self.latency_summary}


@dataclass
class ResendReport:
    results: list[OrderResponse] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def _error_report(store: StagingStore, key: str) -> Mapping[str, Any] | None:
    """The importer's ``<file>.error.json`` beside a failed file (None: it has none)."""
    import json

    report_key = key + ".error.json"
    if store.head(report_key) is None:
        return None
    with store.open_reader(report_key) as stream:
        report: Mapping[str, Any] = json.loads(stream.read())
    return report


class AdminService:
    def __init__(
        self,
        *,
        jobs: Callable[[], list[BatchJob]],
        runs: RunRecorder,
        store: Callable[[], StagingStore],
        launcher: JobLauncher,
        mapping_check: Callable[[str, bytes | None], MappingView],
        orders: OrderService,
        order_store: OrderStore,
        listing: OrderListing,
        xml_store: XmlCopyStore,
        health: HealthService,
        latency: LatencyLog,
        schedules: ScheduleStates,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._jobs = jobs
        self._runs = runs
        self._store = store
        self._launcher = launcher
        self._mapping_check = mapping_check
        self._orders = orders
        self._order_store = order_store
        self._listing = listing
        self._xml = xml_store
        self._health = health
        self._latency = latency
        self._schedules = schedules
        self._now = now

    # --- jobs and runs ----------------------------------------------------------------------

    def jobs(self) -> list[JobView]:
        views = []
        now = self._now()
        for job in self._jobs():
            runs = self._runs.list_runs(job=job.id, limit=1)
            last = runs[0] if runs else None
            upcoming = (
                next_run(
                    job.fetch.schedule,
                    job.fetch.schedule_timezone,
                    after=now,
                    last_run=last.started_at if last else None,
                )
                if job.fetch.schedule
                else None
            )
            enabled = self._schedules.enabled(job.id, has_schedule=bool(job.fetch.schedule))
            views.append(
                JobView(job=job, last_run=last, next_run=upcoming if enabled else None, enabled=enabled)
            )
        return views

    def last_price_audit(self) -> RunRecord | None:
        """The golden-price audit's newest run (job ``price-audit``; it has no job file)."""
        from erpbridge.batch.price_audit import JOB as PRICE_AUDIT

        runs = self._runs.list_runs(job=PRICE_AUDIT, limit=1)
        return runs[0] if runs else None

    def job(self, job_id: str) -> JobView:
        for view in self.jobs():
            if view.job.id == job_id:
                return view
        raise NotFoundError(f"no job {job_id}")

    def run_now(self, job_id: str, parameters: Mapping[str, str], *, operator: str) -> str:
        """Start ``job_id`` now; the run's id (follow it with :meth:`run`)."""
        job = self.job(job_id).job
        job.parameters(parameters)  # unknown parameters: ConfigurationError before anything starts
        run_id = new_run_id(self._now())
        self._launcher.launch(RunNow(job.id, run_id, dict(parameters), operator, job.long_running))
        return run_id

    def set_enabled(self, job_id: str, enabled: bool, *, operator: str) -> JobView:
        """Switch the job's schedule on or off (who did it is logged); the job as it is now."""
        view = self.job(job_id)
        if not view.job.fetch.schedule:
            raise ConflictError(f"job {job_id} has no schedule to switch")
        self._schedules.set_enabled(job_id, enabled, operator=operator)
        log.warning(
            "schedule of %s %s by %s",
            job_id,
            "enabled" if enabled else "disabled",
            operator,
            extra={"job": job_id, "enabled": enabled, "operator": operator},
        )
        return self.job(job_id)

    def runs(self, *, job: str | None = None, status: str | None = None, limit: int = 50) -> list[RunRecord]:
        records = self._runs.list_runs(job=job, limit=limit if status is None else max(limit * 4, 200))
        if status is not None:
            records = [r for r in records if str(r.status) == status]
        return records[:limit]

    def run(self, run_id: str) -> RunDetail:
        record = self._runs.get(run_id)
        if record is None:
            raise NotFoundError(f"no run {run_id}")
        return RunDetail(record=record, files=self._run_files(record))

    def _run_files(self, record: RunRecord) -> list[RunFile]:
        store = self._store()
        files = []
        places = (("staging", STAGING_PREFIX), ("archive", ARCHIVE_PREFIX), ("failed", FAILED_PREFIX))
        for where, prefix in places:
            for info in store.list_objects(f"{prefix}{record.job}/{record.run_id}/"):
                if info.key.endswith(".xml"):
                    report = _error_report(store, info.key) if where == "failed" else None
                    files.append(RunFile(key=info.key, size=info.size, where=where, report=report))
        return files

    def failed_files(self, *, limit: int = 100) -> list[RunFile]:
        store = self._store()
        failed = [info for info in store.list_objects(FAILED_PREFIX) if info.key.endswith(".xml")][:limit]
        return [RunFile(i.key, i.size, "failed", _error_report(store, i.key)) for i in failed]

    def redrive(self, key: str, *, operator: str) -> str:
        """Move a failed file back to staging/ (its import runs again); the staged key."""
        if not key.startswith(FAILED_PREFIX) or not key.endswith(".xml"):
            raise NotFoundError(f"{key} is not a failed file")
        store = self._store()
        if store.head(key) is None:
            raise NotFoundError(f"no failed file {key}")
        staged = STAGING_PREFIX + key[len(FAILED_PREFIX) :]
        store.move(key, staged)
        job, _, rest = key[len(FAILED_PREFIX) :].partition("/")
        run_id = rest.partition("/")[0]
        if job and run_id:
            action = OperatorAction("redrive", operator, self._now(), detail=f"{key} → {staged}")
            self._runs.record_action(job, run_id, action)
        self._launcher.launch_import(store.bucket, staged, operator)
        return staged

    # --- mappings ----------------------------------------------------------------------------

    def mapping(self, job_id: str) -> MappingView:
        self.job(job_id)
        return self._mapping_check(job_id, self._latest_sample(job_id))

    def _latest_sample(self, job_id: str) -> bytes | None:
        """The first page of the job's newest imported run: shows which columns matched by name."""
        store = self._store()
        for record in self._runs.list_runs(job=job_id, limit=5):
            key = f"{ARCHIVE_PREFIX}{job_id}/{record.run_id}/page-0001.xml"
            if store.head(key) is not None:
                with store.open_reader(key) as stream:
                    return stream.read()
        return None

    # --- orders ------------------------------------------------------------------------------

    def orders(
        self, *, state: str | None = None, older_than_s: float | None = None, limit: int = 100
    ) -> list[OrderSummary]:
        states = [OrderState(state)] if state else list(OrderState)
        older_than = self._now() - timedelta(seconds=older_than_s) if older_than_s else None
        return self._listing.list_orders(states=states, older_than=older_than, limit=limit)

    def order(self, order_id: str) -> OrderDetail:
        return self._orders.detail(self._orders.get_order(order_id))

    def order_xml(self, order_id: str, key: str) -> bytes:
        """A request/response XML copy named in the order's timeline (nothing else is served)."""
        detail = self.order(order_id)
        known = {k for e in detail.timeline for k in (e.request_xml, e.response_xml) if k}
        if key not in known:
            raise NotFoundError(f"order {order_id} has no XML {key}")
        return self._xml.get_bytes(key)

    def resend(self, order_id: str, *, operator: str) -> OrderResponse:
        self._orders.get_order(order_id)  # 404 before anything is recorded
        self._order_store.add_attempt(
            order_id,
            Attempt(
                at=self._now(),
                trigger=OrderTrigger.OPERATOR,
                outcome=AttemptOutcome.RESEND_REQUESTED,
                erp_message=f"re-send requested by {operator}",
            ),
        )
        return self._orders.resend(order_id)

    def resend_many(self, order_ids: Sequence[str], *, operator: str) -> ResendReport:
        report = ResendReport()
        for order_id in order_ids:
            try:
                report.results.append(self.resend(order_id, operator=operator))
            except Exception as error:  # one order's trouble must not stop the others
                report.errors[order_id] = f"{type(error).__name__}: {error}"
        return report

    # --- health ------------------------------------------------------------------------------

    def health(self) -> HealthView:
        return HealthView(
            health=self._health.check(),
            latency=self._latency.summary(since=self._now() - timedelta(hours=1)),
        )

    def order_counts(self) -> dict[str, int]:
        counts = self._order_store.counts()
        return {state.value: int(counts.get(state, 0)) for state in OrderState}
