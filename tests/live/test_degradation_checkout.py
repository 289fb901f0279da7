"""Checkout while the ERP is down, both choices of ERPBRIDGE_DEGRADE_CHECKOUT, on SQLite and
PostgreSQL: queue (202, sent later) or refuse (503 with Retry-After, and nothing sends it later)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ORDER = {
    "order_id": "WEB-DEG-1",
    "customer_number": "10000",
    "lines": [{"product_id": "P000001", "quantity": 1}],
}


def _sales_orders(emulator: Any) -> int:
    return sum(o["shop_order_id"] == ORDER["order_id"] for o in emulator.control.sales_orders())


def _order_while_down(live: Any, emulator: Any, key: str) -> Any:
    emulator.control.down()
    try:
        return live.call("POST", "/v1/orders", ORDER, headers={"Idempotency-Key": key})
    finally:
        emulator.control.up()


def test_checkout_queue_accepts_and_sends_later(live: Any, emulator: Any) -> None:
    answer = _order_while_down(live, emulator, "key-deg-0001")
    assert answer.status == 202 and answer.body["status"] == "queued"
    assert live.services.orders.export_failed_orders(older_than_s=0).created == 1
    assert _sales_orders(emulator) == 1


def test_checkout_refuse_is_503_and_the_order_is_never_sent_on_its_own(
    live_factory: Callable[..., Any], emulator: Any
) -> None:
    live = live_factory(ERPBRIDGE_DEGRADE_CHECKOUT="refuse", ERPBRIDGE_DEGRADE_RETRY_AFTER_S="17")
    answer = _order_while_down(live, emulator, "key-deg-0002")
    assert answer.status == 503 and answer.body["error"] == "erp_unavailable"
    assert answer.headers["retry-after"] == "17"
    detail = live.call("GET", "/v1/orders/WEB-DEG-1").body
    assert (detail["status"], detail["state"]) == ("declined", "declined")
    assert live.services.orders.export_failed_orders(older_than_s=0).picked == 0
    assert _sales_orders(emulator) == 0
    # The shop retries (same key: it was released, the same order id continues the order): created once.
    again = live.call("POST", "/v1/orders", ORDER, headers={"Idempotency-Key": "key-deg-0002"})
    assert again.status == 201, again.body
    assert _sales_orders(emulator) == 1
