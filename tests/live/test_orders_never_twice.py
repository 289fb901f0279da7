"""Never twice, against an ERP that does not deduplicate: the emulator here commits a new sales order
for every create it receives, so the only thing standing between an unknown outcome and a duplicate
is the lookup (GetList searched by the shop's order id) and what the order service does with its
answer — including when the lookup itself fails, is ambiguous, or runs before a slow ERP committed.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

CUSTOMER = "10000"


@pytest.fixture
def emulator(emulator_factory: Any) -> Any:
    """The BC emulator without duplicate protection: every create commits a new sales order."""
    return emulator_factory(auth="key", dedup=False)


def _order(order_id: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer_number": CUSTOMER,
        "billing_address": {"name": "Lucerne & Co.", "city": "Berlin", "country_code": "DE"},
        "lines": [{"product_id": "P000001", "quantity": 1}],
    }


def _post(live: Any, order_id: str, key: str | None = None) -> Any:
    return live.call(
        "POST", "/v1/orders", _order(order_id), headers={"Idempotency-Key": key or f"key-{order_id}"}
    )


def _sales_orders(emulator: Any, order_id: str) -> list[dict[str, Any]]:
    return [o for o in emulator.control.sales_orders() if o["shop_order_id"] == order_id]


def _sends(emulator: Any, order_id: str) -> int:
    sent = emulator.control.requests("create_order") + emulator.control.requests("export_order")
    return sum(f'columnName="OrderId">{order_id}<' in (r["request_xml"] or "") for r in sent)


def _outcomes(live: Any, order_id: str) -> list[str]:
    return [e["outcome"] for e in live.call("GET", f"/v1/orders/{order_id}").body["timeline"]]


def _unknown_but_committed(live: Any, emulator: Any, order_id: str) -> None:
    """Send the order so that the ERP commits it and the answer is lost."""
    emulator.control.set_faults(kinds=["create_order"], commit_then_drop_rate=1.0, times=1)
    assert _post(live, order_id).body["status"] == "unknown"
    assert len(_sales_orders(emulator, order_id)) == 1
    emulator.control.clear_faults()


LOOKUP_FAULTS: dict[str, dict[str, Any]] = {
    "500": {"error_rate": 1.0},
    "429": {"busy_429_rate": 1.0, "retry_after_s": 0},
    "timeout": {"hang_rate": 1.0, "hang_s": 3.0},
    "dropped": {"reset_rate": 1.0},
}


@pytest.mark.parametrize("fault", [*sorted(LOOKUP_FAULTS), "down"])
def test_an_order_is_not_sent_again_while_the_lookup_cannot_answer(
    live_factory: Any, emulator: Any, fault: str
) -> None:
    live = live_factory(ERPBRIDGE_ERP_TIMEOUT_S="0.5", ERPBRIDGE_ERP_BREAKER_FAILURES="100")
    order_id = f"WEB-LF-{fault.upper()}"
    _unknown_but_committed(live, emulator, order_id)

    if fault == "down":
        emulator.control.down(30)
    else:
        emulator.control.set_faults(kinds=["get_list"], **LOOKUP_FAULTS[fault])
    try:
        report = live.services.orders.export_failed_orders(older_than_s=0)
    finally:
        emulator.control.up()
        emulator.control.clear_faults()
        emulator.control.release_hanging()
    # The ERP could not say whether it has the order: sending it again could duplicate it.
    assert report.unknown == 1 and report.created == 0
    assert _sends(emulator, order_id) == 1
    assert _outcomes(live, order_id)[-1] == "lookup_failed"
    assert live.call("GET", f"/v1/orders/{order_id}").body["status"] == "unknown"

    assert live.services.orders.export_failed_orders(older_than_s=0).created == 1
    [sales_order] = _sales_orders(emulator, order_id)
    detail = live.call("GET", f"/v1/orders/{order_id}").body
    assert detail["erp_order_id"] == sales_order["no"]
    assert detail["timeline"][-1]["outcome"] == "found_in_erp"
    assert _sends(emulator, order_id) == 1


def test_lookups_that_keep_failing_dead_letter_the_order_without_sending_it(live: Any, emulator: Any) -> None:
    _unknown_but_committed(live, emulator, "WEB-LF-K")
    emulator.control.set_faults(kinds=["get_list"], error_rate=1.0)
    for _ in range(3):
        live.services.orders.export_failed_orders(older_than_s=0)
    detail = live.call("GET", "/v1/orders/WEB-LF-K").body
    assert detail["state"] == "dead_letter"  # K (3 here) counted failures: the unknown send + 2 lookups
    assert _sends(emulator, "WEB-LF-K") == 1
    emulator.control.clear_faults()
    assert live.services.orders.resend("WEB-LF-K").status.value == "created"  # looked up, found
    assert len(_sales_orders(emulator, "WEB-LF-K")) == 1 and _sends(emulator, "WEB-LF-K") == 1


def test_an_order_whose_id_begins_other_order_ids_is_still_found(live: Any, emulator: Any) -> None:
    """GetList's search matches values containing the text: WEB-PX-1 also matches WEB-PX-10…15,
    and those newer orders come first in the list."""
    _unknown_but_committed(live, emulator, "WEB-PX-1")
    for n in range(10, 16):
        assert _post(live, f"WEB-PX-{n}").status == 201
    report = live.services.orders.export_failed_orders(older_than_s=0)
    assert report.created == 1
    [sales_order] = _sales_orders(emulator, "WEB-PX-1")
    assert live.call("GET", "/v1/orders/WEB-PX-1").body["erp_order_id"] == sales_order["no"]
    assert _sends(emulator, "WEB-PX-1") == 1


def test_a_slow_erp_that_commits_after_the_client_gave_up_gets_the_order_once(
    live_factory: Any, emulator: Any
) -> None:
    """A short client timeout: the create is still running in the ERP when the client gives up, so a
    lookup right away finds nothing yet. Not found is trusted only once the send is old enough."""
    live = live_factory(ERPBRIDGE_ERP_TIMEOUT_S="0.3", ERPBRIDGE_ORDER_UNKNOWN_SETTLE_S="30")
    emulator.control.set_faults(kinds=["create_order"], latency_ms=1500)
    started = time.monotonic()
    assert _post(live, "WEB-SLOW-1").body["status"] == "unknown"
    emulator.control.clear_faults()

    report = live.services.orders.export_failed_orders(older_than_s=0)  # before the ERP committed
    assert report.unknown == 1 and report.created == 0
    assert _outcomes(live, "WEB-SLOW-1")[-1] == "not_found_in_erp"
    # A client retrying with a new Idempotency-Key is not a reason to send it again either.
    assert _post(live, "WEB-SLOW-1", "another-key-slow-1").body["status"] == "unknown"

    time.sleep(max(0.0, 2.0 - (time.monotonic() - started)))  # the ERP committed meanwhile
    assert live.services.orders.export_failed_orders(older_than_s=0).created == 1
    [sales_order] = _sales_orders(emulator, "WEB-SLOW-1")
    assert live.call("GET", "/v1/orders/WEB-SLOW-1").body["erp_order_id"] == sales_order["no"]
    assert _sends(emulator, "WEB-SLOW-1") == 1


def test_once_the_lookup_found_the_order_nothing_sends_it_again(live: Any, emulator: Any) -> None:
    _unknown_but_committed(live, emulator, "WEB-FOUND-1")
    # The client retries with a new key: the service looks the order up instead of sending it.
    again = _post(live, "WEB-FOUND-1", "another-key-found-1")
    assert again.status == 201 and again.body["status"] == "created"
    [sales_order] = _sales_orders(emulator, "WEB-FOUND-1")
    assert again.body["erp_order_id"] == sales_order["no"]
    assert _outcomes(live, "WEB-FOUND-1") == ["unknown", "found_in_erp"]
    # Neither the export task, an operator's re-send nor a third POST sends it after that.
    assert live.services.orders.export_failed_orders(older_than_s=0).picked == 0
    assert live.services.orders.resend("WEB-FOUND-1").erp_order_id == sales_order["no"]
    assert _post(live, "WEB-FOUND-1", "third-key-found-1").body["erp_order_id"] == sales_order["no"]
    assert _sends(emulator, "WEB-FOUND-1") == 1
    assert len(_sales_orders(emulator, "WEB-FOUND-1")) == 1
