"""Local adapters: a folder for the object store and SQLite for runs, locks and claims, so the
batch use cases run without AWS (``make run``, the CLI, tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from erpbridge.adapters.local.object_store import FilesystemObjectStore
from erpbridge.adapters.local.state import SqliteImportClaims, SqliteJobLock, SqliteRunRecorder

__all__ = [
    "FilesystemObjectStore",
    "LocalBatchState",
    "SqliteImportClaims",
    "SqliteJobLock",
    "SqliteRunRecorder",
]


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
