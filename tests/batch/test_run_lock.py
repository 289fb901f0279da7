"""The job lock covers the whole run — fetch, the pages' imports, finalise — on DynamoDB (moto)
and on SQLite: renewed by a heartbeat while a step runs, released when the run is over, and run
out when its holder crashed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from batch_support import ROOT

from erpbridge.adapters.local.staging import FolderStagingStore
from erpbridge.batch.fetch import FetchOutcome, FetchResult, run_fetch
from erpbridge.batch.importer import ImportResult, import_staged_object
from erpbridge.batch.lease import HeldLock, Leases
from erpbridge.batch.models import ImportCounts, ImportedFile, RunStatus, Trigger
from erpbridge.batch.ports import JobLock, LockHolder
from erpbridge.errors import ConfigurationError, ErpUnavailableError
from erpbridge.settings import Settings
from erpbridge.wiring.batch import BatchRuntime

JOB = "fetch-stock-level"
NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
TTL_S = 60


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class _Page:
    bytes_written: int
    export_is_done: bool | None = True


class OnePage:
    """The ERP's answer: one page, the whole export (or BC down)."""

    def __init__(self, *, down: bool = False) -> None:
        self._down = down

    def stream(self, request_xml: bytes, sink: Callable[[bytes], object]) -> _Page:
        if self._down:
            raise ErpUnavailableError("connection refused")
        body = b'<?xml version="1.0"?><tables><table tableName="EcomStockUnit"/></tables>'
        sink(body)
        return _Page(len(body))


