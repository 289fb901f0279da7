"""The batch state of one local state folder: its runs, locks and claims, in one SQLite file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from erpbridge.adapters.local.sqlite_import_claims import SqliteImportClaims
from erpbridge.adapters.local.sqlite_job_lock import SqliteJobLock
from erpbridge.adapters.local.sqlite_runs import SqliteRunRecorder


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
