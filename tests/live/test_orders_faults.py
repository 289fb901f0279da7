"""Orders under every ERP fault end with exactly one sales order per shop order once Export Failed
Orders has run: never lost, never created twice.

The tests that send orders through faults run against the emulator twice: with its duplicate
protection (a repeated create on the same OrderId answers the first sales order) and without it
(every create commits a new sales order), so a broken unknown-outcome lookup shows up as a second
sales order instead of being absorbed.
"""

from __future__ import annotations

from typing import Any

import pytest

FAULTS: dict[str, dict[str, Any]] = {
    "500": {"error_rate": 1.0},
    "429": {"busy_429_rate": 1.0},
    "timeout": {"hang_rate": 1.0, "hang_s": 3.0},
    "commit-then-drop": {"commit_then_drop_rate": 1.0},
    # hang-then-commit as the client sees it: the order is committed, the answer never comes.
    "commit-then-hang": {"commit_then_hang_rate": 1.0, "hang_s": 3.0},
}
COMMITTED = ("commit-then-drop", "commit-then-hang")  # the ERP holds the order after the fault


@pytest.fixture
def emulator(request: pytest.FixtureRequest, emulator_factory: Any) -> Any:
    """The emulator with duplicate protection of order creation, or without it (``no-dedup``)."""
    return emulator_factory(auth="key", dedup=getattr(request, "param", "dedup") == "dedup")


# Tests that send orders through faults run in both modes of the emulator.
BOTH_MODES = pytest.mark.parametrize("emulator", ["dedup", "no-dedup"], indirect=True)


def _order(order_id: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer_number": "10000",
        "billing_address": {"name": "Lucerne & Co.", "city": "Berlin", "country_code": "DE"},
        "lines": [{"product_id": "P000001", "quantity": 2}, {"product_id": "P000003", "quantity": 1}],
    }


def _sales_orders_for(emulator: Any, order_id: str) -> list[dict[str, Any]]:
    return [o for o in emulator.control.sales_orders() if o["shop_order_id"] == order_id]


def _sends_of(emulator: Any, order_id: str) -> list[dict[str, Any]]:
    """Create requests (live or export) the ERP received for the shop order."""
    sent = emulator.control.requests("create_order") + emulator.control.requests("export_order")
    return [r for r in sent if f'columnName="OrderId">{order_id}<' in (r["request_xml"] or "")]


def test_order_is_created_once_and_stored_back(live: Any, emulator: Any) -> None:
    answer = live.call("POST", "/v1/orders", _order("WEB-OK-1"), headers={"Idempotency-Key": "order-ok-0001"})
    assert answer.status == 201, answer.body
    assert answer.body["status"] == "created" and answer.body["erp_order_id"]
    assert answer.body["totals"]["total_with_vat"] > 0 and answer.body["lines"]
    replay = live.call("POST", "/v1/orders", _order("WEB-OK-1"), headers={"Idempotency-Key": "order-ok-0001"})
    assert replay.status == 201 and replay.body == answer.body
    assert len(_sales_orders_for(emulator, "WEB-OK-1")) == 1
    assert len(emulator.control.requests("create_order")) == 1
    detail = live.call("GET", "/v1/orders/WEB-OK-1").body
    assert detail["erp_order_id"] == answer.body["erp_order_id"]
    assert [e["outcome"] for e in detail["timeline"]] == ["created"]
    xml = live.services.xml_store.get_bytes(detail["timeline"][0]["request_xml"])
    assert b'submitType="LiveOrderOrCart"' in xml and b"CreateOrder" in xml


@BOTH_MODES
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_ends_with_exactly_one_sales_order(live_factory: Any, emulator: Any, fault: str) -> None:
    live = live_factory(ERPBRIDGE_ERP_TIMEOUT_S="1")  # the hanging faults time out sooner
    order_id = f"WEB-F-{fault.upper()}"
    emulator.control.set_faults(kinds=["create_order"], **FAULTS[fault])
    first = live.call("POST", "/v1/orders", _order(order_id), headers={"Idempotency-Key": f"key-{order_id}"})
    assert first.status == 202, first.body
    expected = "unknown" if fault in ("timeout", *COMMITTED) else "queued"
    assert first.body["status"] == expected
    emulator.control.clear_faults()
    emulator.control.release_hanging()

    report = live.services.orders.export_failed_orders(older_than_s=0)
    assert report.created == 1

    [sales_order] = _sales_orders_for(emulator, order_id)
    detail = live.call("GET", f"/v1/orders/{order_id}").body
    assert detail["status"] == "created" and detail["erp_order_id"] == sales_order["no"]
    outcomes = [e["outcome"] for e in detail["timeline"]]
    if fault in COMMITTED:  # the lookup found it, and its answer is what was stored: never re-sent
        assert outcomes == ["unknown", "found_in_erp"]
        assert detail["timeline"][-1]["erp_order_id"] == sales_order["no"]
        assert len(_sends_of(emulator, order_id)) == 1
    elif expected == "unknown":  # looked up, not there, then sent again
        assert outcomes == ["unknown", "not_found_in_erp", "created"]
        assert len(_sends_of(emulator, order_id)) == 2
    export = [e for e in detail["timeline"] if e["trigger"] == "export"]
    assert export, outcomes
    # A second run finds nothing left to do.
    assert live.services.orders.export_failed_orders(older_than_s=0).picked == 0


