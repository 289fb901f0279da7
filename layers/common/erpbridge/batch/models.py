"""What a batch run is: its identity, its trigger, its counts and its state.

A run has two phases that may happen in different processes: the fetch (one invocation, writes
pages to the staging area) and the imports (one per staged page, triggered by the object store).
Both add to the same run record, so an operator sees one line per run.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from erpbridge.errors import ConfigurationError

STAGING_PREFIX = "staging/"
ARCHIVE_PREFIX = "archive/"
FAILED_PREFIX = "failed/"

_JOB_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_RUN_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,79}$")
_PAGE_NAME = re.compile(r"^page-(?P<number>[0-9]{4,6})\.xml$")
_STAGED_KEY = re.compile(
    r"^staging/(?P<job>[a-z0-9][a-z0-9-]{0,62})/(?P<run>[0-9A-Za-z][0-9A-Za-z_.-]{0,79})/(?P<name>[^/]+\.xml)$"
)


class Trigger(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"  # console test event, `erpbridge jobs run`
    LOCAL = "local"  # `make run`, `erpbridge import`
    UPLOAD = "upload"  # a file put into staging/ by hand


class FetchStatus(StrEnum):
    RUNNING = "running"
    FETCHED = "fetched"
    FAILED = "failed"


class RunStatus(StrEnum):
    """The state an operator sees, derived from both phases (see :meth:`RunRecord.status`)."""

    RUNNING = "running"
    IMPORTING = "importing"
    SUCCEEDED = "succeeded"
    NOT_FINALISED = "imported, not finalised"  # a paged run: every page in, removal not yet run
    FINALISED = "finalised"  # a paged run: every page in, then removal over all of them once
    FAILED = "failed"

    @property
    def in_progress(self) -> bool:
        """The run is still fetching or importing: its figures will change."""
        return self in _IN_PROGRESS


_IN_PROGRESS = frozenset({RunStatus.RUNNING, RunStatus.IMPORTING})


def utcnow() -> datetime:
    """The batch runs' default clock (tests pass their own)."""
    return datetime.now(UTC)


def validate_job_id(job: str) -> str:
    if not _JOB_ID.match(job):
        raise ConfigurationError(f"job id {job!r}: use lower-case letters, digits and dashes")
    return job


def new_run_id(now: datetime, *, scheduled_time: datetime | None = None, variant: str = "") -> str:
    """Sortable run id. A scheduled run's id is derived from its schedule slot, so a duplicate
    delivery of the same slot maps to the same run and is recognised (at-least-once delivery);
    ``variant`` (see ``BatchJob.variant``) tells apart the schedules of one job with other
    parameters (one per shop) that share a slot."""
    if scheduled_time is not None:
        slot = scheduled_time.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") + "-sched"
        return f"{slot}-{variant}" if variant else slot
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)


def page_key(job: str, run_id: str, page: int) -> str:
    return f"{STAGING_PREFIX}{job}/{run_id}/{page_name(page)}"


def page_name(page: int) -> str:
    return f"page-{page:04d}.xml"


def page_number(name: str) -> int | None:
    """``page-0003.xml`` → 3; None for a file that is not a fetched page (put there by hand)."""
    match = _PAGE_NAME.match(name)
    return int(match["number"]) if match else None


@dataclass(frozen=True)
class StagedObject:
    """A staged object's key, understood: which job and run it belongs to."""

    key: str
    job: str
    run_id: str
    name: str

    @classmethod
    def parse(cls, key: str) -> StagedObject:
        match = _STAGED_KEY.match(key)
        if match is None:
            raise ConfigurationError(
                f"object key {key!r} is not a staged page (expected staging/<job>/<run-id>/<name>.xml)"
            )
        return cls(key=key, job=match["job"], run_id=match["run"], name=match["name"])

    @property
    def archive_key(self) -> str:
        return ARCHIVE_PREFIX + self.key[len(STAGING_PREFIX) :]

    @property
    def failed_key(self) -> str:
        return FAILED_PREFIX + self.key[len(STAGING_PREFIX) :]

    @property
    def failed_report_key(self) -> str:
        return self.failed_key + ".error.json"

    @property
    def failed_rows_key(self) -> str:
        """The failed-rows report of a file imported without its bad rows (``skip_row``)."""
        return self.failed_key + ".rows.json"


