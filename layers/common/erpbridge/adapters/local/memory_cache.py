"""In-process stores for the live API: the per-container cache layer, and the shared stores of
`erpbridge serve` when no AWS settings are given. Thread-safe (the local server is threaded)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from erpbridge.live.ports import CacheRecord


class MemoryCacheStore:
    """A bounded LRU of cache records; expired records are dropped on read."""

    def __init__(self, *, max_entries: int = 50_000, clock: Callable[[], float] = time.time) -> None:
        self._records: OrderedDict[str, CacheRecord] = OrderedDict()
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> dict[str, CacheRecord]:
        now = self._clock()
        found: dict[str, CacheRecord] = {}
        with self._lock:
            for key in keys:
                record = self._records.get(key)
                if record is None:
                    continue
                if record.keep_until <= now:
                    del self._records[key]
                    continue
                self._records.move_to_end(key)
                found[key] = record
        return found

    def put_many(self, records: Sequence[CacheRecord]) -> None:
        with self._lock:
            for record in records:
                self._records[record.key] = record
                self._records.move_to_end(record.key)
            while len(self._records) > self._max_entries:
                self._records.popitem(last=False)

    def delete_many(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._records.pop(key, None)

    def __len__(self) -> int:
        return len(self._records)
