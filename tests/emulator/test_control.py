"""The control API: reset, faults, journal of requests, sales orders, counters, tokens."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
import requests

from bc_emulator.control import ControlError
from bc_emulator.server import Emulator
from bc_emulator.soap import read_response
from erpbridge.protocol.order_request import (
    OrderDocument,
    OrderHeader,
    OrderLine,
    build_order_request,
)
from erpbridge.protocol.request_builders import build_ping


def create(emulator: Emulator, order_id: str) -> requests.Response:
    dataset = emulator.dispatcher.bc.dataset
    item = dataset.items[1]
    document = OrderDocument(
        header=OrderHeader(order_id=order_id, customer_number=dataset.customers[1].no),
        lines=[
            OrderLine(line_id="1", order_id=order_id, product_id=item.no, product_number=item.no, quantity=3)
        ],
    )
    return emulator.call(build_order_request(document, create=True))


def test_info_tells_urls_auth_and_credentials(emulator: Emulator) -> None:
    info = emulator.control.info()
    assert info["soap_url"] == emulator.soap_url
    assert info["auth"] == "key"
    assert info["credentials"]["security_key"] == emulator.config.security_key
    assert info["down"] is False


def test_the_journal_holds_each_request_with_its_xml_kind_and_status(emulator: Emulator) -> None:
    emulator.call(build_ping())
    create(emulator, "J-1")
    emulator.call("<Nonsense/>")
    records = emulator.control.requests()
    assert [(r["kind"], r["status"]) for r in records] == [
        ("ping", 200),
        ("create_order", 200),
        ("unknown", 500),
    ]
    assert "J-1" in records[1]["request_xml"]
    assert records[1]["shop_order_id"] == "J-1"
    assert "not supported" in records[2]["error"]
    assert [r["kind"] for r in emulator.control.requests(kind="create_order")] == ["create_order"]


def test_sales_orders_are_found_by_shop_order_id(emulator: Emulator) -> None:
    create(emulator, "SHOP/ORDER 1")
    order = emulator.control.sales_order("SHOP/ORDER 1")
    assert order is not None
    assert order["external_document_no"] == "SHOP/ORDER 1"
    assert order["customer_no"] == emulator.dispatcher.bc.dataset.customers[1].no
    assert [line["quantity"] for line in order["lines"] if line["line_type"] == 0] == ["3"]
    assert emulator.control.sales_order("NOT-SENT") is None


def test_a_price_change_changes_every_quote_of_the_item_until_reset(emulator: Emulator) -> None:
    from decimal import Decimal

    from erpbridge.protocol.request_builders import ProductQuery, build_product_info_request
    from erpbridge.protocol.response_parsers import parse_product_info

    def price(customer: str) -> Decimal:
        xml = build_product_info_request(
            [ProductQuery(product_id="P000003", number="P000003")],
            customer_number=customer,
            anonymous_user_key="Anonymous",
        )
        response = emulator.call(xml)
        assert response.status_code == 200, response.text[:500]
        (info,) = parse_product_info(read_response(response.content), anonymous_user_key="Anonymous").values()
        assert info.price is not None
        return info.price

    before = {customer: price(customer) for customer in ("10000", "Anonymous")}
    changed = emulator.control.change_price("P000003", "1.10")
    assert changed["item"] == "P000003" and changed["price_factor"] == "1.10"
    after = {customer: price(customer) for customer in before}
    for customer, old in before.items():
        assert abs(after[customer] - old * Decimal("1.10")) <= Decimal("0.02"), customer
    with pytest.raises(ControlError):
        emulator.control.change_price("NO-SUCH-ITEM", "1.1")
    with pytest.raises(ControlError):
        emulator.control.change_price("P000003", "-1")
    emulator.control.reset()
    assert {customer: price(customer) for customer in before} == before


def test_counters_count_requests_faults_and_orders(emulator: Emulator) -> None:
    create(emulator, "C-1")
    create(emulator, "C-1")
    emulator.control.set_faults(error_rate=1.0, times=1)
    emulator.call(build_ping())
    counters = emulator.control.counters()
    assert counters["requests"] == 3
    assert counters["requests.kind.create_order"] == 2
    assert counters["requests.status.500"] == 1
    assert counters["faults.error"] == 1
    assert counters["erp.orders_created"] == 1
    assert counters["erp.orders_repeated"] == 1


def test_reset_forgets_orders_journal_counters_and_faults(emulator: Emulator) -> None:
    create(emulator, "X-1")
    emulator.control.set_faults(error_rate=1.0)
    emulator.control.down()
    emulator.control.reset()
    assert emulator.control.sales_orders() == []
    assert emulator.control.requests() == []
    assert emulator.control.faults()["error_rate"] == 0
    assert emulator.call(build_ping()).status_code == 200
    assert create(emulator, "X-1").status_code == 200
    assert emulator.control.counters()["erp.orders_created"] == 1


def test_sales_order_numbers_start_again_after_reset(emulator: Emulator) -> None:
    create(emulator, "N-1")
    first = emulator.control.sales_order("N-1")
    emulator.control.reset()
    create(emulator, "N-2")
    assert emulator.control.sales_order("N-2")["no"] == first["no"]  # type: ignore[index]


def test_token_lifetime_can_be_shortened(emulator_factory: Callable[..., Emulator]) -> None:
    emulator = emulator_factory(auth="oauth2")
    emulator.control.set_token_ttl(0)
    try:
        token = emulator.fetch_token()
        response = requests.post(
            emulator.soap_url,
            data=b"<x/>",
            headers=emulator.request_headers(token=token),
            timeout=5,
        )
        assert response.status_code == 401
        assert "expired" in response.headers["WWW-Authenticate"]
    finally:
        emulator.control.set_token_ttl(3599)


def test_control_is_also_served_on_the_soap_port(emulator: Emulator) -> None:
    response = requests.get(emulator.base_url + "/_control/counters", timeout=5)
    assert response.status_code == 200


def test_the_control_port_serves_nothing_but_control(emulator: Emulator) -> None:
    control_base = emulator.control_url.removesuffix("/_control")
    response = requests.post(control_base + emulator.soap_path, data=b"", timeout=5)
    assert response.status_code == 404


def test_unknown_endpoints_and_bad_json_are_client_errors(emulator: Emulator) -> None:
    assert requests.get(emulator.control_url + "/nothing", timeout=5).status_code == 404
    bad = requests.put(emulator.control_url + "/faults", data=b"[1, 2", timeout=5)
    assert bad.status_code == 400


def test_a_price_change_stays_in_its_own_emulator(emulator_factory: Callable[..., Emulator]) -> None:
    """Two emulators of one seed share the generated data until one of them changes it."""
    first = emulator_factory(auth="key")
    second = emulator_factory(auth="basic")
    unit_price = first.dispatcher.bc.dataset.item_by_no["P000003"].unit_price
    changed = first.control.change_price("P000003", "2")
    assert Decimal(changed["unit_price"]) == unit_price * 2
    assert second.dispatcher.bc.dataset.item_by_no["P000003"].unit_price == unit_price
    first.control.reset()
    assert first.dispatcher.bc.dataset.item_by_no["P000003"].unit_price == unit_price
