"""Ports of the batch use cases. Adapters live in ``erpbridge.adapters.aws`` (S3, DynamoDB) and
``erpbridge.adapters.local`` (files under ``.erpbridge/``, SQLite) so the same use cases run in
Lambda, in ``make run`` and in the CLI."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import BinaryIO, Protocol

from erpbridge.batch.models import (
    FetchStatus,
    FinaliseRecord,
    ImportCounts,
    ImportedFile,
    OperatorAction,
    PageImport,
    RunRecord,
)
from erpbridge.batch.price_audit_values import Candidates, Figure, Probe, Served


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str


class ObjectWriter(Protocol):
    def write(self, chunk: bytes) -> int: ...


class StagingStore(Protocol):
    """One bucket (or one local folder standing in for it)."""

    @property
    def bucket(self) -> str: ...

    def open_writer(
        self, key: str, *, content_type: str = "application/xml"
    ) -> AbstractContextManager[ObjectWriter]:
        """Streamed upload: the object appears only when the block exits cleanly; on an exception
        nothing appears (an S3 multipart upload is aborted)."""
        ...

    def open_reader(self, key: str) -> AbstractContextManager[BinaryIO]: ...

    def head(self, key: str) -> ObjectInfo | None:
        """The object's size and ETag, or None when there is no such object."""
        ...

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "application/json") -> None: ...

    def move(self, source: str, destination: str) -> None: ...

    def list_objects(self, prefix: str) -> list[ObjectInfo]: ...

    def discard_incomplete(self, prefix: str) -> int:
        """Throw away uploads under ``prefix`` that were started and never finished (a writer that
        was killed: an S3 multipart upload, a local temporary file); how many. Only safe while no
        live writer uses the prefix (the fetch calls it holding the job's lock)."""
        ...


class StreamedPage(Protocol):
    @property
    def bytes_written(self) -> int: ...

    @property
    def export_is_done(self) -> bool | None: ...


class BatchTransport(Protocol):
    """The part of ``erpbridge.erp.ports.ErpTransport`` a fetch needs."""

    def stream(self, request_xml: bytes, sink: Callable[[bytes], object]) -> StreamedPage: ...