@BOTH_MODES
def test_erp_down_then_export_creates_the_order(live: Any, emulator: Any) -> None:
    emulator.control.down(30)
    try:
        first = live.call(
            "POST", "/v1/orders", _order("WEB-F-DOWN"), headers={"Idempotency-Key": "key-down-0001"}
        )
    finally:
        emulator.control.up()
    assert first.status == 202 and first.body["status"] == "queued"
    assert live.services.orders.export_failed_orders(older_than_s=0).created == 1
    assert len(_sales_orders_for(emulator, "WEB-F-DOWN")) == 1
    xml_key = live.call("GET", "/v1/orders/WEB-F-DOWN").body["timeline"][-1]["request_xml"]
    assert b'submitType="ScheduledTask"' in live.services.xml_store.get_bytes(xml_key)


@BOTH_MODES
def test_repeated_failures_dead_letter_the_order_and_resend_recovers_it(live: Any, emulator: Any) -> None:
    emulator.control.set_faults(kinds=["create_order", "export_order"], error_rate=1.0)
    live.call("POST", "/v1/orders", _order("WEB-DL-1"), headers={"Idempotency-Key": "key-dl-00001"})
    for _ in range(3):
        live.services.orders.export_failed_orders(older_than_s=0)
    detail = live.call("GET", "/v1/orders/WEB-DL-1").body
    assert detail["status"] == "failed" and detail["state"] == "dead_letter" and detail["attempts"] == 3
    assert live.services.orders.export_failed_orders(older_than_s=0).picked == 0  # left for an operator
    emulator.control.clear_faults()
    assert live.services.orders.resend("WEB-DL-1").status.value == "created"
    assert len(_sales_orders_for(emulator, "WEB-DL-1")) == 1


def test_two_workers_never_claim_the_same_order(live: Any) -> None:
    from erpbridge.adapters.sql.orders import SqlOrderStore
    from erpbridge.live.ports import OrderState, StoredOrder

    store = SqlOrderStore(live.services.engine)
    for n in range(6):
        store.add(StoredOrder(f"WEB-C-{n}", "10000", "", "", {"lines": []}, "print", OrderState.QUEUED))
    from datetime import UTC, datetime, timedelta

    later = datetime.now(UTC) + timedelta(seconds=5)
    first = store.claim_for_export(older_than=later, limit=4, max_attempts=5, owner="a", claim_for_s=60)
    second = store.claim_for_export(older_than=later, limit=4, max_attempts=5, owner="b", claim_for_s=60)
    assert len(first) == 4 and len(second) == 2
    assert not {c.order_id for c in first} & {c.order_id for c in second}
    assert store.claim_one(first[0].order_id, owner="c", claim_for_s=60) is None
    store.release(first[0])
    assert store.claim_one(first[0].order_id, owner="c", claim_for_s=60) is not None


