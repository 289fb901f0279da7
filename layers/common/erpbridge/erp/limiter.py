"""BC's request limits, kept by every container together: at most N requests in flight and at most M
started per sliding window, per ERP principal (the user or service principal the requests run as).

Business Central online allows a principal about 5 requests at once and 6,000 per 5 minutes; past
either it answers 429 (peer-connectors.md §3.3). Lambda runs hundreds of containers, so the count
must live in a store they share (DynamoDB in AWS, a SQLite file or memory locally). The state of a
principal is one record, changed by compare-and-swap on its version:

* **leases** — one per request in flight, with an expiry, so a container that crashes mid-request
  frees its slot when the lease runs out instead of leaking it;
* **buckets** — requests started per slice of the window (``window_s / buckets`` seconds). A start
  is admitted when the current slice and the ``buckets`` before it hold fewer than M starts. Any
  sliding window of ``window_s`` lies within those ``buckets + 1`` slices, so BC's own sliding count
  never exceeds M; the price is a ceiling of ``M * buckets / (buckets + 1)`` in steady overload.

A caller that finds no room waits up to what its request kind may wait (a price request up to the
live deadline, an order briefly, a batch fetch long), then gets :class:`ErpLimitReachedError`: an
:class:`~erpbridge.errors.ErpBusyError`, "not sent", which the use cases already answer with a
fallback price or a queued order. The limiter sits in the ERP client, so a cache hit never meets it.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Protocol

from erpbridge.errors import ErpBusyError

#: Compare-and-swap attempts per try before treating contention as "no room yet".
_CAS_ATTEMPTS = 8
#: How long a caller waiting for a free in-flight slot sleeps between looks (jittered).
_SLOT_POLL_S = 0.02


class ErpLimitReachedError(ErpBusyError):
    """BC's request limit for this principal is used up: the request was not sent."""


@dataclass(frozen=True)
class RequestLimits:
    """The limits of one principal (``ERPBRIDGE_ERP_LIMIT_*``, whose defaults are BC online's)."""

    max_in_flight: int
    max_per_window: int
    window_s: float
    buckets: int = 10
    #: A lease outlives its request by at most this long when its holder dies.
    lease_s: float = 120.0

    @property
    def bucket_s(self) -> float:
        return self.window_s / self.buckets


@dataclass(frozen=True)
class LimiterState:
    """One principal's shared record: leases in flight and starts per bucket."""

    leases: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))  # id -> expires at
    buckets: Mapping[int, int] = field(default_factory=lambda: MappingProxyType({}))  # index -> starts
    version: int = 0


class LimiterStore(Protocol):
    """Where limiter state lives, shared by every container that talks to the same principal."""

    def load(self, principal: str) -> LimiterState:
        """The stored state (an empty, version-0 state when none is stored)."""
        ...

    def save(self, principal: str, state: LimiterState, *, expected_version: int) -> bool:
        """Store ``state`` as version ``expected_version + 1`` if the stored version is still
        ``expected_version``; False (nothing stored) when another container got there first."""
        ...


@dataclass(frozen=True)
class _Admission:
    state: LimiterState | None  # the state to store when admitted
    wait_s: float  # how long until there may be room, when not admitted
    reason: str = ""


def admit(state: LimiterState, now: float, limits: RequestLimits, lease_id: str) -> _Admission:
    """Decide one start against ``state`` at wall-clock ``now`` (pure: no store, no clock)."""
    leases = {lease: expiry for lease, expiry in state.leases.items() if expiry > now}
    current = int(now // limits.bucket_s)
    oldest_counted = current - limits.buckets
    buckets = {index: count for index, count in state.buckets.items() if index >= oldest_counted}
    if len(leases) >= limits.max_in_flight:
        return _Admission(None, _SLOT_POLL_S, f"{limits.max_in_flight} requests already in flight")
    if sum(buckets.values()) >= limits.max_per_window:
        # Room comes back when the oldest counted bucket leaves the window.
        wait = (current + 1) * limits.bucket_s - now
        return _Admission(
            None, max(wait, _SLOT_POLL_S), f"{limits.max_per_window} requests in {limits.window_s:g} s"
        )
    leases[lease_id] = now + limits.lease_s
    buckets[current] = buckets.get(current, 0) + 1
    return _Admission(LimiterState(leases, buckets, state.version), 0.0)


def principal_key(url: str, identity: str) -> str:
    """A stable, secret-free name for the principal behind ``identity`` at ``url``."""
    return "erp-principal:" + hashlib.sha256(f"{url}\n{identity}".encode()).hexdigest()[:24]


class RequestLimiter:
    """Admits ERP requests of one principal within :class:`RequestLimits`. Thread-safe."""

    def __init__(
        self,
        store: LimiterStore,
        principal: str,
        limits: RequestLimits,
        *,
        clock: Callable[[], float] = time.time,  # shared across containers: wall-clock seconds
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.principal = principal
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter

    def in_flight(self) -> int:
        now = self._clock()
        return sum(1 for expiry in self.store.load(self.principal).leases.values() if expiry > now)

    def acquire(self, *, wait_s: float) -> str:
        """Take one request slot (its lease id), waiting up to ``wait_s`` for room; :meth:`release` it."""
        lease_id = uuid.uuid4().hex
        deadline = self._clock() + wait_s
        while True:
            admission = self._try(lease_id)
            if admission is None:
                return lease_id
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise ErpLimitReachedError(
                    f"BC's request limit is reached ({admission.reason}); "
                    f"not sent after waiting {wait_s:g} s",
                    retry_after_s=admission.wait_s,
                )
            self._sleep(min(remaining, admission.wait_s * (1.0 + self._jitter())))

    def _try(self, lease_id: str) -> _Admission | None:
        """None when admitted; else why not and how long until there may be room."""
        for _ in range(_CAS_ATTEMPTS):
            state = self.store.load(self.principal)
            admission = admit(state, self._clock(), self.limits, lease_id)
            if admission.state is None:
                return admission
            if self.store.save(self.principal, admission.state, expected_version=state.version):
                return None
        return _Admission(None, _SLOT_POLL_S, "the shared limiter record is contended")

    def release(self, lease_id: str) -> None:
        for _ in range(_CAS_ATTEMPTS):
            state = self.store.load(self.principal)
            if lease_id not in state.leases:
                return
            leases = {lease: expiry for lease, expiry in state.leases.items() if lease != lease_id}
            if self.store.save(self.principal, replace(state, leases=leases), expected_version=state.version):
                return
        # Still contended: the lease runs out on its own after ``lease_s``.


class InMemoryLimiterStore:
    """Limiter state for one process (thread-safe): what a single local server needs."""

    def __init__(self) -> None:
        self._states: dict[str, LimiterState] = {}
        self._lock = threading.Lock()

    def load(self, principal: str) -> LimiterState:
        with self._lock:
            return self._states.get(principal, LimiterState())

    def save(self, principal: str, state: LimiterState, *, expected_version: int) -> bool:
        with self._lock:
            if self._states.get(principal, LimiterState()).version != expected_version:
                return False
            self._states[principal] = replace(state, version=expected_version + 1)
            return True
