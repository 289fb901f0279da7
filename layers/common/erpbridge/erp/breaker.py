"""Circuit breaker in front of the ERP.

closed ──N consecutive connection failures──► open ──cool-down elapsed, one caller probes──►
half-open ──probe succeeds──► closed / ──probe fails──► open (cool-down starts again).

State lives behind the :class:`~erpbridge.erp.ports.BreakerStore` port, so several Lambda
containers can share one breaker; every change is a compare-and-set on the state's version, so two
containers never both become the half-open probe. A failure counts only when the ERP could not be
reached or did not answer (connection errors, timeouts, gateway 502/503/504) — an ERP that answers
with a fault is up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from erpbridge.erp.ports import BreakerPhase, BreakerState, BreakerStore, InMemoryBreakerStore
from erpbridge.errors import ErpUnavailableError

log = logging.getLogger("erpbridge.erp.breaker")

# Compare-and-set attempts before giving up on a state change; losing every race means other
# callers are changing the same state right now, and their change is as good as ours.
_CAS_ATTEMPTS = 5


class CircuitOpenError(ErpUnavailableError):
    """The breaker is open: the call was refused without contacting the ERP."""


class CircuitBreaker:
    def __init__(
        self,
        store: BreakerStore | None = None,
        *,
        name: str = "erp",
        failure_threshold: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.time,
        on_open: Callable[[], None] | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.store: BreakerStore = store if store is not None else InMemoryBreakerStore()
        self.name = name
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._on_open = on_open

    @property
    def phase(self) -> BreakerPhase:
        return self.store.load(self.name).phase

    def would_allow(self) -> bool:
        """Whether a call would be let through now (changes nothing)."""
        state = self.store.load(self.name)
        return self._admission(state, self._clock()) != "reject"

    def before_call(self) -> BreakerState:
        """Let the call through (returning the state seen), or raise :class:`CircuitOpenError`. In
        the open state after the cool-down, exactly one caller (by compare-and-set) is let through
        as the probe."""
        for _ in range(_CAS_ATTEMPTS):
            state = self.store.load(self.name)
            now = self._clock()
            admission = self._admission(state, now)
            if admission == "pass":
                return state
            if admission == "reject":
                break
            probe = replace(state, phase=BreakerPhase.HALF_OPEN, probe_started_at=now)
            if self.store.save(self.name, probe, expected_version=state.version):
                log.info("ERP circuit half-open: probing", extra={"breaker": self.name})
                return replace(probe, version=state.version + 1)
        raise CircuitOpenError("ERP circuit breaker is open (recent connection failures); request not sent")

    def record_success(self, seen: BreakerState | None = None) -> BreakerPhase:
        """The ERP answered. ``seen`` is what :meth:`before_call` returned: when it was closed
        without failures there is nothing to reset, and a shared store is not even read."""
        if seen is not None and seen.phase is BreakerPhase.CLOSED and seen.consecutive_failures == 0:
            return BreakerPhase.CLOSED
        for _ in range(_CAS_ATTEMPTS):
            state = self.store.load(self.name)
            if state.phase is BreakerPhase.CLOSED and state.consecutive_failures == 0:
                return BreakerPhase.CLOSED  # nothing to write: keeps a shared store quiet
            closed = BreakerState(phase=BreakerPhase.CLOSED, version=state.version)
            if self.store.save(self.name, closed, expected_version=state.version):
                if state.phase is not BreakerPhase.CLOSED:
                    log.info("ERP circuit closed", extra={"breaker": self.name})
                return BreakerPhase.CLOSED
        return self.phase

    def record_failure(self) -> BreakerPhase:
        """The ERP could not be reached or did not answer."""
        for _ in range(_CAS_ATTEMPTS):
            state = self.store.load(self.name)
            now = self._clock()
            if state.phase is BreakerPhase.OPEN:
                return BreakerPhase.OPEN
            failures = state.consecutive_failures + 1
            if state.phase is BreakerPhase.HALF_OPEN or failures >= self.failure_threshold:
                new = BreakerState(
                    phase=BreakerPhase.OPEN,
                    consecutive_failures=failures,
                    opened_at=now,
                    version=state.version,
                )
            else:
                new = replace(state, consecutive_failures=failures)
            if self.store.save(self.name, new, expected_version=state.version):
                if new.phase is BreakerPhase.OPEN:
                    log.warning(
                        "ERP circuit opened after %d consecutive connection failures",
                        failures,
                        extra={"breaker": self.name},
                    )
                    if self._on_open is not None:
                        self._on_open()  # once per opening: only the winner of the save gets here
                return new.phase
        return self.phase

    def _admission(self, state: BreakerState, now: float) -> str:
        """ "pass", "reject" or "probe" (become the half-open probe by compare-and-set)."""
        if state.phase is BreakerPhase.CLOSED:
            return "pass"
        if state.phase is BreakerPhase.OPEN:
            opened_at = state.opened_at if state.opened_at is not None else now
            return "probe" if now - opened_at >= self.cooldown_s else "reject"
        # Half-open: one probe is in flight. If it never reported back (its container died), let
        # another caller take over once a cool-down has passed.
        started = state.probe_started_at if state.probe_started_at is not None else now
        return "probe" if now - started >= self.cooldown_s else "reject"
