"""Import claims in the batch state file (``ImportClaims`` on SQLite)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta

from erpbridge.adapters.local.sqlite_state_file import SqliteStateFile, iso
from erpbridge.batch.ports import Claim, ClaimStatus


class SqliteImportClaims(SqliteStateFile):
    """``ImportClaims`` on SQLite."""

    def claim(self, claim_key: str, *, now: datetime, in_progress_ttl_s: int) -> Claim:
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT status, expires_at, result FROM claims WHERE id = ?", (claim_key,)
            ).fetchone()
            if row is not None and datetime.fromisoformat(row["expires_at"]) > now:
                result = json.loads(row["result"]) if row["result"] else None
                return Claim(acquired=False, status=ClaimStatus(row["status"]), result=result)
            conn.execute(
                "INSERT OR REPLACE INTO claims (id, status, expires_at, result) VALUES (?, ?, ?, NULL)",
                (claim_key, str(ClaimStatus.IN_PROGRESS), iso(now + timedelta(seconds=in_progress_ttl_s))),
            )
            return Claim(acquired=True, status=ClaimStatus.NEW)

    def complete(self, claim_key: str, result: Mapping[str, object], *, now: datetime, keep_s: int) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE claims SET status = ?, expires_at = ?, result = ? WHERE id = ?",
                (
                    str(ClaimStatus.DONE),
                    iso(now + timedelta(seconds=keep_s)),
                    json.dumps(result, default=str),
                    claim_key,
                ),
            )

    def release(self, claim_key: str) -> None:
        with self._transaction() as conn:
            conn.execute(
                "DELETE FROM claims WHERE id = ? AND status = ?", (claim_key, str(ClaimStatus.IN_PROGRESS))
            )