class Pages(OnePage):
    """The ERP's answer to a paged export: ``ExportIsDone="false"`` until the last of ``count``."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self._left = count

    def stream(self, request_xml: bytes, sink: Callable[[bytes], object]) -> _Page:
        self._left -= 1
        return _Page(super().stream(request_xml, sink).bytes_written, export_is_done=self._left == 0)


class SlowImporter:
    """Imports a page once told to go on (a long import); ``bad``: the page is bad input. A paged
    run's finalise waits until told to go on too."""

    def __init__(self, *, bad: bool = False, last_page: str = "page-0001.xml") -> None:
        self.started = threading.Event()
        self.go_on = threading.Event()
        self.finalising = threading.Event()
        self.finalise_may_end = threading.Event()
        self._bad = bad
        self._last_page = last_page

    def import_file(
        self,
        job: str,
        stream: BinaryIO,
        *,
        partial: bool,
        source: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> ImportedFile:
        stream.read()
        self.started.set()
        assert self.go_on.wait(timeout=30)
        if self._bad:
            raise ConfigurationError("column StockUnitQuantity: 'x' is not a number")
        last = source is not None and source.endswith(self._last_page)
        return ImportedFile(ImportCounts(inserted=1, rows_read=1), export_is_done=last)

    def finalise(
        self,
        job: str,
        pages: Sequence[Callable[[], AbstractContextManager[BinaryIO]]],
        *,
        parameters: Mapping[str, str] | None = None,
    ) -> ImportedFile:
        self.finalising.set()
        assert self.finalise_may_end.wait(timeout=30)
        return ImportedFile(ImportCounts(deleted=1))


class Heartbeats:
    """The lock, noting the time of every renewal that kept it."""

    def __init__(self, lock: JobLock) -> None:
        self._lock = lock
        self.renewed_at: list[datetime] = []

    def acquire(self, job: str, owner: str, *, now: datetime, ttl_s: int) -> LockHolder | None:
        return self._lock.acquire(job, owner, now=now, ttl_s=ttl_s)

    def extend(self, job: str, owner: str, *, now: datetime, ttl_s: int) -> bool:
        kept = self._lock.extend(job, owner, now=now, ttl_s=ttl_s)
        if kept:
            self.renewed_at.append(now)
        return kept

    def release(self, job: str, owner: str) -> None:
        self._lock.release(job, owner)


def _fetch(
    state: tuple[Any, Any, Any], store: FolderStagingStore, clock: Callable[[], datetime], **kwargs: Any
) -> FetchOutcome:
    runs, locks, _ = state
    options: dict[str, Any] = {"transport": OnePage(), "lock_ttl_s": TTL_S, **kwargs}
    return run_fetch(
        JOB, b"<request/>", Trigger.MANUAL, store=store, runs=runs, lock=locks, clock=clock, **options
    )


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_second_run_is_refused_while_the_first_runs_import_is_in_progress(
    state: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    runs, locks, claims = state
    store = FolderStagingStore(tmp_path / "objects")
    clock = Clock(NOW)
    first = _fetch(state, store, clock)
    assert first.result is FetchResult.FETCHED
    heartbeats = Heartbeats(locks)
    leases = Leases(heartbeats, ttl_s=TTL_S, heartbeat_s=0.01, clock=clock)
    importer = SlowImporter()
    imported: dict[str, Any] = {}

    def import_page() -> None:
        imported["outcome"] = import_staged_object(
            store.bucket,
            first.keys[0],
            store=store,
            runs=runs,
            claims=claims,
            importer=importer,
            clock=clock,
            leases=leases,
        )

    thread = threading.Thread(target=import_page)
    thread.start()
    try:
        assert importer.started.wait(timeout=30)
        # The import has been going ten leases long: without the heartbeat the lock would be free.
        clock.now = later = NOW + timedelta(seconds=10 * TTL_S)
        _wait_until(lambda: any(at >= later for at in heartbeats.renewed_at), "a heartbeat")
        second = _fetch(state, store, clock)
        assert second.result is FetchResult.LOCKED
        assert second.reason is not None
        assert f"run {first.run_id}: importing, 0 of 1 page(s) imported" in second.reason
        assert [run.run_id for run in runs.list_runs(job=JOB)] == [first.run_id]  # nothing recorded
    finally:
        importer.go_on.set()
        thread.join(timeout=30)
    assert imported["outcome"].result is ImportResult.IMPORTED


def _runtime(
    state: tuple[Any, Any, Any], store: FolderStagingStore, importer: SlowImporter, **options: Any
) -> BatchRuntime:
    runs, locks, claims = state
    return BatchRuntime(
        settings=Settings.model_construct(),  # nothing of it is read by an import
        staging_bucket=store.bucket,
        runs=runs,
        locks=locks,
        claims=claims,
        store_for=lambda bucket: store,
        mappings_dir=ROOT / "mappings",
        _importer=importer,
        **{"lock_ttl_s": TTL_S, **options},
    )


@pytest.mark.parametrize("bad_page", [False, True], ids=["imported", "page-failed"])
def test_the_lock_is_held_from_the_fetch_to_the_last_import_and_released_when_the_run_ends(
    state: tuple[Any, Any, Any], tmp_path: Path, bad_page: bool
) -> None:
    runs, _, _ = state
    store = FolderStagingStore(tmp_path / "objects")
    importer = SlowImporter(bad=bad_page)
    importer.go_on.set()
    runtime = _runtime(state, store, importer)
    clock = Clock(datetime.now(UTC))
    first = _fetch(state, store, clock)
    # Fetched, its page not imported yet: the run is not over, so a second one must wait.
    assert _fetch(state, store, clock).result is FetchResult.LOCKED

    outcome = runtime.import_object(store.bucket, first.keys[0])  # what the S3 event triggers

    assert outcome.result is (ImportResult.FAILED if bad_page else ImportResult.IMPORTED)
    record = runs.get(first.run_id, job=JOB)
    assert record.status is (RunStatus.FAILED if bad_page else RunStatus.SUCCEEDED)
    assert _fetch(state, store, clock).result is FetchResult.FETCHED  # released: the run is over


def test_a_failed_fetch_releases_the_lock(state: tuple[Any, Any, Any], tmp_path: Path) -> None:
    runs, _, _ = state
    store = FolderStagingStore(tmp_path / "objects")
    clock = Clock(NOW)
    with pytest.raises(ErpUnavailableError):
        _fetch(state, store, clock, transport=OnePage(down=True))
    (failed,) = runs.list_runs(job=JOB)
    assert failed.status is RunStatus.FAILED
    assert _fetch(state, store, clock).result is FetchResult.FETCHED


def test_a_crashed_runs_lock_expires_and_its_late_heartbeat_does_not_take_it_back(
    state: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    runs, locks, _ = state
    store = FolderStagingStore(tmp_path / "objects")
    clock = Clock(NOW)
    crashed = _fetch(state, store, clock)  # …and its import died with the process: no heartbeat
    clock.now = NOW + timedelta(seconds=TTL_S - 1)
    assert _fetch(state, store, clock).result is FetchResult.LOCKED
    clock.now = NOW + timedelta(seconds=TTL_S + 1)
    after = _fetch(state, store, clock)
    assert after.result is FetchResult.FETCHED

    held = HeldLock.of(runs.get(crashed.run_id, job=JOB))
    assert held is not None and held.owner.startswith(crashed.run_id + "#")
    assert not Leases(locks, ttl_s=TTL_S, clock=clock).renew(held)  # the next run's lock now
    clock.now += timedelta(seconds=1)
    assert _fetch(state, store, clock).result is FetchResult.LOCKED


def test_a_second_run_is_refused_while_the_first_paged_run_is_finalised(
    state: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    runs, _, _ = state
    store = FolderStagingStore(tmp_path / "objects")
    importer = SlowImporter(last_page="page-0002.xml")
    importer.go_on.set()
    lease_s = 2  # real time: the finalise below outlasts the lease, its heartbeat renews it
    runtime = _runtime(state, store, importer, lock_ttl_s=lease_s, heartbeat_s=0.05)
    first = _fetch(state, store, lambda: datetime.now(UTC), transport=Pages(2), lock_ttl_s=lease_s)
    assert first.pages == 2
    assert runtime.import_object(store.bucket, first.keys[0]).result is ImportResult.IMPORTED
    thread = threading.Thread(target=runtime.import_object, args=(store.bucket, first.keys[1]))
    thread.start()  # the last page's import, which finalises the run
    try:
        assert importer.finalising.wait(timeout=30)
        time.sleep(lease_s + 1)
        second = _fetch(state, store, lambda: datetime.now(UTC), lock_ttl_s=lease_s)
        assert second.result is FetchResult.LOCKED
        assert f"run {first.run_id}: imported, not finalised, 2 of 2 page(s) imported" in str(second.reason)
    finally:
        importer.finalise_may_end.set()
        thread.join(timeout=30)
    assert runs.get(first.run_id, job=JOB).status is RunStatus.FINALISED
    assert _fetch(state, store, lambda: datetime.now(UTC)).result is FetchResult.FETCHED  # released
