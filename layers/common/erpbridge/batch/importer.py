"""Use case: import one staged object into the shop database.

Triggered once per staged object (S3 → EventBridge → Lambda, at least once). The object version
(bucket/key/ETag) is claimed first, so the same event delivered three times imports once. The
file is streamed into the job's mapping in one database transaction. Then:

- success → the object moves to ``archive/…`` and the counts and the import's warnings are added
  to the run record; rows left out because of errors (``on_row_error: skip_row``) are listed in
  ``failed/…/<name>.rows.json`` (and the first of them in the run record);
- bad input (malformed XML, mapping or conversion errors: any ``ErpBridgeError``) → the database
  is untouched, the object moves to ``failed/…`` with ``<name>.error.json`` beside it, and the run
  records the error. Retrying would not help, so this is not raised. The claim is released, not
  kept: a redelivered event finds nothing left in ``staging/`` (``gone``), while a copy an operator
  puts back to redrive it (same content, so the same ETag) is imported again;
- anything else (database down — ``DatabaseUnavailableError`` —, another import of the job still
  running — ``ImportLockedError`` —, crash, timeout) → the claim is released and the error raised,
  the object stays in ``staging/`` and the event's retry policy (then its DLQ) takes over.

The run's parameters (recorded by the fetch: ``shopID``, ``language`` …) are the import's scope,
so a run for SHOP2 imports into SHOP2 only; a file put into staging/ by hand uses the job's
defaults. While the file is imported, the run's job lock is renewed (``leases``:
:mod:`erpbridge.batch.lease`), so no second run of the job starts beside a long import.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from erpbridge.batch.lease import Leases, run_heartbeat
from erpbridge.batch.models import (
    STAGING_PREFIX,
    ImportCounts,
    ImportedFile,
    PageImport,
    StagedObject,
    page_number,
    utcnow,
)
from erpbridge.batch.ports import ImportClaims, RunRecorder, StagedFileImporter, StagingStore
from erpbridge.errors import (
    ConfigurationError,
    DatabaseUnavailableError,
    ErpBridgeError,
    ImportLockedError,
    XmlError,
)

logger = logging.getLogger(__name__)

FIRST_PAGE_NAME = "page-0001.xml"
DEFAULT_IN_PROGRESS_TTL_S = 16 * 60  # longer than the importer's timeout: a crashed claim expires
DEFAULT_KEEP_DONE_S = 7 * 24 * 3600  # far beyond any redelivery window


class ImportResult(StrEnum):
    IMPORTED = "imported"
    FAILED = "failed"  # bad input: moved to failed/ with a report
    DUPLICATE = "duplicate"  # this object version was (or is being) imported by another delivery
    GONE = "gone"  # nothing at the key any more (already archived)
    IGNORED = "ignored"  # not a staged page (e.g. an error report)


@dataclass(frozen=True)
class ImportOutcome:
    bucket: str
    key: str
    result: ImportResult
    job: str | None = None
    run_id: str | None = None
    counts: ImportCounts = field(default_factory=ImportCounts)
    moved_to: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "result": str(self.result),
            "job": self.job,
            "run_id": self.run_id,
            "counts": self.counts.as_dict(),
            "moved_to": self.moved_to,
            "error": self.error,
        }


def import_staged_object(
    bucket: str,
    key: str,
    *,
    store: StagingStore,
    runs: RunRecorder,
    claims: ImportClaims,
    importer: StagedFileImporter,
    etag: str | None = None,
    clock: Callable[[], datetime] = utcnow,
    in_progress_ttl_s: int = DEFAULT_IN_PROGRESS_TTL_S,
    keep_done_s: int = DEFAULT_KEEP_DONE_S,
    leases: Leases | None = None,
) -> ImportOutcome:
    if store.bucket != bucket:
        raise ValueError(f"object store is bound to {store.bucket!r}, event names {bucket!r}")
    if not key.startswith(STAGING_PREFIX) or not key.endswith(".xml"):
        return ImportOutcome(bucket, key, ImportResult.IGNORED)
    try:
        staged = StagedObject.parse(key)
    except ConfigurationError:  # e.g. staging/<job>/x.xml: no run folder, so not a staged page
        logger.warning("ignoring %s: not a staged page (staging/<job>/<run-id>/<name>.xml)", key)
        return ImportOutcome(bucket, key, ImportResult.IGNORED)
    if etag is None:
        info = store.head(key)
        if info is None:
            return ImportOutcome(bucket, key, ImportResult.GONE, staged.job, staged.run_id)
        etag = info.etag
    # Claim before looking further: a repeat delivery is then told apart from a vanished object.
    version = etag.strip('"')
    claim_key = f"{bucket}/{key}/{version}"
    claim = claims.claim(claim_key, now=clock(), in_progress_ttl_s=in_progress_ttl_s)
    if not claim.acquired:
        logger.info("skipping %s: claim %s", key, claim.status)
        return ImportOutcome(
            bucket, key, ImportResult.DUPLICATE, staged.job, staged.run_id, error=f"claim {claim.status}"
        )
    if store.head(key) is None:  # moved by an earlier delivery whose claim has since expired
        claims.release(claim_key)
        return ImportOutcome(bucket, key, ImportResult.GONE, staged.job, staged.run_id)
    try:
        outcome = _import_claimed(bucket, staged, store, runs, importer, clock, leases)
    except BaseException:
        claims.release(claim_key)
        raise
    if outcome.result is ImportResult.FAILED:
        # Moved to failed/: nothing left for a redelivery to import twice (it finds the key gone),
        # and keeping the claim would make a redrive copy with the same ETag look like a duplicate.
        claims.release(claim_key)
    else:
        claims.complete(claim_key, outcome.as_dict(), now=clock(), keep_s=keep_done_s)
    return outcome


def _import_claimed(
    bucket: str,
    staged: StagedObject,
    store: StagingStore,
    runs: RunRecorder,
    importer: StagedFileImporter,
    clock: Callable[[], datetime],
    leases: Leases | None,
) -> ImportOutcome:
    partial = staged.name != FIRST_PAGE_NAME
    record = runs.get(staged.run_id, job=staged.job)
    parameters = record.parameters if record is not None else {}
    lease = run_heartbeat(leases, record)
    try:
        with lease, store.open_reader(staged.key) as stream:
            imported = importer.import_file(
                staged.job, stream, partial=partial, source=staged.key, parameters=parameters
            )
    except (ImportLockedError, DatabaseUnavailableError):
        raise  # not the file's fault: retried later
    except ErpBridgeError as error:
        return _fail(bucket, staged, store, runs, error, clock)
    counts = imported.counts
    if imported.row_errors or counts.failed:
        _report_failed_rows(staged, store, imported, clock)
    store.move(staged.key, staged.archive_key)
    runs.add_import(
        staged.job,
        staged.run_id,
        counts=counts,
        failed=False,
        error=None,
        at=clock(),
        warnings=imported.warnings,
        row_errors=imported.row_errors,
        page=_page(staged, imported.export_is_done),
    )
    for warning in imported.warnings:
        logger.warning("%s: %s", staged.key, warning)
    logger.info("imported %s: %s", staged.key, counts.as_dict())
    return ImportOutcome(
        bucket,
        staged.key,
        ImportResult.IMPORTED,
        staged.job,
        staged.run_id,
        counts=counts,
        moved_to=staged.archive_key,
    )


def _page(staged: StagedObject, export_is_done: bool | None) -> PageImport | None:
    """The fetched page a staged file is (None for a file put there by hand under another name).
    A page whose root does not say ``ExportIsDone="false"`` is the run's last."""
    if page_number(staged.name) is None:
        return None
    return PageImport(staged.name, last=export_is_done is not False)


