"""The live API against the BC emulator over real HTTP: prices (chunking, cache hit/expiry/negative,
invalidation), baskets, documents and PDFs, and health."""

from __future__ import annotations

import time
from typing import Any

import pytest


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """SQLite only: nothing here depends on the database dialect (tests/live/test_orders_faults.py
    and test_erp_down.py run the database paths on both)."""
    return sqlite_url


CUSTOMER = "10000"
PRODUCTS = [f"P{n:06d}" for n in range(1, 26)]


def _prices(live: Any, products: list[str], **extra: Any) -> Any:
    body = {
        "customer_number": CUSTOMER,
        "currency": "",
        "items": [{"product_id": p} for p in products],
        **extra,
    }
    return live.call("POST", "/v1/prices", body)


def test_prices_come_from_the_erp_in_chunks_then_from_the_cache(live_factory: Any, emulator: Any) -> None:
    live = live_factory(ERPBRIDGE_MAX_PRODUCTS_PER_REQUEST="10")
    first = _prices(live, PRODUCTS)
    assert first.status == 200, first.body
    assert {i["source"] for i in first.body["items"]} == {"erp"}
    assert all(i["found"] and i["price"] is not None for i in first.body["items"])
    assert len(emulator.control.requests("product_info")) == 3  # 25 items / 10 per request
    second = _prices(live, PRODUCTS)
    assert {i["source"] for i in second.body["items"]} == {"cache"}
    assert [i["price"] for i in second.body["items"]] == [i["price"] for i in first.body["items"]]
    assert len(emulator.control.requests("product_info")) == 3  # no new ERP call


def test_unknown_products_are_cached_negatively(live: Any, emulator: Any) -> None:
    first = _prices(live, ["NO-SUCH-ITEM", "P000001"])
    unknown, known = first.body["items"]
    assert unknown["found"] is False and unknown["price"] is None and unknown["source"] == "erp"
    assert known["found"] is True
    again = _prices(live, ["NO-SUCH-ITEM"])
    assert again.body["items"][0]["found"] is False and again.body["items"][0]["source"] == "cache"
    assert len(emulator.control.requests("product_info")) == 1


def test_expired_entries_are_fetched_again(live: Any, emulator: Any) -> None:
    _prices(live, ["P000002"])
    live.services.cache._clock = lambda: time.time() + 3600  # an hour later: the TTL (300 s) passed
    answer = _prices(live, ["P000002"])
    assert answer.body["items"][0]["source"] == "erp"
    assert len(emulator.control.requests("product_info")) == 2


def test_cached_prices_serve_as_fallback_when_the_erp_goes_down(live: Any, emulator: Any) -> None:
    fresh = _prices(live, ["P000003"]).body["items"][0]
    live.services.cache._clock = lambda: time.time() + 3600
    emulator.control.down(30)
    try:
        answer = _prices(live, ["P000003"])
    finally:
        emulator.control.up()
    item = answer.body["items"][0]
    assert item["source"] == "fallback" and answer.body["degraded"] is True
    assert item["price"] == fresh["price"] and item["as_of"] == fresh["as_of"]


def test_slow_erp_past_the_deadline_answers_with_fallback(live_factory: Any, emulator: Any) -> None:
    live = live_factory(ERPBRIDGE_LIVE_DEADLINE_S="0.3")
    emulator.control.set_faults(latency_ms=1500, kinds=["product_info"])
    answer = _prices(live, ["P000004"])
    assert answer.status == 200
    assert answer.body["items"][0]["source"] == "fallback" and "0.3 s" in answer.body["message"]


def test_basket_is_priced_by_the_erp_and_an_unchanged_basket_comes_from_cache(
    live: Any, emulator: Any
) -> None:
    basket = {"customer_number": CUSTOMER, "lines": [{"product_id": "P000001", "quantity": 3}]}
    first = live.call("POST", "/v1/baskets/calculate", basket)
    assert first.status == 200, first.body
    assert first.body["source"] == "erp" and first.body["totals"]["total_with_vat"] > 0
    assert any(line["line_type"] == "product" for line in first.body["lines"])
    second = live.call("POST", "/v1/baskets/calculate", basket)
    assert second.body["source"] == "cache" and second.body["totals"] == first.body["totals"]
    assert len(emulator.control.requests("calculate_order")) == 1
    changed = live.call(
        "POST", "/v1/baskets/calculate", {**basket, "lines": [{"product_id": "P000001", "quantity": 4}]}
    )
    assert changed.body["source"] == "erp"


