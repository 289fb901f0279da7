"""Degradation as policy: one test per choice of ERPBRIDGE_DEGRADE_*, the ERP taken down through
the emulator's control API (its listener really closed), over HTTP against the emulator."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """SQLite: only the checkout choices touch the database's state machine (they run on both)."""
    return sqlite_url


PRODUCT = "P000003"


@contextmanager
def erp_down(emulator: Any) -> Iterator[None]:
    emulator.control.down()
    try:
        yield
    finally:
        emulator.control.up()


def _prices(live: Any, *products: str) -> Any:
    body = {"customer_number": "10000", "items": [{"product_id": p} for p in products]}
    return live.call("POST", "/v1/prices", body)


def _stale_then_down(live: Any, emulator: Any) -> tuple[dict[str, Any], Any]:
    """The product priced by the ERP, its cache entry expired, then the price asked with the ERP down."""
    fresh = _prices(live, PRODUCT).body["items"][0]
    live.services.cache._clock = lambda: time.time() + 3600  # past the TTL, within the stale window
    with erp_down(emulator):
        answer = _prices(live, PRODUCT, "P000004")  # P000004 was never cached
    return fresh, answer


def _refused(answer: Any) -> None:
    assert answer.status == 503, answer.body
    assert answer.body["error"] == "erp_unavailable" and answer.headers["retry-after"] == "17"


def test_prices_default_a_stale_price_then_the_shop_database(live: Any, emulator: Any) -> None:
    fresh, answer = _stale_then_down(live, emulator)
    stale, never_cached = answer.body["items"]
    assert answer.status == 200 and answer.body["degraded"] is True
    assert stale["source"] == "fallback" and stale["price"] == fresh["price"]
    # The shop database of this test holds no prices: the second source answers "not found".
    assert never_cached["source"] == "fallback" and never_cached["found"] is False


def test_prices_shop_only_never_serves_a_stale_price(live_factory: Callable[..., Any], emulator: Any) -> None:
    live = live_factory(ERPBRIDGE_DEGRADE_PRICES="shop-prices")
    _, answer = _stale_then_down(live, emulator)
    stale = answer.body["items"][0]
    assert stale["source"] == "fallback" and stale["price"] is None and stale["found"] is False


def test_prices_stale_cache_only_has_nothing_for_a_product_never_priced(
    live_factory: Callable[..., Any], emulator: Any
) -> None:
    live = live_factory(ERPBRIDGE_DEGRADE_PRICES="cache-stale")
    fresh, answer = _stale_then_down(live, emulator)
    stale, never_cached = answer.body["items"]
    assert stale["price"] == fresh["price"]
    assert never_cached["found"] is None and "ERPBRIDGE_DEGRADE_PRICES" in never_cached["reason"]


def test_prices_refuse_is_503_with_retry_after(live_factory: Callable[..., Any], emulator: Any) -> None:
    live = live_factory(ERPBRIDGE_DEGRADE_PRICES="refuse", ERPBRIDGE_DEGRADE_RETRY_AFTER_S="17")
    _, answer = _stale_then_down(live, emulator)
    _refused(answer)
    assert _prices(live, PRODUCT).status == 200  # the ERP is back: prices as usual


@pytest.mark.parametrize(
    ("policy", "status", "shown"),
    [("last-known", "last_known", True), ("hide", "hidden", False), ("unknown", "unknown", False)],
)
def test_stock_while_the_erp_is_down(
    live_factory: Callable[..., Any], emulator: Any, policy: str, status: str, shown: bool
) -> None:
    live = live_factory(ERPBRIDGE_DEGRADE_STOCK=policy)
    fresh, answer = _stale_then_down(live, emulator)
    assert fresh["stock"] is not None and fresh["stock_status"] == "current" and fresh["stock_age_s"] is None
    stale = answer.body["items"][0]
    assert stale["stock_status"] == status and stale["price"] == fresh["price"]
    if shown:
        assert stale["stock"] == fresh["stock"] and stale["stock_age_s"] >= 0
    else:
        assert stale["stock"] is None and stale["stock_age_s"] is None


BASKET = {"customer_number": "10000", "lines": [{"product_id": "P000001", "quantity": 2}]}


def test_basket_estimate_is_flagged(live: Any, emulator: Any) -> None:
    priced = live.call("POST", "/v1/baskets/calculate", BASKET)
    assert priced.body["estimate"] is False and priced.body["source"] == "erp"
    other = {**BASKET, "lines": [{"product_id": "P000002", "quantity": 1}]}
    with erp_down(emulator):
        estimated = live.call("POST", "/v1/baskets/calculate", other)
    assert estimated.status == 200 and estimated.body["source"] == "fallback"
    assert estimated.body["estimate"] is True and "computed by erpbridge" in estimated.body["message"]


def test_basket_refuse_is_503_with_retry_after(live_factory: Callable[..., Any], emulator: Any) -> None:
    live = live_factory(ERPBRIDGE_DEGRADE_BASKET="refuse", ERPBRIDGE_DEGRADE_RETRY_AFTER_S="17")
    with erp_down(emulator):
        _refused(live.call("POST", "/v1/baskets/calculate", BASKET))


def test_documents_are_503_with_retry_after(live_factory: Callable[..., Any], emulator: Any) -> None:
    live = live_factory(ERPBRIDGE_DEGRADE_RETRY_AFTER_S="17")
    with erp_down(emulator):
        _refused(live.call("GET", "/v1/customers/10000/documents?type=invoice"))
