"""The batch state file (``.erpbridge/batch.db``): one SQLite file for runs, locks and claims.

The local stand-in for the DynamoDB runs, locks and idempotency tables: the same conditional
semantics (a lock is taken only when free or expired; a claim only when new, expired or released),
enforced with ``BEGIN IMMEDIATE`` transactions so concurrent processes on one machine agree. Each
store (``sqlite_runs``, ``sqlite_job_lock``, ``sqlite_import_claims``) opens the same file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

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


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class SqliteStateFile:
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
