"""BC's request limits kept across containers: the admission rule, the shared stores (memory, a
SQLite file, DynamoDB), leases that free a crashed holder's slot, and the client against the
emulator's BC-limits mode over real HTTP (429s without the limiter, none with it)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from erpbridge.adapters.aws.dynamodb_limiter import DynamoDbLimiterStore
from erpbridge.adapters.local.sqlite_limiter import SqliteLimiterStore
from erpbridge.erp.client import SoapErpClient
from erpbridge.erp.limiter import (
    ErpLimitReachedError,
    InMemoryLimiterStore,
    LimiterState,
    LimiterStore,
    RequestLimiter,
    RequestLimits,
    admit,
)
from erpbridge.erp.ports import RequestKind
from erpbridge.errors import ErpBusyError
from erpbridge.protocol.request_builders import build_ping
from erpbridge.settings import ErpSettings

LIMITS = RequestLimits(max_in_flight=2, max_per_window=5, window_s=10.0, buckets=10, lease_s=30.0)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


# --- the admission rule -------------------------------------------------------------------------


def _admit_many(state: LimiterState, now: float, count: int) -> tuple[LimiterState, int]:
    admitted = 0
    for n in range(count):
        decision = admit(state, now, LIMITS, f"lease-{now}-{n}")
        if decision.state is None:
            break
        state = decision.state
        admitted += 1
    return state, admitted


def test_no_more_than_max_in_flight_at_once() -> None:
    state, admitted = _admit_many(LimiterState(), 1_000_000.0, 5)
    assert admitted == 2
    refused = admit(state, 1_000_000.0, LIMITS, "third")
    assert refused.state is None and "in flight" in refused.reason


def test_a_dead_holders_lease_frees_its_slot_when_it_expires() -> None:
    state, _ = _admit_many(LimiterState(), 1_000_000.0, 2)  # two holders that never release
    assert admit(state, 1_000_000.0 + LIMITS.lease_s - 1, LIMITS, "x").state is None
    assert admit(state, 1_000_000.0 + LIMITS.lease_s + 1, LIMITS, "x").state is not None


def test_no_sliding_window_ever_holds_more_than_the_rate_limit() -> None:
    """Starts admitted every 0.1 s for a minute: every 10-s window (BC's sliding count) stays <= 5."""
    state, starts, now = LimiterState(), [], 1_000_000.0
    while now < 1_000_060.0:
        decision = admit(state, now, LIMITS, f"l{now}")
        if decision.state is not None:
            starts.append(now)
            state = LimiterState({}, decision.state.buckets, state.version)  # released at once
        now = round(now + 0.1, 3)
    worst = max(sum(1 for s in starts if t - LIMITS.window_s < s <= t) for t in starts)
    assert worst <= LIMITS.max_per_window
    # ...and the limiter does not starve: at least buckets/(buckets+1) of the limit gets through.
    assert len(starts) >= 6 * LIMITS.max_per_window * LIMITS.buckets // (LIMITS.buckets + 1) - 1


# --- the stores: one contract ---------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], LimiterStore]]:
    """Makes stores that share one state, as two containers (or processes) would."""
    if request.param == "memory":
        shared = InMemoryLimiterStore()
        yield lambda: shared
    elif request.param == "sqlite":
        yield lambda: SqliteLimiterStore(tmp_path / "limiter.db")
    else:
        with mock_aws():
            client = boto3.client("dynamodb", region_name="eu-west-1")
            client.create_table(
                TableName="breaker",
                AttributeDefinitions=[{"AttributeName": "name", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "name", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
            yield lambda: DynamoDbLimiterStore("breaker", client=client)


def test_a_store_saves_only_over_the_version_it_read(store_factory: Callable[[], LimiterStore]) -> None:
    one, other = store_factory(), store_factory()
    assert one.load("p") == LimiterState()
    first = LimiterState({"a": 10.5}, {3: 1})
    assert one.save("p", first, expected_version=0)
    assert not other.save("p", LimiterState({"b": 1.0}, {}), expected_version=0)  # lost the race
    seen = other.load("p")
    assert (dict(seen.leases), dict(seen.buckets), seen.version) == ({"a": 10.5}, {3: 1}, 1)
    assert other.save("p", LimiterState({}, {3: 1}), expected_version=1)
    assert one.load("p").version == 2 and not one.load("p").leases
    assert one.load("another principal") == LimiterState()


def test_limiters_sharing_a_store_share_the_limit(store_factory: Callable[[], LimiterStore]) -> None:
    """Two containers: the second sees the first's requests in flight and waits, then gives up."""
    clock = Clock()
    first = RequestLimiter(store_factory(), "p", LIMITS, clock=clock, sleep=clock.sleep, jitter=lambda: 0.0)
    second = RequestLimiter(store_factory(), "p", LIMITS, clock=clock, sleep=clock.sleep, jitter=lambda: 0.0)
    held = [first.acquire(wait_s=0), first.acquire(wait_s=0)]
    assert second.in_flight() == 2
    started = clock.now
    with pytest.raises(ErpLimitReachedError) as refused:
        second.acquire(wait_s=0.5)
    assert isinstance(refused.value, ErpBusyError)  # the use cases' "not sent": fallback or queue
    assert clock.now - started == pytest.approx(0.5)
    first.release(held.pop())
    lease = second.acquire(wait_s=0.5)
    assert second.in_flight() == 2
    second.release(lease)
    first.release(held.pop())
    assert first.in_flight() == 0


def test_a_full_window_waits_for_the_oldest_bucket_to_leave() -> None:
    clock = Clock(1_000_000.05)
    limiter = RequestLimiter(InMemoryLimiterStore(), "p", LIMITS, clock=clock, sleep=clock.sleep)
    for _ in range(LIMITS.max_per_window):
        limiter.release(limiter.acquire(wait_s=0))
    with pytest.raises(ErpLimitReachedError, match="5 requests in 10 s"):
        limiter.acquire(wait_s=5)
    limiter.release(limiter.acquire(wait_s=LIMITS.window_s + 2))  # room once the bucket left
    assert clock.now - 1_000_000.05 >= LIMITS.window_s


# --- the client over HTTP against the emulator in BC-limits mode -------------------------------


def _settings(emulator: Any, **overrides: Any) -> ErpSettings:
    values: dict[str, Any] = {
        "erp_url": emulator.soap_url,
        "erp_auth": "key",
        "erp_security_key": emulator.config.security_key,
        "erp_max_retries": 0,  # count the emulator's 429s, not the client's retries of them
        **overrides,
    }
    return ErpSettings.model_validate(values)


def _storm(clients: list[SoapErpClient], calls_each: int) -> list[BaseException]:
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(client: SoapErpClient) -> None:
        for _ in range(calls_each):
            try:
                client.call(build_ping(), kind=RequestKind.PRODUCT_INFO)
            except Exception as error:
                with lock:
                    errors.append(error)

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_without_the_limiter_bc_answers_429_with_it_never(
    emulator_factory: Callable[..., Any], tmp_path: Path
) -> None:
    emulator = emulator_factory(auth="key", latency_ms=40.0)
    emulator.control.set_limits(max_in_flight=2, max_per_window=10_000, window_s=300)
    unlimited = [SoapErpClient(_settings(emulator, erp_limit_in_flight=0)) for _ in range(2)]
    errors = _storm(unlimited, 5)
    refused = emulator.control.counters().get("faults.bc_limit_429", 0)
    assert refused > 0 and errors and all(isinstance(e, ErpBusyError) for e in errors)

    emulator.reset()
    emulator.control.set_limits(max_in_flight=2, max_per_window=10_000, window_s=300)
    shared_file = tmp_path / "limiter.db"  # two "containers" sharing one store
    limited = [
        SoapErpClient(
            _settings(emulator, erp_limit_in_flight=2), limiter_store=SqliteLimiterStore(shared_file)
        )
        for _ in range(2)
    ]
    assert _storm(limited, 5) == []
    assert emulator.control.counters().get("faults.bc_limit_429", 0) == 0
    assert len(emulator.control.requests("ping")) == 40


def test_the_emulator_enforces_the_rate_window_with_retry_after(emulator_factory: Callable[..., Any]) -> None:
    emulator = emulator_factory(auth="key")
    emulator.control.set_limits(max_in_flight=5, max_per_window=3, window_s=60)
    client = SoapErpClient(_settings(emulator, erp_limit_in_flight=0))
    for _ in range(3):
        client.call(build_ping(), kind=RequestKind.PING)
    with pytest.raises(ErpBusyError) as busy:
        client.call(build_ping(), kind=RequestKind.PING)
    assert busy.value.retry_after_s is not None and 1 <= busy.value.retry_after_s <= 60
    emulator.control.clear_limits()
    client.call(build_ping(), kind=RequestKind.PING)