@dataclass(frozen=True)
class ImportCounts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0
    rows_read: int = 0
    failed: int = 0  # rows left out because of an error (on_row_error: skip_row)

    def __add__(self, other: ImportCounts) -> ImportCounts:
        return ImportCounts(
            inserted=self.inserted + other.inserted,
            updated=self.updated + other.updated,
            deleted=self.deleted + other.deleted,
            skipped=self.skipped + other.skipped,
            rows_read=self.rows_read + other.rows_read,
            failed=self.failed + other.failed,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "deleted": self.deleted,
            "skipped": self.skipped,
            "rows_read": self.rows_read,
            "failed": self.failed,
        }


MAX_FAILED_ROWS_KEPT = 20  # row errors a run record keeps (the failed-rows report has up to max_errors)
MAX_WARNINGS_KEPT = 20


@dataclass(frozen=True)
class ImportedFile:
    """What importing one staged file did: its counts, the warnings of the import report (unknown
    tables and columns, refused removals, …), and the rows left out because of errors."""

    counts: ImportCounts
    warnings: tuple[str, ...] = ()
    # the first errors: {"table", "row", "column", "value", "reason"}
    row_errors: tuple[Mapping[str, Any], ...] = ()
    # the first rows left out: {"table", "row", "values": {source column: text}}
    failed_rows: tuple[Mapping[str, Any], ...] = ()
    shop: str | None = None
    export_is_done: bool | None = None  # the file's root said ExportIsDone (None: it did not say)


@dataclass(frozen=True)
class PageImport:
    """One page's import, as its run records it: which page, and whether its root said
    ``ExportIsDone="true"`` (then it is the run's last page)."""

    name: str
    last: bool = False


@dataclass(frozen=True)
class FinaliseRecord:
    """What the finalise step of a paged run did: remove/deactivate-missing once over every page."""

    at: datetime
    counts: ImportCounts
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"at": _iso(self.at), "counts": self.counts.as_dict(), "warnings": list(self.warnings)}

    @classmethod
    def from_json(cls, text: str | None) -> FinaliseRecord | None:
        """The record a run recorder stored as ``json.dumps(as_dict())`` (None: not finalised)."""
        if not text:
            return None
        entry = json.loads(text)
        return cls(
            at=datetime.fromisoformat(entry["at"]),
            counts=ImportCounts(**entry["counts"]),
            warnings=tuple(entry["warnings"]),
        )


@dataclass(frozen=True)
class OperatorAction:
    """An operator's action on a run (admin API, console): ``redrive`` of a failed file, …"""

    action: str
    by: str
    at: datetime
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"action": self.action, "by": self.by, "at": _iso(self.at) or "", "detail": self.detail}

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> OperatorAction:
        return cls(
            action=str(entry["action"]),
            by=str(entry["by"]),
            at=datetime.fromisoformat(str(entry["at"])),
            detail=str(entry.get("detail") or ""),
        )


MAX_ACTIONS_KEPT = 50  # operator actions a run record keeps (the newest)


