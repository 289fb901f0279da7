"""Job locks in the batch state file (``JobLock`` on SQLite)."""

from __future__ import annotations

from datetime import datetime, timedelta

from erpbridge.adapters.local.sqlite_state_file import SqliteStateFile, iso
from erpbridge.batch.ports import LockHolder


class SqliteJobLock(SqliteStateFile):
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
                (job, owner, iso(now + timedelta(seconds=ttl_s))),
            )
            return None

    def extend(self, job: str, owner: str, *, now: datetime, ttl_s: int) -> bool:
        with self._transaction() as conn:
            changed = conn.execute(
                "UPDATE locks SET expires_at = ? WHERE job = ? AND owner = ?",
                (iso(now + timedelta(seconds=ttl_s)), job, owner),
            ).rowcount
        return bool(changed)

    def release(self, job: str, owner: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM locks WHERE job = ? AND owner = ?", (job, owner))
