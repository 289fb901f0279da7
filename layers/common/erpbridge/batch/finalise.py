"""Use case: finalise a paged run — remove/deactivate-missing once over the keys of all its pages.

A paged export (``ExportIsDone="false"`` on every page but the last) is imported page by page, and
no page may remove anything: each holds only part of the catalogue. Once the run's last page (the
one saying ``ExportIsDone="true"``) and every page before it are imported, the finalise step reads
the keys of all the run's archived pages (keys only: nothing is merged again) and runs the
mapping's removal once, set-based, with the guards of a whole file (never on an empty run, never
below ``min_share_for_removal``, refused when more than ``max_skipped_share`` of the rows were
left out because of errors).

It never runs while a page failed, is missing, or is not yet imported, nor once a newer run of the
job (same parameters) imported (its keys would undo the newer data), and it runs once: the run
record keeps its counts (``finalised``), and a second call finds them and does nothing. Called
after every page import (the S3-triggered path: the import that completes the run finalises it),
by the Step Functions workflow's Finalise state, and by the local workflow runner. The run's job
lock is renewed while it runs (``leases``: :mod:`erpbridge.batch.lease`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import partial

from erpbridge.batch.lease import Leases, run_heartbeat
from erpbridge.batch.models import (
    ARCHIVE_PREFIX,
    FetchStatus,
    FinaliseRecord,
    ImportCounts,
    page_name,
    utcnow,
    validate_job_id,
)
from erpbridge.batch.ports import RunRecorder, StagedFileImporter, StagingStore
from erpbridge.errors import ErpBridgeError

logger = logging.getLogger(__name__)


class FinaliseResult(StrEnum):
    FINALISED = "finalised"
    ALREADY = "already finalised"  # nothing done: the run record has the first finalise's counts
    NOT_READY = "not ready"  # pages not imported yet, or the last page not seen yet: try later
    BLOCKED = "blocked"  # a page failed, the fetch failed, a newer run imported (reason says which)
    NOT_PAGED = "not paged"  # one file: its import removed missing rows itself
    UNKNOWN = "unknown run"


@dataclass(frozen=True)
class FinaliseOutcome:
    job: str
    run_id: str
    result: FinaliseResult
    counts: ImportCounts = field(default_factory=ImportCounts)
    reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "job": self.job,
            "run_id": self.run_id,
            "result": str(self.result),
            "counts": self.counts.as_dict(),
            "reason": self.reason,
        }


def finalise_run(
    job: str,
    run_id: str,
    *,
    store: StagingStore,
    runs: RunRecorder,
    importer: StagedFileImporter,
    scope_of: Callable[[Mapping[str, str]], object] = dict,
    clock: Callable[[], datetime] = utcnow,
    leases: Leases | None = None,
) -> FinaliseOutcome:
    """Finalise ``run_id`` of ``job`` if it is complete; otherwise say why not (nothing written).
    ``scope_of``: what a run's parameters import into (its shop and language; default: the
    parameters themselves) — a newer run with the same scope blocks the finalise. Raises what the
    importer raises for a database that is down or locked (retry later)."""
    validate_job_id(job)
    record = runs.get(run_id, job=job)
    if record is None:
        return FinaliseOutcome(job, run_id, FinaliseResult.UNKNOWN, reason="no such run")
    if record.finalised is not None:
        return FinaliseOutcome(job, run_id, FinaliseResult.ALREADY, record.finalised.counts)
    blocked = record.finalise_blocked()
    if blocked is not None and record.single_page and not record.pages_failed:
        return FinaliseOutcome(job, run_id, FinaliseResult.NOT_PAGED, reason=blocked)
    if blocked is not None:
        waiting = not record.pages_failed and record.fetch_status is not FetchStatus.FAILED
        verdict = FinaliseResult.NOT_READY if waiting else FinaliseResult.BLOCKED
        return FinaliseOutcome(job, run_id, verdict, reason=blocked)
    newer = [
        other.run_id
        for other in runs.list_runs(job=job)
        if other.started_at > record.started_at
        and other.imported_at is not None
        and scope_of(other.parameters) == scope_of(record.parameters)
    ]
    if newer:  # its keys are older than what is in the shop now: removing by them would undo it
        reason = f"a newer run of the job imported since: {newer[0]}"
        return FinaliseOutcome(job, run_id, FinaliseResult.BLOCKED, reason=reason)
    assert record.last_page is not None  # finalise_blocked() checked it
    names = [page_name(n) for n in range(1, record.last_page + 1)]
    prefix = f"{ARCHIVE_PREFIX}{job}/{run_id}/"
    archived = {info.key.removeprefix(prefix) for info in store.list_objects(prefix)}
    missing = [name for name in names if name not in archived]
    if missing:  # imported, but its archived copy is gone: the keys of the run are not all there
        reason = f"archived page(s) missing: {', '.join(missing[:10])}"
        return FinaliseOutcome(job, run_id, FinaliseResult.BLOCKED, reason=reason)
    lease = run_heartbeat(leases, record)
    try:
        with lease:
            pages = [partial(store.open_reader, prefix + name) for name in names]
            result = importer.finalise(job, pages, parameters=record.parameters)
    except ErpBridgeError as error:  # e.g. the job file no longer fits: the run stays unfinalised
        reason = f"{type(error).__name__}: {error}"
        logger.error("finalise of %s %s refused: %s", job, run_id, reason)
        return FinaliseOutcome(job, run_id, FinaliseResult.BLOCKED, reason=reason)
    finalised = FinaliseRecord(at=clock(), counts=result.counts, warnings=result.warnings)
    if not runs.record_finalise(job, run_id, finalised):
        return FinaliseOutcome(job, run_id, FinaliseResult.ALREADY)
    for warning in result.warnings:
        logger.warning("finalise %s %s: %s", job, run_id, warning)
    logger.info("finalised %s %s over %d page(s): %s", job, run_id, len(names), result.counts.as_dict())
    return FinaliseOutcome(job, run_id, FinaliseResult.FINALISED, result.counts)
