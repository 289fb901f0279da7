"""The ERP transport as the rest of erpbridge sees it: request kinds, the transport port, the
availability status and the circuit-breaker state store.

Pure module: no HTTP library here. The SOAP adapter is :mod:`erpbridge.erp.client`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import BinaryIO, Protocol


class RequestKind(StrEnum):
    """What a request does; decides its retry and timeout policy."""

    PING = "ping"
    PRODUCT_INFO = "product_info"
    PRICE_AUDIT = "price_audit"  # a product-info request of the price audit: background, not live
    CALCULATE_ORDER = "calculate_order"
    CREATE_ORDER = "create_order"
    GET_LIST = "get_list"
    GET_ITEM = "get_item"
    GET_PDF = "get_pdf"
    BATCH_FETCH = "batch_fetch"
    EXPORT_ORDER = "export_order"


#: Kinds that change nothing in the ERP, so sending them twice is harmless. Creating or exporting
#: an order is left out: a blind re-send after a lost answer could create the order twice.
RETRY_SAFE: frozenset[RequestKind] = frozenset(RequestKind) - {
    RequestKind.CREATE_ORDER,
    RequestKind.EXPORT_ORDER,
}


@dataclass(frozen=True)
class StreamedResponse:
    """What :meth:`ErpTransport.stream` wrote: the byte count and the root's ``ExportIsDone``."""

    bytes_written: int
    export_is_done: bool | None


Sink = BinaryIO | Callable[[bytes], object]


class ErpTransport(Protocol):
    """One operation: a request XML in, the ERP's (unescaped) response out."""

    def call(self, request_xml: bytes, *, kind: RequestKind) -> str:
        """Send ``request_xml`` and return the inner response document as text."""
        ...

    def stream(
        self, request_xml: bytes, sink: Sink, *, kind: RequestKind = RequestKind.BATCH_FETCH
    ) -> StreamedResponse:
        """Send ``request_xml`` and write the inner response document to ``sink`` as UTF-8 bytes,
        chunk by chunk (memory does not grow with the response)."""
        ...


class BreakerPhase(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerState:
    """One breaker's stored state. ``version`` lets a shared store do compare-and-set.

    Times are seconds on the breaker's clock (wall-clock epoch seconds when the store is shared
    between processes).
    """

    phase: BreakerPhase = BreakerPhase.CLOSED
    consecutive_failures: int = 0
    opened_at: float | None = None
    probe_started_at: float | None = None
    version: int = 0


class BreakerStore(Protocol):
    """Where circuit-breaker state lives: in memory here, shared (e.g. DynamoDB) across containers."""

    def load(self, name: str) -> BreakerState:
        """The stored state of breaker ``name`` (a closed, version-0 state when none is stored)."""
        ...

    def save(self, name: str, state: BreakerState, *, expected_version: int) -> bool:
        """Store ``state`` with version ``expected_version + 1`` if the stored version is still
        ``expected_version``; return False (and store nothing) when someone else got there first."""
        ...


class InMemoryBreakerStore:
    """Breaker state for one process (thread-safe)."""

    def __init__(self) -> None:
        self._states: dict[str, BreakerState] = {}
        self._lock = threading.Lock()

    def load(self, name: str) -> BreakerState:
        with self._lock:
            return self._states.get(name, BreakerState())

    def save(self, name: str, state: BreakerState, *, expected_version: int) -> bool:
        with self._lock:
            current = self._states.get(name, BreakerState())
            if current.version != expected_version:
                return False
            self._states[name] = replace(state, version=expected_version + 1)
            return True


class ErpCondition(StrEnum):
    """How the ERP answered the last call (see :class:`ErpStatus`)."""

    OK = "ok"  # it answered as the plug-in unit does
    MISCONFIGURED = "misconfigured"  # something answers, but a setting is wrong (URL, service, credentials)
    UNREACHABLE = "unreachable"  # no connection, or it failed on the way
    SLOW = "slow"  # no answer within the timeout
    BUSY = "busy"  # it asked us to come back later (HTTP 429)


@dataclass(frozen=True)
class ErpStatus:
    """Whether the ERP answers, as last checked (cached for ``erp_status_ttl_s``).

    ``last_success`` is the last real answer (never a 404, a refused login or a fault about the
    service); ``reason`` says what went wrong and ``setting`` which setting to check.
    """

    reachable: bool
    checked_at: datetime
    breaker_state: BreakerPhase
    last_success: datetime | None
    condition: ErpCondition = ErpCondition.OK
    reason: str | None = None
    setting: str | None = None
    endpoint: str = ""