@dataclass
class RunRecord:
    job: str
    run_id: str
    trigger: Trigger
    started_at: datetime
    fetch_status: FetchStatus = FetchStatus.RUNNING
    ended_at: datetime | None = None
    pages: int = 0
    bytes: int = 0
    error: str | None = None
    files_imported: int = 0
    files_failed: int = 0
    counts: ImportCounts = field(default_factory=ImportCounts)
    import_errors: list[str] = field(default_factory=list)
    imported_at: datetime | None = None
    parameters: dict[str, str] = field(default_factory=dict)  # the run's request parameters (shopID …)
    warnings: list[str] = field(default_factory=list)  # the imports' warnings, newest 20
    row_errors: list[dict[str, Any]] = field(default_factory=list)  # rows left out: the first 20
    requested_by: str | None = None  # the operator who pressed Run now (console, admin API)
    pages_imported: list[str] = field(default_factory=list)  # page file names, sorted
    pages_failed: list[str] = field(default_factory=list)
    last_page: int | None = None  # the page whose root said ExportIsDone="true"
    finalised: FinaliseRecord | None = None
    audit: dict[str, Any] | None = None  # a price audit's report (erpbridge.batch.price_audit)
    # operators' actions on the run after it started (a failed file redriven …): who, when, what
    actions: list[OperatorAction] = field(default_factory=list)
    # the job lock the run holds from its start to its end (erpbridge.batch.lease): its name, and
    # the owner token its fetch took it under (None: a file put into staging/ by hand)
    lock_name: str | None = None
    lock_owner: str | None = None

    @property
    def over(self) -> bool:
        """Nothing more happens to the run by itself: its fetch failed, or the fetch ended and a
        page failed, or every page is in and the run needs no finalise (one page) or had it."""
        if self.fetch_status is FetchStatus.FAILED:
            return True
        if self.fetch_status is FetchStatus.RUNNING:
            return False
        if self.pages_failed or self.files_failed or self.finalised is not None:
            return True
        return self.single_page and not self.missing_pages()

    def missing_pages(self) -> list[str]:
        """The pages of the run not imported (yet); every page up to the last one known."""
        last = max(self.pages, self.last_page or 0)
        done = set(self.pages_imported)
        return [page_name(n) for n in range(1, last + 1) if page_name(n) not in done]

    @property
    def single_page(self) -> bool:
        """One page, the whole export: its import removed missing rows itself (no finalise)."""
        return self.last_page == 1 or (self.fetch_status is FetchStatus.FETCHED and self.pages == 1)

    def finalise_blocked(self) -> str | None:
        """Why the finalise step may not run (yet), or None when it may."""
        if self.fetch_status is FetchStatus.FAILED:
            return "the fetch failed"
        if self.pages_failed:
            return f"page(s) failed: {', '.join(self.pages_failed)}"
        if self.single_page:
            return "not a paged run: its one file removed missing rows itself"
        if self.last_page is None:
            return "the last page (ExportIsDone) has not been imported"
        missing = self.missing_pages()
        if missing:
            return f"page(s) not imported: {', '.join(missing[:10])}"
        return None

    @property
    def status(self) -> RunStatus:
        if self.fetch_status is FetchStatus.FAILED or self.files_failed:
            return RunStatus.FAILED
        if self.finalised is not None:
            return RunStatus.FINALISED
        if self.fetch_status is FetchStatus.RUNNING:
            return RunStatus.RUNNING
        if self.files_imported >= self.pages:
            if self.finalise_blocked() is None:
                return RunStatus.NOT_FINALISED
            return RunStatus.SUCCEEDED
        return RunStatus.IMPORTING

    def as_dict(self) -> dict[str, object]:
        return {
            "job": self.job,
            "run_id": self.run_id,
            "trigger": str(self.trigger),
            "status": str(self.status),
            "fetch_status": str(self.fetch_status),
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "pages": self.pages,
            "bytes": self.bytes,
            "error": self.error,
            "files_imported": self.files_imported,
            "files_failed": self.files_failed,
            "counts": self.counts.as_dict(),
            "import_errors": list(self.import_errors),
            "imported_at": _iso(self.imported_at),
            "parameters": dict(self.parameters),
            "warnings": list(self.warnings),
            "row_errors": [dict(error) for error in self.row_errors],
            "pages_imported": list(self.pages_imported),
            "pages_failed": list(self.pages_failed),
            "last_page": self.last_page,
            "finalised": self.finalised.as_dict() if self.finalised else None,
            "requested_by": self.requested_by,
            **({"audit": self.audit} if self.audit is not None else {}),
            "actions": [action.as_dict() for action in self.actions],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        """The record :meth:`as_dict` gave (the admin API's JSON, read back by the CLI)."""
        finalised = data.get("finalised")
        return cls(
            job=str(data["job"]),
            run_id=str(data["run_id"]),
            trigger=Trigger(data["trigger"]),
            started_at=datetime.fromisoformat(str(data["started_at"])),
            fetch_status=FetchStatus(data.get("fetch_status") or FetchStatus.RUNNING),
            ended_at=_from_iso(data.get("ended_at")),
            pages=int(data.get("pages") or 0),
            bytes=int(data.get("bytes") or 0),
            error=data.get("error"),
            files_imported=int(data.get("files_imported") or 0),
            files_failed=int(data.get("files_failed") or 0),
            counts=ImportCounts(**(data.get("counts") or {})),
            import_errors=list(data.get("import_errors") or []),
            imported_at=_from_iso(data.get("imported_at")),
            parameters=dict(data.get("parameters") or {}),
            warnings=list(data.get("warnings") or []),
            row_errors=[dict(e) for e in data.get("row_errors") or []],
            requested_by=data.get("requested_by"),
            pages_imported=list(data.get("pages_imported") or []),
            pages_failed=list(data.get("pages_failed") or []),
            last_page=data.get("last_page"),
            finalised=FinaliseRecord.from_json(json.dumps(finalised)) if finalised else None,
            audit=data.get("audit"),
            actions=[OperatorAction.from_dict(a) for a in data.get("actions") or []],
        )


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None


def _from_iso(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def validate_run_id(run_id: str) -> str:
    if not _RUN_ID.match(run_id):
        raise ConfigurationError(f"run id {run_id!r} is not valid")
    return run_id
