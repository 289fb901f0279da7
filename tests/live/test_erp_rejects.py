"""An order (or basket) the ERP refuses is not one it could not take: over real HTTP against the
emulator, on SQLite and PostgreSQL.

A refusal (BC's application fault, or ``OrderCreated`` False with a reason) is answered 422
``erp_rejected`` with BC's message, kept as ``rejected`` and never sent again by Export Failed
Orders; an operator corrects the cause and re-sends it. An ERP that is down or fails keeps the
order queued (202), and a basket it cannot price falls back to an estimate.
"""

from __future__ import annotations

from typing import Any

import requests
from typer.testing import CliRunner


def _order(order_id: str, *, product: str = "P000001", customer: str = "10000") -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer_number": customer,
        "lines": [{"product_id": product, "quantity": 2}],
    }


def _post_order(served: str, body: dict[str, Any], key: str) -> requests.Response:
    return requests.post(f"{served}/v1/orders", json=body, headers={"Idempotency-Key": key}, timeout=30)


def _creates(emulator: Any, order_id: str) -> int:
    sent = emulator.control.requests("create_order") + emulator.control.requests("export_order")
    return sum(f'columnName="OrderId">{order_id}<' in (r["request_xml"] or "") for r in sent)


def test_an_order_for_an_unknown_item_is_rejected_with_bcs_message_and_never_retried(
    served: str, live: Any, emulator: Any
) -> None:
    answer = _post_order(served, _order("WEB-REJ-1", product="NO-SUCH-ITEM"), "key-rej-0001")
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"] == "erp_rejected" and body["order_id"] == "WEB-REJ-1"
    assert "The Item does not exist" in body["erp_message"] and "NO-SUCH-ITEM" in body["erp_message"]
    detail = requests.get(f"{served}/v1/orders/WEB-REJ-1", timeout=10).json()
    assert (detail["status"], detail["state"]) == ("rejected", "rejected")
    assert [e["outcome"] for e in detail["timeline"]] == ["rejected"]
    assert "The Item does not exist" in detail["last_error"]
    # The same request again (a client retry) gets the same answer and sends nothing.
    again = _post_order(served, _order("WEB-REJ-1", product="NO-SUCH-ITEM"), "key-rej-0001")
    assert (again.status_code, again.json()["erp_message"]) == (422, body["erp_message"])
    # Export Failed Orders never picks it up, however often it runs.
    for _ in range(2):
        assert live.services.orders.export_failed_orders(older_than_s=0).picked == 0
    assert _creates(emulator, "WEB-REJ-1") == 1
    health = requests.get(f"{served}/v1/health", timeout=10).json()
    assert health["orders_rejected"] == 1 and health["orders_waiting_for_export"] == 0


def test_order_created_false_is_rejected_and_an_operator_resends_it_once_corrected(
    served: str, live: Any, emulator: Any, monkeypatch: Any
) -> None:
    from erpbridge_cli.main import app

    emulator.control.block_customer("10000")
    answer = _post_order(served, _order("WEB-REJ-2"), "key-rej-0002")
    assert answer.status_code == 422, answer.text
    assert "Customer 10000 is blocked" in answer.json()["erp_message"]
    assert emulator.control.sales_order("WEB-REJ-2") is None
    runner = CliRunner()
    still = runner.invoke(app, ["orders", "resend", "WEB-REJ-2"])  # not corrected yet: refused again
    assert still.exit_code == 1 and "rejected" in still.output
    emulator.control.block_customer("10000", blocked=False)  # the operator corrects it in BC
    resent = runner.invoke(app, ["orders", "resend", "WEB-REJ-2"])
    assert resent.exit_code == 0, resent.output
    assert "created" in resent.output
    detail = requests.get(f"{served}/v1/orders/WEB-REJ-2", timeout=10).json()
    assert detail["status"] == "created" and detail["erp_order_id"]
    assert [e["outcome"] for e in detail["timeline"]] == ["rejected", "rejected", "created"]
    assert len([o for o in emulator.control.sales_orders() if o["shop_order_id"] == "WEB-REJ-2"]) == 1


def test_an_erp_that_fails_or_is_down_keeps_the_order_queued(served: str, emulator: Any) -> None:
    emulator.control.set_faults(kinds=["create_order"], error_rate=1.0)  # BC failed: not a refusal
    failed = _post_order(served, _order("WEB-REJ-3"), "key-rej-0003")
    assert failed.status_code == 202 and failed.json()["status"] == "queued"
    emulator.control.clear_faults()
    emulator.control.down()
    try:
        down = _post_order(served, _order("WEB-REJ-4"), "key-rej-0004")
    finally:
        emulator.control.up()
    assert down.status_code == 202 and down.json()["status"] == "queued"


def test_a_basket_the_erp_refuses_is_422_and_one_it_cannot_price_is_an_estimate(
    served: str, emulator: Any
) -> None:
    def basket(product: str) -> requests.Response:
        body = {"customer_number": "10000", "lines": [{"product_id": product, "quantity": 1}]}
        return requests.post(f"{served}/v1/baskets/calculate", json=body, timeout=30)

    refused = basket("NO-SUCH-ITEM")
    assert refused.status_code == 422 and refused.json()["error"] == "erp_rejected"
    assert "NO-SUCH-ITEM" in refused.json()["erp_message"]
    emulator.control.block_customer("10000")
    blocked = basket("P000001")
    assert blocked.status_code == 422 and "blocked" in blocked.json()["erp_message"]
    emulator.control.block_customer("10000", blocked=False)
    emulator.control.set_faults(kinds=["calculate_order"], error_rate=1.0)
    estimated = basket("P000002")
    assert estimated.status_code == 200 and estimated.json()["source"] == "fallback"
