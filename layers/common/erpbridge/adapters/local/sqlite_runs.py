"""Run records in the batch state file (``RunRecorder`` on SQLite)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from erpbridge.adapters.local.sqlite_state_file import SqliteStateFile, iso, parse_time
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


class SqliteRunRecorder(SqliteStateFile):
    """``RunRecorder`` on SQLite."""

    def create(self, run: RunRecord, *, stale_before: datetime) -> bool:
        with self._transaction() as conn:
            existing = conn.execute(
                "SELECT fetch_status, started_at FROM runs WHERE job = ? AND run_id = ?",
                (run.job, run.run_id),
            ).fetchone()
            if existing is not None:
                started = parse_time(existing["started_at"])
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
                    iso(run.started_at),
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
                (str(status), iso(ended_at), pages, bytes_, error, job, run_id),
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
                    (job, run_id, str(Trigger.UPLOAD), iso(at), iso(at), str(FetchStatus.FETCHED)),
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
                    iso(at),
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
                    iso(ended_at),
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


def _record(row: Mapping[str, Any]) -> RunRecord:
    return RunRecord(
        job=row["job"],
        run_id=row["run_id"],
        trigger=Trigger(row["trigger"]),
        started_at=datetime.fromisoformat(row["started_at"]),
        fetch_status=FetchStatus(row["fetch_status"]),
        ended_at=parse_time(row["ended_at"]),
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
        imported_at=parse_time(row["imported_at"]),
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
