"""The two-level cache on its own: local layer over a shared store, TTL and fallback window,
product stamps (invalidation for every customer/unit/quantity), and no shared-store round trip
for a request the local layer can answer."""

from __future__ import annotations

from typing import Any

from erpbridge.adapters.local.memory_cache import MemoryCacheStore
from erpbridge.live.cache import TieredCache, product_stamp_key


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class CountingStore(MemoryCacheStore):
    def __init__(self, clock: Clock) -> None:
        super().__init__(clock=clock)
        self.reads = 0

    def get_many(self, keys: Any) -> Any:
        self.reads += 1
        return super().get_many(keys)


def _tiers() -> tuple[TieredCache, TieredCache, CountingStore, Clock]:
    clock = Clock()
    shared = CountingStore(clock)
    first = TieredCache(local=MemoryCacheStore(clock=clock), shared=shared, local_ttl_s=10, clock=clock)
    second = TieredCache(local=MemoryCacheStore(clock=clock), shared=shared, local_ttl_s=10, clock=clock)
    return first, second, shared, clock


def test_fresh_then_stale_then_gone() -> None:
    cache, _, _, clock = _tiers()
    cache.put_many([("k", {"price": "1"}, 300)], keep_for_s=3600)
    assert cache.get_many(["k"])["k"].fresh
    clock.now += 301
    stale = cache.get_many(["k"])["k"]
    assert not stale.fresh and stale.value == {"price": "1"}  # still there, for fallbacks
    clock.now += 3600
    assert cache.get_many(["k"]) == {}


def test_another_container_reads_through_the_shared_store_and_invalidation_reaches_it() -> None:
    first, second, _, clock = _tiers()
    stamp = product_stamp_key("", "P1")
    first.put_many([("price|c1|P1", {"p": 1}, 300), ("price|c2|P1", {"p": 2}, 300)], keep_for_s=0)
    assert second.get_many(["price|c1|P1"], stamps={"price|c1|P1": stamp})["price|c1|P1"].fresh
    clock.now += 1
    first.invalidate_products("", ["P1"], ttl_s=600)
    # At once in the invalidating container, for every customer …
    hits = first.get_many(
        ["price|c1|P1", "price|c2|P1"], stamps=dict.fromkeys(["price|c1|P1", "price|c2|P1"], stamp)
    )
    assert set(hits) == {"price|c1|P1", "price|c2|P1"}  # still there (stale), not merely absent
    assert not any(hit.fresh for hit in hits.values())
    # … and in the other one once its local copy (10 s) has lapsed.
    clock.now += 11
    assert not second.get_many(["price|c1|P1"], stamps={"price|c1|P1": stamp})["price|c1|P1"].fresh


def test_a_repeated_request_does_not_touch_the_shared_store() -> None:
    cache, _, shared, _ = _tiers()
    keys = [f"price|c|P{n}" for n in range(50)]
    stamps = {key: product_stamp_key("", key.rsplit("|", 1)[1]) for key in keys}
    cache.put_many([(key, {"p": 1}, 300) for key in keys], keep_for_s=0)
    cache.get_many(keys, stamps=stamps)  # learns that no product has a stamp
    reads = shared.reads
    hits = cache.get_many(keys, stamps=stamps)
    assert len(hits) == 50 and all(hit.fresh for hit in hits.values())
    assert shared.reads == reads


def test_an_endpoints_namespace_keeps_its_records_apart_but_shares_the_stamps() -> None:
    default, other_container, _, clock = _tiers()
    nordic = default.namespaced("ep=nordic|")
    nordic.put_many([("price|c1|P1", {"p": "nordic"}, 300)], keep_for_s=0)
    default.put_many([("price|c1|P1", {"p": "default"}, 300)], keep_for_s=0)
    assert nordic.get_many(["price|c1|P1"])["price|c1|P1"].value == {"p": "nordic"}
    assert default.get_many(["price|c1|P1"])["price|c1|P1"].value == {"p": "default"}
    # Another container's view of the same namespace reads the same shared records.
    assert other_container.namespaced("ep=nordic|").get_many(["price|c1|P1"])["price|c1|P1"].value == {
        "p": "nordic"
    }
    clock.now += 1
    default.invalidate_products("", ["P1"], ttl_s=600)  # an order's invalidation, on any endpoint
    stamps = {"price|c1|P1": product_stamp_key("", "P1")}
    assert not nordic.get_many(["price|c1|P1"], stamps=stamps)["price|c1|P1"].fresh


def test_a_batch_imports_stamp_makes_every_endpoints_records_stale() -> None:
    from erpbridge.live.cache import namespace_stamp_key

    default, _, _, clock = _tiers()
    nordic = default.namespaced("ep=nordic|")
    nordic.put_many([("price|c1|P1", {"p": "nordic"}, 300)], keep_for_s=3600)
    clock.now += 1
    default.invalidate_namespace("", ttl_s=600)  # what an import that changed prices writes
    hit = nordic.get_many(["price|c1|P1"], namespace_stamp=namespace_stamp_key(""))["price|c1|P1"]
    assert not hit.fresh and hit.value == {"p": "nordic"}  # stale, still there as a fallback