class RunRecorder(Protocol):
    def create(self, run: RunRecord, *, stale_before: datetime) -> bool:
        """Record a new run. False when a run with this id exists and is neither failed nor stale
        (a duplicate delivery of the same schedule slot)."""
        ...

    def finish_fetch(
        self,
        job: str,
        run_id: str,
        *,
        status: FetchStatus,
        ended_at: datetime,
        pages: int,
        bytes_: int,
        error: str | None,
    ) -> None: ...

    def add_import(
        self,
        job: str,
        run_id: str,
        *,
        counts: ImportCounts,
        failed: bool,
        error: str | None,
        at: datetime,
        warnings: Sequence[str] = (),
        row_errors: Sequence[Mapping[str, object]] = (),
        page: PageImport | None = None,
    ) -> None:
        """Add one staged file's result to its run (atomically; creates the record for a file
        that was put into staging/ by hand): counts, the error, the import's warnings (the newest
        ``MAX_WARNINGS_KEPT`` are kept) and the errors of rows left out (the first
        ``MAX_FAILED_ROWS_KEPT``). ``page``: the fetched page this file is (its name goes to
        ``pages_imported`` or, when ``failed``, ``pages_failed``; the last page sets ``last_page``)."""
        ...

    def record_finalise(self, job: str, run_id: str, finalised: FinaliseRecord) -> bool:
        """Record the finalise step of a paged run, once: False (nothing changed) when the run
        was finalised already."""
        ...

    def finish_audit(
        self,
        job: str,
        run_id: str,
        *,
        audit: Mapping[str, object] | None,
        ended_at: datetime,
        error: str | None,
    ) -> None:
        """End a price audit's run: its report (``AuditReport.as_dict()``) into the record, fetched
        (or failed, with ``error``)."""
        ...

    def record_action(self, job: str, run_id: str, action: OperatorAction) -> None:
        """Add an operator's action (who, when, what) to the run; the newest ``MAX_ACTIONS_KEPT``
        are kept. A run that is not recorded: nothing happens."""
        ...

    def get(self, run_id: str, *, job: str | None = None) -> RunRecord | None: ...

    def list_runs(self, *, job: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Newest first."""
        ...


@dataclass(frozen=True)
class LockHolder:
    owner: str
    expires_at: datetime


class JobLock(Protocol):
    def acquire(self, job: str, owner: str, *, now: datetime, ttl_s: int) -> LockHolder | None:
        """None when acquired; else who holds it. An expired lock is taken over."""
        ...

    def extend(self, job: str, owner: str, *, now: datetime, ttl_s: int) -> bool:
        """Renew the lease to ``now + ttl_s`` only while ``owner`` still holds the lock (expired or
        not, as long as nobody took it over); False, changing nothing, when it is released or
        another owner's. The heartbeat of :mod:`erpbridge.batch.lease`."""
        ...

    def release(self, job: str, owner: str) -> None:
        """Release only if ``owner`` still holds it."""
        ...


class ClaimStatus(StrEnum):
    """Where a staged object version's import stands (stored as is in the claims table)."""

    NEW = "new"  # just claimed by this caller (never stored: the stored row says in_progress)
    IN_PROGRESS = "in_progress"  # another delivery is importing it
    DONE = "done"  # imported already; the claim keeps its result


@dataclass(frozen=True)
class Claim:
    acquired: bool
    status: ClaimStatus
    result: Mapping[str, object] | None = None


class ImportClaims(Protocol):
    """At-most-once processing of one staged object version (bucket/key/etag)."""

    def claim(self, claim_key: str, *, now: datetime, in_progress_ttl_s: int) -> Claim: ...

    def complete(
        self, claim_key: str, result: Mapping[str, object], *, now: datetime, keep_s: int
    ) -> None: ...

    def release(self, claim_key: str) -> None: ...


class StagedFileImporter(Protocol):
    """Applies a job's mapping to one staged file, in one database transaction."""

    def import_file(
        self,
        job: str,
        stream: BinaryIO,
        *,
        partial: bool,
        source: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> ImportedFile:
        """``partial``: this file is one page of several, so remove-missing/deactivate-missing must
        not run. ``source`` names the file (its staged key) so the same page is never imported
        twice at once. ``parameters``: the run's (its ``shopID`` … scope the import; default: the
        job's). Raises an ``ErpBridgeError`` subclass for bad input (nothing written), and
        ``ImportLockedError`` (retry later, nothing written) while another import of the job runs."""
        ...

    def finalise(
        self,
        job: str,
        pages: Sequence[Callable[[], AbstractContextManager[BinaryIO]]],
        *,
        parameters: Mapping[str, str] | None = None,
    ) -> ImportedFile:
        """The finalise step of a paged run: read the keys of every page (``pages`` open them, in
        order) and run the mapping's remove/deactivate-missing once over all of them, with the
        guards of a whole file; nothing else is written. Same errors as :meth:`import_file`."""
        ...


# --- the price audit (erpbridge.batch.price_audit) ----------------------------------------------


class AuditCandidates(Protocol):
    """What the audit's sample is drawn from: the shop database's customers, products, price-break
    quantities and currencies, of one shop ("": the default shop, i.e. all of them)."""

    def read(self, shop: str = "") -> Candidates: ...


class ServedPrices(Protocol):
    """Prices as the live API serves them, asked in-process (not over HTTP), at the ERP endpoint of
    the probes' shop. Every call gets probes of one shop, customer and currency and answers in their
    order."""

    def serve(self, probes: Sequence[Probe]) -> list[Served]:
        """What the API serves now, and from where (the ERP, the cache, a stale entry, a fallback)."""
        ...

    def batch(self, probes: Sequence[Probe]) -> list[Figure | None]:
        """The shop database's batch-imported price (None: it holds none for this probe)."""
        ...


class FreshQuotes(Protocol):
    """Business Central's price now, asked directly (no cache read or write, no fallback), through
    the ERP client's shared limiter, at the endpoint of the probes' shop. Probes of one shop, customer
    and currency, answered in their order."""

    def quote(self, probes: Sequence[Probe]) -> list[Figure]:
        """Raises an ``ErpError`` when BC cannot be asked or does not answer."""
        ...
