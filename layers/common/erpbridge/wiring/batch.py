"""The batch functions' wiring: settings in, use cases wired to their adapters out.

Fetch and import share one :class:`BatchRuntime`; Export Failed Orders gets the order graph alone
(:func:`order_export`), not the live API's services.

In AWS (``ERPBRIDGE_STAGING_BUCKET`` + the three table names set) the adapters are S3 and DynamoDB;
without them everything runs locally: a folder for the bucket and one SQLite file for runs, locks
and claims, both under ``ERPBRIDGE_STATE_DIR`` (default ``.erpbridge/``). The handlers, the CLI
and ``make run`` all go through here, so they run the same code.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from erpbridge.batch.fetch import FetchOutcome, begin_run, run_fetch, stage_page
from erpbridge.batch.finalise import FinaliseOutcome, FinaliseResult, finalise_run
from erpbridge.batch.importer import ImportOutcome, ImportResult, import_staged_object
from erpbridge.batch.jobs import BatchJob, load_batch_job
from erpbridge.batch.lease import DEFAULT_LOCK_TTL_S, HeldLock, Leases
from erpbridge.batch.models import FetchStatus, Trigger
from erpbridge.batch.ports import (
    BatchTransport,
    ImportClaims,
    JobLock,
    RunRecorder,
    StagedFileImporter,
    StagingStore,
)
from erpbridge.batch.workflow import LockLostError, WorkflowRun
from erpbridge.errors import ConfigurationError, ProtocolError
from erpbridge.settings import ErpSettings, Settings, get_settings
from erpbridge.wiring.orders import OrderServices

if TYPE_CHECKING:
    from erpbridge.live.ports import MetricsSink

LOCAL_BUCKET = "local-staging"


@dataclass
class BatchRuntime:
    settings: Settings
    staging_bucket: str
    runs: RunRecorder
    locks: JobLock
    claims: ImportClaims
    store_for: Callable[[str], StagingStore]
    mappings_dir: Path | None = None
    in_aws: bool = False
    lock_ttl_s: int = DEFAULT_LOCK_TTL_S  # a run's lease on its job lock (erpbridge.batch.lease)
    heartbeat_s: float | None = None  # how often a long step renews it (default: lock_ttl_s / 3)
    _importer: StagedFileImporter | None = None

    @property
    def leases(self) -> Leases:
        return Leases(self.locks, ttl_s=self.lock_ttl_s, heartbeat_s=self.heartbeat_s)

    def store(self, bucket: str | None = None) -> StagingStore:
        return self.store_for(bucket or self.staging_bucket)

    def job(self, job_id: str) -> BatchJob:
        return load_batch_job(job_id, self.mappings_dir)

    def transport(self, job: BatchJob, parameters: Mapping[str, str] | None = None) -> BatchTransport:
        """The ERP client of the run: its shop's endpoint (the import's shop scope with the run's
        parameters; docs/erp-endpoints.md), with the job's own ``erp`` override on top."""
        from erpbridge.erp.client import SoapErpClient
        from erpbridge.erp.endpoints import EndpointMap
        from erpbridge.settings import credential_reloader, endpoint_erp_settings
        from erpbridge.wiring.erp_limits import limiter_store_for

        definition = job.definition
        shop = definition.import_for(job.parameters(parameters)).shop if definition.import_ else None
        endpoint = EndpointMap.from_settings(self.settings).for_shop(shop)

        def of(settings: Settings) -> ErpSettings:
            if endpoint.is_default:
                return job.erp_settings(settings)
            entry = settings.erp_endpoints[endpoint.name]
            return job.erp_settings(endpoint_erp_settings(settings, endpoint.name, entry))

        reload = credential_reloader(self.settings)
        settings = of(self.settings)
        return SoapErpClient(
            settings,
            reload=None if reload is None else lambda: of(reload()),
            limiter_store=limiter_store_for(settings),
        )

    def importer(self) -> StagedFileImporter:
        if self._importer is None:
            from erpbridge.adapters.sql.shop_importer import ShopDbImporter

            self._importer = ShopDbImporter(
                self.settings.database_url,
                mappings_dir=self.mappings_dir,
                statement_timeout_s=self.settings.import_statement_timeout_s,
                live_figures_changed=live_cache_invalidation(self.settings),
            )
        return self._importer

    def fetch(
        self,
        job_id: str,
        trigger: Trigger,
        *,
        scheduled_time: datetime | None = None,
        parameters: Mapping[str, str] | None = None,
        run_id: str | None = None,
        requested_by: str | None = None,
    ) -> FetchOutcome:
        job = self.job(job_id)
        return run_fetch(
            job.id,
            job.request_xml(parameters),
            trigger,
            transport=self.transport(job, parameters),
            store=self.store(),
            runs=self.runs,
            lock=self.locks,
            scheduled_time=scheduled_time,
            run_id=run_id,
            parameters=job.parameters(parameters),
            variant=job.variant(parameters),
            max_pages=job.fetch.max_pages,
            requested_by=requested_by,
            lock_ttl_s=self.lock_ttl_s,
            heartbeat_s=self.heartbeat_s,
        )

    def import_object(
        self, bucket: str, key: str, *, etag: str | None = None, finalise: bool = True
    ) -> ImportOutcome:
        """Import one staged object; the import that completes a paged run finalises it, and the
        import that ends the run releases its job lock (``finalise=False``: the caller — the Step
        Functions workflow — runs both steps itself)."""
        outcome = import_staged_object(
            bucket,
            key,
            etag=etag,
            store=self.store(bucket),
            runs=self.runs,
            claims=self.claims,
            importer=self.importer(),
            leases=self.leases,
        )
        done = (ImportResult.IMPORTED, ImportResult.FAILED)
        if not finalise or outcome.result not in done or not outcome.job or not outcome.run_id:
            return outcome
        record = self.runs.get(outcome.run_id, job=outcome.job)
        complete = outcome.result is ImportResult.IMPORTED and record is not None
        if complete and record is not None and record.finalise_blocked() is None:
            if self.finalise(outcome.job, outcome.run_id).result is not FinaliseResult.NOT_READY:
                self.leases.release(HeldLock.of(record))  # finalised, or refused for good: run over
        else:
            self.leases.release_if_over(record)
        return outcome

    def finalise(self, job: str, run_id: str) -> FinaliseOutcome:
        definition = self.job(job).definition

        def scope_of(parameters: Mapping[str, str]) -> object:
            scoped = definition.import_for(parameters)
            return scoped.shop, scoped.language

        return finalise_run(
            job,
            run_id,
            store=self.store(),
            runs=self.runs,
            importer=self.importer(),
            scope_of=scope_of,
            leases=self.leases,
        )

    # -- the long-run workflow's steps (erpbridge.batch.workflow; Step Functions in AWS) ----------

    def start_run(
        self,
        job: str,
        trigger: Trigger,
        *,
        parameters: Mapping[str, str] | None = None,
        scheduled_time: datetime | None = None,
        run_id: str | None = None,
        requested_by: str | None = None,
    ) -> WorkflowRun | FetchOutcome:
        batch_job = self.job(job)
        merged = batch_job.parameters(parameters)
        started = begin_run(
            batch_job.id,
            trigger,
            store=self.store(),
            runs=self.runs,
            lock=self.locks,
            scheduled_time=scheduled_time,
            run_id=run_id,
            parameters=merged,
            variant=batch_job.variant(parameters),
            requested_by=requested_by,
            lock_ttl_s=self.lock_ttl_s,
        )
        if started.skipped is not None:
            return started.skipped
        return WorkflowRun(batch_job.id, started.run_id, started.lock_name, started.owner, merged)

    def fetch_page(self, run: WorkflowRun) -> WorkflowRun:
        """Stage the run's next page (renewing the job's lock meanwhile), checkpoint the run record."""
        job = self.job(run.job)
        if run.pages >= job.fetch.max_pages:
            raise ProtocolError(
                f"the ERP still reports ExportIsDone=false after {job.fetch.max_pages} pages; stopping"
            )
        with self.leases.heartbeat(HeldLock(run.lock_name, run.owner)) as kept:
            if not kept:
                raise LockLostError(f"run {run.run_id}: another run of job {run.job} holds its lock now")
            key, page = stage_page(
                run.job,
                run.run_id,
                run.pages + 1,
                job.request_xml(run.parameters),
                self.transport(job, run.parameters),
                self.store(),
            )
        run = run.add_page(key, page.bytes_written, done=page.export_is_done is not False)
        self.runs.finish_fetch(
            run.job,
            run.run_id,
            status=FetchStatus.FETCHED if run.done else FetchStatus.RUNNING,
            ended_at=datetime.now(UTC),
            pages=run.pages,
            bytes_=run.bytes,
            error=None,
        )
        return run

    def import_page(self, key: str) -> ImportOutcome:
        info = self.store().head(key)
        return self.import_object(self.staging_bucket, key, etag=info.etag if info else None, finalise=False)

    def finalise_step(self, run: WorkflowRun) -> FinaliseOutcome:
        return self.finalise(run.job, run.run_id)

    def end_run(self, run: WorkflowRun) -> None:
        self.leases.release(HeldLock(run.lock_name, run.owner))

    def fail_run(self, run: WorkflowRun, error: str) -> None:
        """The workflow's Catch: a fetch still going is recorded failed; the lock is released."""
        record = self.runs.get(run.run_id, job=run.job)
        if record is not None and record.fetch_status is FetchStatus.RUNNING:
            self.runs.finish_fetch(
                run.job,
                run.run_id,
                status=FetchStatus.FAILED,
                ended_at=datetime.now(UTC),
                pages=run.pages,
                bytes_=run.bytes,
                error=error,
            )
        self.leases.release(HeldLock(run.lock_name, run.owner))


