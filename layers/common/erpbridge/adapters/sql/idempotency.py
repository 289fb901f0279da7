"""Idempotency-Key records in the shop database: ``IdempotencyStore`` (the insert wins; a stale
unfinished record is taken over by compare-and-set on its lock time).

The first answer's status is kept in the ``status_code`` column as the number it has always held
(201 created, 422 rejected, 202 anything else: its body names the status), so records written by
earlier releases, or by a version still running during a deploy, read the same both ways.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from erpbridge.adapters.sql.live_tables import IDEMPOTENCY, now_naive, utc_naive
from erpbridge.live.models import OrderStatus
from erpbridge.live.ports import IdempotencyRecord, JsonValue

# The stored form of a finished answer's status (see the module docstring); never change a number.
_STORED_CODE: dict[OrderStatus, int] = {OrderStatus.CREATED: 201, OrderStatus.REJECTED: 422}
_ACCEPTED_CODE = 202  # queued or unknown: the status is read from the stored body


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
        response = json.loads(row["response"]) if row["response"] else None
        return IdempotencyRecord(
            key=key,
            fingerprint=row["fingerprint"],
            outcome=_outcome(row["status_code"], response),
            response=response,
        )

    def complete(self, key: str, outcome: OrderStatus, response: Mapping[str, JsonValue]) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                sa.update(IDEMPOTENCY)
                .where(IDEMPOTENCY.c.key == key)
                .values(
                    status_code=_STORED_CODE.get(outcome, _ACCEPTED_CODE),
                    response=json.dumps(response, default=str),
                )
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


def _outcome(status_code: int | None, response: Mapping[str, JsonValue] | None) -> OrderStatus | None:
    """The status a stored answer had (None while its request still runs)."""
    if status_code is None or response is None:
        return None
    for status, code in _STORED_CODE.items():
        if code == status_code:
            return status
    return OrderStatus(response["status"])
