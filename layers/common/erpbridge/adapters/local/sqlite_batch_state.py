"""Runs, job locks and import claims in one SQLite file (``.erpbridge/batch.db``).

The local stand-in for the DynamoDB runs, locks and idempotency tables: the same conditional
semantics (a lock is taken only when free or expired; a claim only when new, expired or released),
enforced with ``BEGIN IMMEDIATE`` transactions so concurrent processes on one machine agree.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from erpbridge.batch.models import (
    MAX_ACTIONS_KEPT,
    MAX_FAILED_ROWS_KEPT,
    MAX_WARNINGS_KEPT,
    FetchStatus,
    FinaliseRecord,
    ImportCounts,
    OperatorAction,
    PageImport,
    RunRecord,
    Trigger,
    page_number,
)
from erpbridge.batch.ports import Claim, LockHolder

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    job TEXT NOT NULL, run_id TEXT NOT NULL, trigger TEXT NOT NULL,
    started_at TEXT NOT NULL, ended_at TEXT, fetch_status TEXT NOT NULL,
    pages INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0, error TEXT,
    files_imported INTEGER NOT NULL DEFAULT 0, files_failed INTEGER NOT NULL DEFAULT 0,
    inserted INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0,
    rows_read INTEGER NOT NULL DEFAULT 0,
    import_errors TEXT NOT NULL DEFAULT '[]', imported_at TEXT,
    parameters TEXT NOT NULL DEFAULT '{}', rows_failed INTEGER NOT NULL DEFAULT 0,
    warnings TEXT NOT NULL DEFAULT '[]', row_errors TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (job, run_id)
);
CREATE INDEX IF NOT EXISTS runs_by_id ON runs (run_id);
CREATE TABLE IF NOT EXISTS locks (job TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS claims (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, expires_at TEXT NOT NULL, result TEXT
);
"""
# Columns added after the first release: a state file from an older version gets them on open.
_ADDED_RUN_COLUMNS = {
    "parameters": "TEXT NOT NULL DEFAULT '{}'",
    "rows_failed": "INTEGER NOT NULL DEFAULT 0",
    "warnings": "TEXT NOT NULL DEFAULT '[]'",
    "row_errors": "TEXT NOT NULL DEFAULT '[]'",
    "pages_imported": "TEXT NOT NULL DEFAULT '[]'",
    "pages_failed": "TEXT NOT NULL DEFAULT '[]'",
    "last_page": "INTEGER",
    "finalised": "TEXT",
    "requested_by": "TEXT",
    "audit": "TEXT",
    "actions": "TEXT NOT NULL DEFAULT '[]'",
    "lock_name": "TEXT",
    "lock_owner": "TEXT",
}


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class _SqliteState:
    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, timeout=30)
        try:
            conn.executescript(_SCHEMA)
            present = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
            for name, definition in _ADDED_RUN_COLUMNS.items():
                if name not in present:
                    conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {definition}")
            conn.commit()
        finally:
            conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()