def _report_failed_rows(
    staged: StagedObject, store: StagingStore, imported: ImportedFile, clock: Callable[[], datetime]
) -> None:
    """The rows a file was imported without, beside the failed files (the file itself is archived)."""
    report = {
        "key": staged.key,
        "job": staged.job,
        "run_id": staged.run_id,
        "shop": imported.shop,
        "imported_at": clock().isoformat(timespec="seconds"),
        "archived_to": staged.archive_key,
        "rows_failed": imported.counts.failed,
        "errors": [dict(error) for error in imported.row_errors],
        "rows": [dict(row) for row in imported.failed_rows],
        "note": "these rows were left out (on_row_error: skip_row); fix them in the ERP, or import "
        "a corrected file with `erpbridge import`",
    }
    store.put_bytes(staged.failed_rows_key, json.dumps(report, indent=2, default=str).encode())


def _fail(
    bucket: str,
    staged: StagedObject,
    store: StagingStore,
    runs: RunRecorder,
    error: ErpBridgeError,
    clock: Callable[[], datetime],
) -> ImportOutcome:
    message = f"{type(error).__name__}: {error}"
    report = {
        "bucket": bucket,
        "key": staged.key,
        "job": staged.job,
        "run_id": staged.run_id,
        "failed_at": clock().isoformat(timespec="seconds"),
        "error_type": type(error).__name__,
        "message": str(error),
        "where": error.where if isinstance(error, XmlError) else None,
        "moved_to": staged.failed_key,
        "redrive": f"copy {staged.failed_key} back to {staged.key} once the cause is fixed",
    }
    # Report first: an object in failed/ never lacks its explanation.
    store.put_bytes(staged.failed_report_key, json.dumps(report, indent=2).encode())
    store.move(staged.key, staged.failed_key)
    runs.add_import(
        staged.job,
        staged.run_id,
        counts=ImportCounts(),
        failed=True,
        error=message,
        at=clock(),
        page=_page(staged, False),
    )
    logger.error("import of %s failed: %s", staged.key, message)
    return ImportOutcome(
        bucket,
        staged.key,
        ImportResult.FAILED,
        staged.job,
        staged.run_id,
        moved_to=staged.failed_key,
        error=message,
    )
