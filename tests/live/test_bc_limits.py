"""The live API when BC's request limit is used up by other containers: the limiter's record (a
SQLite file, as containers share a DynamoDB item) holds every slot, so a price request waits its
turn and then falls back, and an order is queued, never sent past the limit. A cache hit never
touches the limiter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from erpbridge.adapters.local.sqlite_limiter import SqliteLimiterStore
from erpbridge.erp.client import SoapErpClient

ORDER = {
    "order_id": "WEB-LIMIT-1",
    "customer_number": "10000",
    "currency": "EUR",
    "billing_address": {"name": "Ada Shopper", "city": "Aarhus", "country_code": "DK"},
    "lines": [{"product_id": "P000001", "quantity": 2}],
}


def _prices(live: Any, products: list[str]) -> Any:
    body = {"customer_number": "10000", "currency": "", "items": [{"product_id": p} for p in products]}
    return live.call("POST", "/v1/prices", body)


def _fill_every_slot(live: Any, limiter_file: Path) -> list[str]:
    """What five requests in flight in other containers look like to this one."""
    other_container = SoapErpClient(live.services.settings, limiter_store=SqliteLimiterStore(limiter_file))
    assert other_container.limiter is not None
    return [other_container.limiter.acquire(wait_s=0) for _ in range(5)]


def test_prices_and_orders_respect_a_limit_other_containers_used_up(
    live_factory: Any, emulator: Any, tmp_path: Path
) -> None:
    limiter_file = tmp_path / "limiter.db"
    live = live_factory(
        ERPBRIDGE_ERP_LIMITER_FILE=str(limiter_file),
        ERPBRIDGE_ERP_LIMIT_LIVE_WAIT_S="0.3",
        ERPBRIDGE_ERP_LIMIT_ORDER_WAIT_S="0.3",
    )
    warm = _prices(live, ["P000001"])
    assert warm.status == 200 and warm.body["items"][0]["source"] == "erp"
    sent_before = len(emulator.control.requests())

    _fill_every_slot(live, limiter_file)
    cached = _prices(live, ["P000001"])
    assert cached.body["items"][0]["source"] == "cache"  # a cache hit does not wait for a slot
    limited = _prices(live, ["P000002"])
    assert limited.status == 200
    assert limited.body["items"][0]["source"] == "fallback"
    order = live.call("POST", "/v1/orders", ORDER, headers={"Idempotency-Key": "limit-key-0001"})
    assert order.status == 202 and order.body["status"] == "queued"
    assert len(emulator.control.requests()) == sent_before  # nothing went past the limit
    detail = live.call("GET", "/v1/orders/WEB-LIMIT-1")
    assert [e["outcome"] for e in detail.body["timeline"]] == ["not_sent"]