class SqliteRunRecorder(_SqliteState):
    """``RunRecorder`` on SQLite."""

    def create(self, run: RunRecord, *, stale_before: datetime) -> bool:
        with self._transaction() as conn:
            existing = conn.execute(
                "SELECT fetch_status, started_at FROM runs WHERE job = ? AND run_id = ?",
                (run.job, run.run_id),
            ).fetchone()
            if existing is not None:
                started = _dt(existing["started_at"])
                retryable = existing["fetch_status"] == FetchStatus.FAILED or (
                    existing["fetch_status"] == FetchStatus.RUNNING
                    and started is not None
                    and started < stale_before
                )
                if not retryable:
                    return False
                conn.execute("DELETE FROM runs WHERE job = ? AND run_id = ?", (run.job, run.run_id))
            conn.execute(
                "INSERT INTO runs (job, run_id, trigger, started_at, fetch_status, parameters, requested_by,"
                " lock_name, lock_owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.job,
                    run.run_id,
                    str(run.trigger),
                    _ts(run.started_at),
                    str(run.fetch_status),
                    json.dumps(run.parameters),
                    run.requested_by,
                    run.lock_name,
                    run.lock_owner,
                ),
            )
            return True

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
    ) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE runs SET fetch_status = ?, ended_at = ?, pages = ?, bytes = ?, error = ?"
                " WHERE job = ? AND run_id = ?",
                (str(status), _ts(ended_at), pages, bytes_, error, job, run_id),
            )

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
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT import_errors, warnings, row_errors, pages_imported, pages_failed, last_page"
                " FROM runs WHERE job = ? AND run_id = ?",
                (job, run_id),
            ).fetchone()
            if row is None:
                # A file put into staging/ by hand: its run is the file's folder.
                conn.execute(
                    "INSERT INTO runs (job, run_id, trigger, started_at, ended_at, fetch_status, pages)"
                    " VALUES (?, ?, ?, ?, ?, ?, 0)",
                    (job, run_id, str(Trigger.UPLOAD), _ts(at), _ts(at), str(FetchStatus.FETCHED)),
                )
                errors: list[str] = []
                kept_warnings: list[str] = []
                kept_rows: list[Any] = []
                imported: set[str] = set()
                failed_pages: set[str] = set()
                last_page: int | None = None
            else:
                errors = json.loads(row["import_errors"])
                kept_warnings = json.loads(row["warnings"])
                kept_rows = json.loads(row["row_errors"])
                imported = set(json.loads(row["pages_imported"]))
                failed_pages = set(json.loads(row["pages_failed"]))
                last_page = row["last_page"]
            if page is not None:
                (failed_pages if failed else imported).add(page.name)
                if page.last and not failed:
                    last_page = page_number(page.name)
            if error:
                errors.append(error)
            kept_warnings = [*kept_warnings, *warnings][-MAX_WARNINGS_KEPT:]
            kept_rows = [*kept_rows, *(dict(e) for e in row_errors)][:MAX_FAILED_ROWS_KEPT]
            conn.execute(
                "UPDATE runs SET files_imported = files_imported + ?, files_failed = files_failed + ?,"
                " inserted = inserted + ?, updated = updated + ?, deleted = deleted + ?,"
                " skipped = skipped + ?, rows_read = rows_read + ?, import_errors = ?, imported_at = ?,"
                " rows_failed = rows_failed + ?, warnings = ?, row_errors = ?,"
                " pages_imported = ?, pages_failed = ?, last_page = ?"
                " WHERE job = ? AND run_id = ?",
                (
                    0 if failed else 1,
                    1 if failed else 0,
                    counts.inserted,
                    counts.updated,
                    counts.deleted,
                    counts.skipped,
                    counts.rows_read,
                    json.dumps(errors[-20:]),
                    _ts(at),
                    counts.failed,
                    json.dumps(kept_warnings),
                    json.dumps(kept_rows, default=str),
                    json.dumps(sorted(imported)),
                    json.dumps(sorted(failed_pages)),
                    last_page,
                    job,
                    run_id,
                ),
            )

    def record_finalise(self, job: str, run_id: str, finalised: FinaliseRecord) -> bool:
        with self._transaction() as conn:
            changed = conn.execute(
                "UPDATE runs SET finalised = ? WHERE job = ? AND run_id = ? AND finalised IS NULL",
                (json.dumps(finalised.as_dict()), job, run_id),
            ).rowcount
        return bool(changed)

    def finish_audit(
        self,
        job: str,
        run_id: str,
        *,
        audit: Mapping[str, object] | None,
        ended_at: datetime,
        error: str | None,
    ) -> None:
        status = FetchStatus.FAILED if error else FetchStatus.FETCHED
        with self._transaction() as conn:
            conn.execute(
                "UPDATE runs SET fetch_status = ?, ended_at = ?, error = ?, audit = ?"
                " WHERE job = ? AND run_id = ?",
                (
                    str(status),
                    _ts(ended_at),
                    error,
                    None if audit is None else json.dumps(audit),
                    job,
                    run_id,
                ),
            )

    def record_action(self, job: str, run_id: str, action: OperatorAction) -> None:
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT actions FROM runs WHERE job = ? AND run_id = ?", (job, run_id)
            ).fetchone()
            if row is None:
                return
            kept = [*json.loads(row["actions"]), action.as_dict()][-MAX_ACTIONS_KEPT:]
            conn.execute(
                "UPDATE runs SET actions = ? WHERE job = ? AND run_id = ?", (json.dumps(kept), job, run_id)
            )

    def get(self, run_id: str, *, job: str | None = None) -> RunRecord | None:
        with self._transaction() as conn:
            if job is None:
                row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            else:
                row = conn.execute(
                    "SELECT * FROM runs WHERE job = ? AND run_id = ?", (job, run_id)
                ).fetchone()
        return None if row is None else _record(row)

    def list_runs(self, *, job: str | None = None, limit: int = 50) -> list[RunRecord]:
        with self._transaction() as conn:
            if job is None:
                rows = conn.execute(
                    "SELECT * FROM runs ORDER BY started_at DESC, run_id DESC LIMIT ?", (limit,)
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT * FROM runs WHERE job = ? ORDER BY started_at DESC, run_id DESC LIMIT ?",
                    (job, limit),
                ).fetchall()
        return [_record(row) for row in rows]


