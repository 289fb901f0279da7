"""Circuit-breaker state machine on a shared store (two breakers = two Lambda containers)."""

from __future__ import annotations

import pytest

from erp.conftest import FakeClock
from erpbridge.erp.breaker import CircuitBreaker, CircuitOpenError
from erpbridge.erp.ports import BreakerPhase, BreakerState, InMemoryBreakerStore
from erpbridge.errors import ErpUnavailableError


def breakers(clock: FakeClock, count: int = 2) -> list[CircuitBreaker]:
    store = InMemoryBreakerStore()
    return [
        CircuitBreaker(store, name="erp:x", failure_threshold=3, cooldown_s=30, clock=clock)
        for _ in range(count)
    ]


def test_closed_until_n_consecutive_failures_and_a_success_resets_the_count() -> None:
    clock = FakeClock()
    (breaker,) = breakers(clock, 1)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.phase is BreakerPhase.CLOSED
    breaker.before_call()
    breaker.record_failure()
    assert breaker.phase is BreakerPhase.OPEN
    with pytest.raises(CircuitOpenError) as caught:
        breaker.before_call()
    assert isinstance(caught.value, ErpUnavailableError)


def test_after_the_cooldown_exactly_one_container_probes() -> None:
    clock = FakeClock()
    first, second = breakers(clock)
    for _ in range(3):
        first.record_failure()
    clock.advance(29.9)
    assert not second.would_allow()
    clock.advance(0.1)
    assert second.would_allow()
    second.before_call()  # second becomes the probe
    assert first.phase is BreakerPhase.HALF_OPEN
    with pytest.raises(CircuitOpenError):
        first.before_call()
    second.record_success()
    assert first.phase is BreakerPhase.CLOSED
    first.before_call()


def test_failed_probe_reopens_and_restarts_the_cooldown() -> None:
    clock = FakeClock()
    first, second = breakers(clock)
    for _ in range(3):
        first.record_failure()
    clock.advance(30)
    first.before_call()
    first.record_failure()
    assert second.phase is BreakerPhase.OPEN
    clock.advance(29)
    with pytest.raises(CircuitOpenError):
        second.before_call()
    clock.advance(1)
    second.before_call()


def test_a_probe_that_never_reports_back_is_taken_over_after_a_cooldown() -> None:
    clock = FakeClock()
    first, second = breakers(clock)
    for _ in range(3):
        first.record_failure()
    clock.advance(30)
    first.before_call()  # ... and its container dies
    clock.advance(10)
    with pytest.raises(CircuitOpenError):
        second.before_call()
    clock.advance(20)
    second.before_call()
    assert second.phase is BreakerPhase.HALF_OPEN


def test_store_compare_and_set_refuses_a_stale_version() -> None:
    store = InMemoryBreakerStore()
    state = store.load("b")
    assert store.save(
        "b", BreakerState(phase=BreakerPhase.OPEN, opened_at=1.0), expected_version=state.version
    )
    assert not store.save("b", BreakerState(), expected_version=state.version)
    assert store.load("b").phase is BreakerPhase.OPEN
    assert store.load("b").version == 1


def test_happy_path_writes_nothing_to_the_store() -> None:
    store = InMemoryBreakerStore()
    breaker = CircuitBreaker(store, name="b", failure_threshold=5, cooldown_s=30)
    for _ in range(5):
        breaker.before_call()
        breaker.record_success()
    assert store.load("b").version == 0


class CountingStore(InMemoryBreakerStore):
    def __init__(self) -> None:
        super().__init__()
        self.loads = 0
        self.saves = 0

    def load(self, name: str) -> BreakerState:
        self.loads += 1
        return super().load(name)

    def save(self, name: str, state: BreakerState, *, expected_version: int) -> bool:
        self.saves += 1
        return super().save(name, state, expected_version=expected_version)


def test_a_healthy_call_costs_one_read_of_a_shared_store() -> None:
    store = CountingStore()
    breaker = CircuitBreaker(store, name="b", failure_threshold=5, cooldown_s=30)
    seen = breaker.before_call()
    assert breaker.record_success(seen) is BreakerPhase.CLOSED
    assert (store.loads, store.saves) == (1, 0)


def test_success_after_failures_resets_the_count_for_everyone() -> None:
    clock = FakeClock()
    first, second = breakers(clock)
    seen = first.before_call()
    second.record_failure()
    second.record_failure()
    first.record_success(seen)  # saw a clean state before the others failed: still not reset ...
    assert first.store.load("erp:x").consecutive_failures == 2
    first.record_success(first.before_call())  # ... the next call, which sees the failures, resets
    assert first.store.load("erp:x").consecutive_failures == 0
