"""Idempotency-Key records in the shop database: ``IdempotencyStore`` (the insert wins; a stale
unfinished record is taken over by compare-and-set on its lock time)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from erpbridge.adapters.sql.live_tables import IDEMPOTENCY, now_naive, utc_naive
from erpbridge.live.ports import IdempotencyRecord, JsonValue


class SqlIdempotencyStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def begin(self, key: str, fingerprint: str, *, lock_s: float) -> IdempotencyRecord | None:
        now = now_naive()
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    sa.insert(IDEMPOTENCY).values(
                        key=key,
                        fingerprint=fingerprint,
                        locked_until=now + timedelta(seconds=lock_s),
                        created_at=now,
                    )
                )
            return None
        except sa.exc.IntegrityError:
            pass
        with self._engine.connect() as connection:
            row = (
                connection.execute(sa.select(IDEMPOTENCY).where(IDEMPOTENCY.c.key == key)).mappings().first()
            )
        if row is None:  # abandoned between our insert and our read: try once more
            return self.begin(key, fingerprint, lock_s=lock_s)
        if row["status_code"] is None and row["locked_until"] < now and row["fingerprint"] == fingerprint:
            # The first request's worker died: take over by compare-and-set on its lock time, in a
            # transaction that starts with the write (SQLite cannot upgrade a read to a write).
            with self._engine.begin() as connection:
                taken = connection.execute(
                    sa.update(IDEMPOTENCY)
                    .where(IDEMPOTENCY.c.key == key, IDEMPOTENCY.c.locked_until == row["locked_until"])
                    .values(locked_until=now + timedelta(seconds=lock_s))
                )
            if taken.rowcount == 1:
                return None
        return IdempotencyRecord(
            key=key,
            fingerprint=row["fingerprint"],
            status_code=row["status_code"],
            response=json.loads(row["response"]) if row["response"] else None,
        )

    def complete(self, key: str, status_code: int, response: Mapping[str, JsonValue]) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                sa.update(IDEMPOTENCY)
                .where(IDEMPOTENCY.c.key == key)
                .values(status_code=status_code, response=json.dumps(response, default=str))
            )

    def purge(self, *, older_than: datetime) -> int:
        with self._engine.begin() as connection:
            result = connection.execute(
                sa.delete(IDEMPOTENCY).where(
                    IDEMPOTENCY.c.created_at < utc_naive(older_than), IDEMPOTENCY.c.status_code.is_not(None)
                )
            )
        return int(result.rowcount or 0)

    def abandon(self, key: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                sa.delete(IDEMPOTENCY).where(IDEMPOTENCY.c.key == key, IDEMPOTENCY.c.status_code.is_(None))
            )