def runtime_from_settings(settings: Settings, *, mappings_dir: Path | None = None) -> BatchRuntime:
    aws_names = {
        "ERPBRIDGE_STAGING_BUCKET": settings.staging_bucket,
        "ERPBRIDGE_RUNS_TABLE": settings.runs_table,
        "ERPBRIDGE_LOCKS_TABLE": settings.locks_table,
        "ERPBRIDGE_IDEMPOTENCY_TABLE": settings.idempotency_table,
    }
    given = {name for name, value in aws_names.items() if value}
    if given and given != set(aws_names):
        missing = ", ".join(sorted(set(aws_names) - given))
        raise ConfigurationError(f"batch jobs on AWS need {missing} too (or none of them, to run locally)")
    if given:
        return _aws_runtime(settings, mappings_dir)
    return _local_runtime(settings, mappings_dir)


def _aws_runtime(settings: Settings, mappings_dir: Path | None) -> BatchRuntime:
    import boto3

    from erpbridge.adapters.aws.dynamodb_import_claims import DynamoDbImportClaims
    from erpbridge.adapters.aws.dynamodb_job_lock import DynamoDbJobLock
    from erpbridge.adapters.aws.dynamodb_runs import DynamoDbRunRecorder
    from erpbridge.adapters.aws.s3_staging import S3StagingStore

    s3 = boto3.client("s3")
    dynamodb = boto3.client("dynamodb")
    assert settings.staging_bucket and settings.runs_table and settings.locks_table  # checked above
    assert settings.idempotency_table
    return BatchRuntime(
        settings=settings,
        staging_bucket=settings.staging_bucket,
        runs=DynamoDbRunRecorder(settings.runs_table, client=dynamodb),
        locks=DynamoDbJobLock(settings.locks_table, client=dynamodb),
        claims=DynamoDbImportClaims(settings.idempotency_table, client=dynamodb),
        store_for=lambda bucket: S3StagingStore(bucket, client=s3),
        mappings_dir=mappings_dir,
        in_aws=True,
    )


