"""The emulator's request journal: every SOAP request received, and counters. Thread-safe."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_RECORDS = 2000
MAX_RECORDED_XML = 256 * 1024


@dataclass
class RequestRecord:
    id: int
    received_at: float
    method: str
    kind: str | None = None
    request_xml: str | None = None
    status: int | None = None  # HTTP status sent; 0 = no answer (dropped / hung / reset)
    fault: str | None = None  # the injected fault, if any
    error: str | None = None  # the SOAP fault message, if the request was refused
    shop_order_id: str | None = None
    duration_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Journal:
    """Requests received and counters. Thread-safe."""

    records: deque[RequestRecord] = field(default_factory=lambda: deque(maxlen=MAX_RECORDS))
    counters: Counter[str] = field(default_factory=Counter)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, method: str) -> RequestRecord:
        record = RequestRecord(id=next(self._ids), received_at=time.time(), method=method)
        with self._lock:
            self.records.append(record)
        return record

    def finish(self, record: RequestRecord, *, status: int, duration_ms: float) -> None:
        record.status = status
        record.duration_ms = round(duration_ms, 3)
        if record.request_xml is not None and len(record.request_xml) > MAX_RECORDED_XML:
            record.request_xml = record.request_xml[:MAX_RECORDED_XML] + "…(truncated by the journal)"
        with self._lock:
            self.counters["requests"] += 1
            self.counters[f"requests.kind.{record.kind or 'none'}"] += 1
            self.counters[f"requests.status.{status}"] += 1

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self.counters[name] += amount

    def clear(self) -> None:
        with self._lock:
            self.records.clear()
            self.counters.clear()

    def snapshot(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            records = list(self.records)
        return [r.to_dict() for r in records if kind is None or r.kind == kind]

    def counter_snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self.counters.items()))