def test_documents_list_detail_and_pdf(live: Any) -> None:
    listing = live.call(
        "GET", f"/v1/customers/{CUSTOMER}/documents?type=invoice&page=1&page_size=3&sort=No&direction=desc"
    )
    assert listing.status == 200, listing.body
    assert 0 < len(listing.body["items"]) <= 3
    number = listing.body["items"][0]["No"]
    detail = live.call("GET", f"/v1/customers/{CUSTOMER}/documents/invoice/{number}")
    assert detail.status == 200 and detail.body["lines"]
    pdf = live.call("GET", f"/v1/customers/{CUSTOMER}/documents/invoice/{number}/pdf")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.raw.startswith(b"%PDF")
    missing = live.call("GET", f"/v1/customers/{CUSTOMER}/documents/invoice/NO-SUCH-DOC")
    assert missing.status == 404
    bad_type = live.call("GET", f"/v1/customers/{CUSTOMER}/documents?type=quote")
    assert bad_type.status == 422


def test_erp_faults_map_to_clear_5xx(live: Any, emulator: Any) -> None:
    emulator.control.set_faults(error_rate=1.0, kinds=["get_list"])
    fault = live.call("GET", f"/v1/customers/{CUSTOMER}/documents?type=invoice")
    assert fault.status == 502 and fault.body["error"] == "erp_fault"
    emulator.control.set_faults(busy_429_rate=1.0, kinds=["get_list"])
    busy = live.call("GET", f"/v1/customers/{CUSTOMER}/documents?type=invoice")
    assert busy.status == 503 and "retry-after" in busy.headers
    for answer in (fault, busy):
        assert "Traceback" not in answer.raw.decode() and "X-Security-Key" not in answer.raw.decode()


def test_health_when_the_erp_answers(live: Any) -> None:
    answer = live.call("GET", "/v1/health")
    assert answer.status == 200
    assert answer.body["erp_reachable"] is True and answer.body["breaker_state"] == "closed"
    assert answer.body["status"] == "ok" and answer.body["last_success"] is not None


def test_an_order_invalidates_the_ordered_products_cached_prices(live: Any, emulator: Any) -> None:
    _prices(live, ["P000005", "P000006"])
    order = {
        "order_id": "WEB-INV-1",
        "customer_number": CUSTOMER,
        "lines": [{"product_id": "P000005", "quantity": 1}],
    }
    assert live.call("POST", "/v1/orders", order, headers={"Idempotency-Key": "key-inv-0001"}).status == 201
    after = {i["product_id"]: i["source"] for i in _prices(live, ["P000005", "P000006"]).body["items"]}
    assert after == {"P000005": "erp", "P000006": "cache"}  # stock of the ordered product changed


def test_shop_controlled_discounts_and_shipping(live: Any) -> None:
    basket = {"customer_number": CUSTOMER, "lines": [{"product_id": "P000001", "quantity": 3}]}
    erp_only = live.call("POST", "/v1/baskets/calculate", basket).body["totals"]
    shop = live.call(
        "POST",
        "/v1/baskets/calculate",
        {
            **basket,
            "erp_controls_discount": False,
            "discounts": [{"name": "Spring", "amount": 10}],
            "erp_controls_shipping": False,
            "shipping": {"method_id": "DHL", "fee": 8.75, "fee_without_vat": 7},
        },
    ).body
    assert shop["source"] == "erp" and shop["discounts_by"] == "shop" and shop["shipping_by"] == "shop"
    assert shop["totals"]["discount"] == 10 and shop["totals"]["shipping_fee"] == 8.75
    # The ERP's own basket has no discount and free shipping (goods above the free-shipping amount),
    # so the shop's total is the ERP's minus the shop discount (10) plus its fee without VAT (7).
    assert erp_only["discount"] == 0 and erp_only["shipping_fee"] == 0
    assert shop["totals"]["subtotal"] == pytest.approx(erp_only["subtotal"])
    assert shop["totals"]["total"] == pytest.approx(erp_only["total"] - 3)  # − 10 discount + 7 shipping
    assert any(line["line_type"] == "discount" and line["price"] == -10 for line in shop["lines"])
