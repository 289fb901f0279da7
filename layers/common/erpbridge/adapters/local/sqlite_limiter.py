"""Implements :class:`erpbridge.erp.limiter.LimiterStore` in a SQLite file, so several local processes
(``erpbridge serve`` workers, a benchmark's clients) share BC's limits as Lambda containers do.

One row per principal: its version and its state as JSON. A save is an ``UPDATE … WHERE version = ?``
(or an insert for version 0), so two processes never take the same slot.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from erpbridge.erp.limiter import LimiterState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS erp_limiter (
    principal TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    state TEXT NOT NULL
)
"""


class SqliteLimiterStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connection() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    def load(self, principal: str) -> LimiterState:
        row = (
            self._connection()
            .execute("SELECT version, state FROM erp_limiter WHERE principal = ?", (principal,))
            .fetchone()
        )
        if row is None:
            return LimiterState()
        payload = json.loads(row[1])
        return LimiterState(
            leases=payload["leases"],
            buckets={int(index): count for index, count in payload["buckets"].items()},
            version=row[0],
        )

    def save(self, principal: str, state: LimiterState, *, expected_version: int) -> bool:
        text = json.dumps(
            {"leases": dict(state.leases), "buckets": {str(i): n for i, n in state.buckets.items()}}
        )
        connection = self._connection()
        if expected_version == 0:
            cursor = connection.execute(
                "INSERT OR IGNORE INTO erp_limiter (principal, version, state) VALUES (?, 1, ?)",
                (principal, text),
            )
        else:
            cursor = connection.execute(
                "UPDATE erp_limiter SET version = version + 1, state = ? WHERE principal = ? AND version = ?",
                (text, principal, expected_version),
            )
        return cursor.rowcount == 1