@BOTH_MODES
def test_two_export_workers_at_once_send_each_order_exactly_once(live_factory: Any, emulator: Any) -> None:
    import threading

    from erpbridge.live.orders import OrderService

    # A breaker that stays closed: six refused connections in a row would otherwise (rightly) open it.
    live = live_factory(ERPBRIDGE_ERP_BREAKER_FAILURES="100")
    emulator.control.down(30)
    try:
        for n in range(6):
            order = _order(f"WEB-PAR-{n}")
            live.call("POST", "/v1/orders", order, headers={"Idempotency-Key": f"key-par-{n:05d}"})
    finally:
        emulator.control.up()
    base = live.services.orders
    workers = [
        OrderService(
            erp=live.services.erp,
            orders=base._orders,
            idempotency=base._idempotency,
            xml_store=live.services.xml_store,
            policy=base._policy,
            degradation=live.services.degradation,
            worker_id=f"worker-{n}",
        )
        for n in range(2)
    ]
    reports: list[Any] = []
    errors: list[BaseException] = []  # an exception in a thread would otherwise only warn
    start = threading.Barrier(2)

    def run(worker: OrderService) -> None:
        try:
            start.wait(timeout=30)
            reports.append(worker.export_failed_orders(older_than_s=0))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert len(reports) == 2
    assert sum(r.created for r in reports) == 6
    sent = [r["order_id"] for report in reports for r in report.orders]
    assert sorted(sent) == [f"WEB-PAR-{n}" for n in range(6)]  # each order by one worker only
    creates = emulator.control.requests("export_order")
    assert len(creates) == 6
    for n in range(6):
        assert len(_sales_orders_for(emulator, f"WEB-PAR-{n}")) == 1


@BOTH_MODES
def test_orders_the_shop_wrote_itself_are_exported_too(live: Any, emulator: Any) -> None:
    from datetime import datetime, timedelta

    import sqlalchemy as sa

    from erpbridge.shopdb.schema import table

    finished = datetime.now() - timedelta(minutes=10)
    engine = sa.create_engine(live.database_url)
    with engine.begin() as conn:
        for order_id, quantity in (("SHOP-1", 3), ("SHOP-BAD", 0)):
            conn.execute(
                sa.insert(table("EcomOrders")).values(
                    OrderID=order_id,
                    OrderComplete=True,
                    OrderCompletedDate=finished,
                    OrderCustomerNumber="10000",
                    OrderCustomerName="Lucerne & Co.",
                )
            )
            conn.execute(
                sa.insert(table("EcomOrderLines")).values(
                    OrderLineID=f"{order_id}-1",
                    OrderLineOrderID=order_id,
                    OrderLineProductNumber="P000004",
                    OrderLineQuantity=quantity,
                    OrderLineType="0",
                )
            )
    report = live.services.orders.export_failed_orders(older_than_s=300)
    assert report.created == 1 and report.dead_lettered == 1
    with engine.connect() as conn:
        exported = conn.execute(
            sa.select(table("EcomOrders").c.OrderIntegrationOrderId).where(
                table("EcomOrders").c.OrderID == "SHOP-1"
            )
        ).scalar_one()
    engine.dispose()
    assert exported and len(_sales_orders_for(emulator, "SHOP-1")) == 1
    bad = live.call("GET", "/v1/orders/SHOP-BAD").body
    assert bad["state"] == "dead_letter" and "invalid order data" in bad["last_error"]
    assert live.services.orders.export_failed_orders(older_than_s=300).picked == 0


@BOTH_MODES
def test_an_order_another_worker_created_meanwhile_is_not_sent_again(live: Any, emulator: Any) -> None:
    """The state that decides whether to send is the one read under the claim: here the export task
    creates the order between the operator's read and the operator's claim."""
    from erpbridge.adapters.sql.idempotency import SqlIdempotencyStore
    from erpbridge.adapters.sql.orders import SqlOrderStore
    from erpbridge.live.models import OrderStatus
    from erpbridge.live.orders import OrderService

    emulator.control.down(30)
    try:
        first = live.call(
            "POST", "/v1/orders", _order("WEB-RACE-1"), headers={"Idempotency-Key": "key-race-1"}
        )
    finally:
        emulator.control.up()
    assert first.body["status"] == "queued"
    exporter = live.services.orders

    class ExportRunsFirst(SqlOrderStore):
        def claim_one(self, order_id: str, *, owner: str, claim_for_s: float) -> Any:
            exporter.export_failed_orders(older_than_s=0)  # the other worker wins the race
            return super().claim_one(order_id, owner=owner, claim_for_s=claim_for_s)

    operator = OrderService(
        erp=live.services.erp,
        orders=ExportRunsFirst(live.services.engine),
        idempotency=SqlIdempotencyStore(live.services.engine),
        xml_store=live.services.xml_store,
        policy=exporter._policy,
        degradation=live.services.degradation,
    )
    answer = operator.resend("WEB-RACE-1")

    assert answer.status is OrderStatus.CREATED
    sent = emulator.control.requests("create_order") + emulator.control.requests("export_order")
    assert len(sent) == 1
    assert len(_sales_orders_for(emulator, "WEB-RACE-1")) == 1