def _local_runtime(settings: Settings, mappings_dir: Path | None) -> BatchRuntime:
    from erpbridge.adapters.local.sqlite_batch_state import LocalBatchState
    from erpbridge.adapters.local.staging import FolderStagingStore

    state_dir = Path(settings.state_dir)
    state = LocalBatchState.open(state_dir)
    return BatchRuntime(
        settings=settings,
        staging_bucket=LOCAL_BUCKET,
        runs=state.runs,
        locks=state.locks,
        claims=state.claims,
        store_for=lambda bucket: FolderStagingStore(state_dir / "objects", bucket),
        mappings_dir=mappings_dir,
    )


def live_cache_invalidation(settings: Settings) -> Callable[[], None] | None:
    """What an import that changed prices or stock calls: the live API's shared cache
    (``ERPBRIDGE_CACHE_TABLE``) gets its namespace stamp, so every container asks the ERP again.
    Without a shared cache there is nothing to reach: the local server's cache lives in its own
    memory (and expires with its TTL)."""
    if not settings.cache_table:
        return None
    from erpbridge.adapters.aws.dynamodb_cache import DynamoDbCacheStore
    from erpbridge.adapters.local.memory_cache import MemoryCacheStore
    from erpbridge.live.cache import TieredCache

    cache = TieredCache(
        local=MemoryCacheStore(max_entries=16),
        shared=DynamoDbCacheStore(settings.cache_table),
        local_ttl_s=settings.local_cache_ttl_s,
    )
    # The stamp outlives every entry it makes stale, fallback window included (as an order's).
    ttl_s = settings.price_cache_ttl_s + settings.stale_fallback_s
    return functools.partial(cache.invalidate_namespace, "", ttl_s=ttl_s)


@functools.cache
def batch_runtime() -> BatchRuntime:
    """The runtime of this execution environment, built on first use (importing a handler builds
    no clients and reads no settings); ``cache_clear()`` rebuilds it from changed settings."""
    mappings = os.environ.get("ERPBRIDGE_MAPPINGS_DIR")
    return runtime_from_settings(get_settings(), mappings_dir=Path(mappings) if mappings else None)


def order_export(metrics: MetricsSink | None = None) -> OrderServices:
    """Export Failed Orders' graph from the process settings: the order use case with the ERP
    client, the shop database, the cache and the XML copies, and nothing of the storefront API."""
    return OrderServices(get_settings(), metrics=metrics)