class SqliteJobLock(_SqliteState):
    """``JobLock`` on SQLite: taken when free, expired, or already ours."""

    def acquire(self, job: str, owner: str, *, now: datetime, ttl_s: int) -> LockHolder | None:
        with self._transaction() as conn:
            row = conn.execute("SELECT owner, expires_at FROM locks WHERE job = ?", (job,)).fetchone()
            if row is not None:
                expires = datetime.fromisoformat(row["expires_at"])
                if expires > now and row["owner"] != owner:
                    return LockHolder(owner=row["owner"], expires_at=expires)
            conn.execute(
                "INSERT OR REPLACE INTO locks (job, owner, expires_at) VALUES (?, ?, ?)",
                (job, owner, _ts(now + timedelta(seconds=ttl_s))),
            )
            return None

    def extend(self, job: str, owner: str, *, now: datetime, ttl_s: int) -> bool:
        with self._transaction() as conn:
            changed = conn.execute(
                "UPDATE locks SET expires_at = ? WHERE job = ? AND owner = ?",
                (_ts(now + timedelta(seconds=ttl_s)), job, owner),
            ).rowcount
        return bool(changed)

    def release(self, job: str, owner: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM locks WHERE job = ? AND owner = ?", (job, owner))


class SqliteImportClaims(_SqliteState):
    """``ImportClaims`` on SQLite."""

    def claim(self, claim_key: str, *, now: datetime, in_progress_ttl_s: int) -> Claim:
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT status, expires_at, result FROM claims WHERE id = ?", (claim_key,)
            ).fetchone()
            if row is not None and datetime.fromisoformat(row["expires_at"]) > now:
                result = json.loads(row["result"]) if row["result"] else None
                return Claim(acquired=False, status=row["status"], result=result)
            conn.execute(
                "INSERT OR REPLACE INTO claims (id, status, expires_at, result)"
                " VALUES (?, 'in_progress', ?, NULL)",
                (claim_key, _ts(now + timedelta(seconds=in_progress_ttl_s))),
            )
            return Claim(acquired=True, status="new")

    def complete(self, claim_key: str, result: Mapping[str, object], *, now: datetime, keep_s: int) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE claims SET status = 'done', expires_at = ?, result = ? WHERE id = ?",
                (_ts(now + timedelta(seconds=keep_s)), json.dumps(result, default=str), claim_key),
            )

    def release(self, claim_key: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM claims WHERE id = ? AND status = 'in_progress'", (claim_key,))


def _record(row: Mapping[str, Any]) -> RunRecord:
    return RunRecord(
        job=row["job"],
        run_id=row["run_id"],
        trigger=Trigger(row["trigger"]),
        started_at=datetime.fromisoformat(row["started_at"]),
        fetch_status=FetchStatus(row["fetch_status"]),
        ended_at=_dt(row["ended_at"]),
        pages=row["pages"],
        bytes=row["bytes"],
        error=row["error"],
        files_imported=row["files_imported"],
        files_failed=row["files_failed"],
        counts=ImportCounts(
            inserted=row["inserted"],
            updated=row["updated"],
            deleted=row["deleted"],
            skipped=row["skipped"],
            rows_read=row["rows_read"],
            failed=row["rows_failed"],
        ),
        import_errors=json.loads(row["import_errors"]),
        imported_at=_dt(row["imported_at"]),
        parameters=json.loads(row["parameters"]),
        warnings=json.loads(row["warnings"]),
        row_errors=json.loads(row["row_errors"]),
        pages_imported=json.loads(row["pages_imported"]),
        pages_failed=json.loads(row["pages_failed"]),
        last_page=row["last_page"],
        finalised=FinaliseRecord.from_json(row["finalised"]),
        requested_by=row["requested_by"],
        audit=json.loads(row["audit"]) if row["audit"] else None,
        actions=[OperatorAction.from_dict(a) for a in json.loads(row["actions"])],
        lock_name=row["lock_name"],
        lock_owner=row["lock_owner"],
    )


@dataclass(frozen=True)
class LocalBatchState:
    """Runs, locks and claims of one state folder (default ``.erpbridge/``)."""

    runs: SqliteRunRecorder
    locks: SqliteJobLock
    claims: SqliteImportClaims

    @classmethod
    def open(cls, state_dir: str | Path) -> LocalBatchState:
        path = Path(state_dir) / "batch.db"
        return cls(SqliteRunRecorder(path), SqliteJobLock(path), SqliteImportClaims(path))
