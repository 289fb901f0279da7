"""Use case: fetch one job's data from the ERP into the staging area.

One run sends the job's request, streams every response page into its own staged object
(``staging/<job>/<run-id>/page-0001.xml``, ...) and follows ``ExportIsDone="false"`` until the ERP
says it is done. Memory does not grow with the response: the transport hands over chunks and the
object store uploads them as they come (S3 multipart).

A lock with expiry keeps two runs of the same job apart (the scheduler may deliver twice, an
operator may press "run now" during a scheduled run); a scheduled run's id comes from its
schedule slot, so a duplicate delivery that arrives after the run ended is recognised too. Each
invocation holds the lock under its own owner token (run id + a random suffix), so a duplicate
delivery that arrives while the run is still going finds the lock taken and can never release it.
The lock covers the whole run, not only the fetch (:mod:`erpbridge.batch.lease`): a fetch that
staged its pages leaves it held for their imports, which renew it and release it once the run is
over; a fetch that failed releases it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from erpbridge.batch.lease import DEFAULT_LOCK_TTL_S, HeldLock, Leases
from erpbridge.batch.models import (
    STAGING_PREFIX,
    FetchStatus,
    RunRecord,
    Trigger,
    new_run_id,
    page_key,
    utcnow,
    validate_job_id,
)
from erpbridge.batch.ports import BatchTransport, JobLock, RunRecorder, StagingStore, StreamedPage
from erpbridge.errors import ProtocolError

logger = logging.getLogger(__name__)

DEFAULT_MAX_PAGES = 10_000
_OWNER_SEPARATOR = "#"  # never part of a run id


class FetchResult(StrEnum):
    FETCHED = "fetched"
    LOCKED = "locked"  # another run of the job holds the lock: this one did nothing
    DUPLICATE = "duplicate"  # this schedule slot already ran: nothing done


@dataclass(frozen=True)
class FetchOutcome:
    job: str
    run_id: str
    result: FetchResult
    pages: int = 0
    bytes: int = 0
    keys: list[str] = field(default_factory=list)
    reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "job": self.job,
            "run_id": self.run_id,
            "result": str(self.result),
            "pages": self.pages,
            "bytes": self.bytes,
            "keys": list(self.keys),
            "reason": self.reason,
        }


def run_fetch(
    job: str,
    request_xml: bytes,
    trigger: Trigger,
    *,
    transport: BatchTransport,
    store: StagingStore,
    runs: RunRecorder,
    lock: JobLock,
    scheduled_time: datetime | None = None,
    run_id: str | None = None,
    parameters: Mapping[str, str] | None = None,
    variant: str = "",
    clock: Callable[[], datetime] = utcnow,
    lock_ttl_s: int = DEFAULT_LOCK_TTL_S,
    max_pages: int = DEFAULT_MAX_PAGES,
    requested_by: str | None = None,
    heartbeat_s: float | None = None,
) -> FetchOutcome:
    """Fetch ``job`` now. Raises the transport's typed error after recording the run as failed.
    ``parameters`` (the request's, defaults included) are recorded with the run: its imports
    take their scope (``shopID``, ``language``) from them. ``variant`` names runs with other than
    the default parameters (one shop of several): they lock and identify their slot apart.
    The job's lock stays held when the pages are staged (their imports release it) and is
    released when the fetch fails; ``heartbeat_s``: how often it is renewed meanwhile (default
    ``lock_ttl_s / 3``)."""
    started = begin_run(
        job,
        trigger,
        store=store,
        runs=runs,
        lock=lock,
        scheduled_time=scheduled_time,
        run_id=run_id,
        parameters=parameters,
        variant=variant,
        clock=clock,
        lock_ttl_s=lock_ttl_s,
        requested_by=requested_by,
    )
    if started.skipped is not None:
        return started.skipped
    leases = Leases(lock, ttl_s=lock_ttl_s, heartbeat_s=heartbeat_s, clock=clock)
    held = HeldLock(started.lock_name, started.owner)
    try:
        with leases.heartbeat(held):
            fetched = _fetch_pages(job, started.run_id, request_xml, transport, store, runs, clock, max_pages)
    except BaseException:
        leases.release(held)
        raise
    # Not released: the pages' imports renew the lease (renewed at most ttl/3 ago) and release it.
    return fetched


@dataclass(frozen=True)
class RunStart:
    """A run begun: its id and the lock it holds (``owner``), or why nothing was begun."""

    job: str
    run_id: str
    lock_name: str
    owner: str
    skipped: FetchOutcome | None = None


def begin_run(
    job: str,
    trigger: Trigger,
    *,
    store: StagingStore,
    runs: RunRecorder,
    lock: JobLock,
    scheduled_time: datetime | None = None,
    run_id: str | None = None,
    parameters: Mapping[str, str] | None = None,
    variant: str = "",
    clock: Callable[[], datetime] = utcnow,
    lock_ttl_s: int = DEFAULT_LOCK_TTL_S,
    requested_by: str | None = None,
) -> RunStart:
    """Take the job's lock and record the run (see :func:`run_fetch`). The lock stays held by
    ``owner`` until the caller releases it; a skipped start (``LOCKED``/``DUPLICATE``) holds none."""
    validate_job_id(job)
    started = clock()
    run_id = run_id or new_run_id(started, scheduled_time=scheduled_time, variant=variant)
    lock_name = f"{job}@{variant}" if variant else job

    # Not the bare run id: a duplicate delivery of the same slot carries the same run id, and the
    # adapters let an owner re-take (and release) its own lock.
    owner = f"{run_id}{_OWNER_SEPARATOR}{uuid.uuid4().hex[:12]}"
    holder = lock.acquire(lock_name, owner, now=started, ttl_s=lock_ttl_s)
    if holder is not None:
        holder_run = holder.owner.partition(_OWNER_SEPARATOR)[0]
        if holder_run == run_id:  # this very run, begun by an earlier delivery, is still going
            reason = f"run {run_id} of {job} is under way (duplicate delivery of its schedule slot)"
            logger.warning(reason)
            skipped = FetchOutcome(job, run_id, FetchResult.DUPLICATE, reason=reason)
            return RunStart(job, run_id, lock_name, owner, skipped)
        other = runs.get(holder_run, job=job)
        state = ""
        if other is not None:
            state = f": {other.status}, {len(other.pages_imported)} of {other.pages} page(s) imported"
        reason = (
            f"job {job} is already running (run {holder_run}{state};"
            f" lock expires {holder.expires_at:%H:%M:%S}Z unless that run renews it)"
        )
        logger.warning(reason)
        return RunStart(
            job, run_id, lock_name, owner, FetchOutcome(job, run_id, FetchResult.LOCKED, reason=reason)
        )
    try:
        record = RunRecord(
            job=job,
            run_id=run_id,
            trigger=trigger,
            started_at=started,
            parameters=dict(parameters or {}),
            requested_by=requested_by,
            lock_name=lock_name,
            lock_owner=owner,
        )
        if not runs.create(record, stale_before=started - timedelta(seconds=lock_ttl_s)):
            reason = f"run {run_id} of {job} already exists (duplicate delivery of its schedule slot)"
            logger.warning(reason)
            lock.release(lock_name, owner)
            skipped = FetchOutcome(job, run_id, FetchResult.DUPLICATE, reason=reason)
            return RunStart(job, run_id, lock_name, owner, skipped)
        # Holding the lock, no live run writes under this job's prefix: what is half-uploaded there
        # was left by a run that was killed (its lock expired), so it goes now.
        discarded = store.discard_incomplete(f"{STAGING_PREFIX}{job}/")
        if discarded:
            logger.warning("discarded %d unfinished upload(s) of a killed run of %s", discarded, job)
    except BaseException:
        lock.release(lock_name, owner)
        raise
    return RunStart(job, run_id, lock_name, owner)


def stage_page(
    job: str, run_id: str, number: int, request_xml: bytes, transport: BatchTransport, store: StagingStore
) -> tuple[str, StreamedPage]:
    """Send the request once and stream the answer into page ``number`` of the run. The ERP keeps
    the paging checkpoint: the same request returns the next page."""
    key = page_key(job, run_id, number)
    with store.open_writer(key) as writer:
        page = transport.stream(request_xml, writer.write)
    logger.info("staged %s (%d bytes)", key, page.bytes_written)
    return key, page


def _fetch_pages(
    job: str,
    run_id: str,
    request_xml: bytes,
    transport: BatchTransport,
    store: StagingStore,
    runs: RunRecorder,
    clock: Callable[[], datetime],
    max_pages: int,
) -> FetchOutcome:
    keys: list[str] = []
    total_bytes = 0
    try:
        while True:
            if len(keys) >= max_pages:
                raise ProtocolError(
                    f"the ERP still reports ExportIsDone=false after {max_pages} pages; stopping"
                )
            key, page = stage_page(job, run_id, len(keys) + 1, request_xml, transport, store)
            keys.append(key)
            total_bytes += page.bytes_written
            if page.export_is_done is not False:
                break
    except Exception as error:  # recorded, then re-raised for the caller's retry policy
        runs.finish_fetch(
            job,
            run_id,
            status=FetchStatus.FAILED,
            ended_at=clock(),
            pages=len(keys),
            bytes_=total_bytes,
            error=f"{type(error).__name__}: {error}",
        )
        raise
    runs.finish_fetch(
        job,
        run_id,
        status=FetchStatus.FETCHED,
        ended_at=clock(),
        pages=len(keys),
        bytes_=total_bytes,
        error=None,
    )
    return FetchOutcome(job, run_id, FetchResult.FETCHED, pages=len(keys), bytes=total_bytes, keys=keys)
