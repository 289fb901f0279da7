"""Hostile input to the live API gets a 4xx that says why, never a 500, and reaches nothing.

Bodies that cannot be read are 400, bodies of another content type 415, undeclared methods 405
with ``Allow``, numbers outside the ranges the schema states 422 — each in the documented error
shape (ErrorBody) and each before the ERP is asked. Cases found by the bounded property run
(test_property_run.py) are kept here as plain regression tests.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

ORDER_LINES = [{"product_id": "P000001", "quantity": 1}]
PRICES = {"customer_number": "10000", "items": [{"product_id": "P000001"}]}
BASKET = {"customer_number": "10000", "lines": ORDER_LINES}


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """SQLite: nothing here reaches the database (test_bad_input_orders.py runs on both)."""
    return sqlite_url


def assert_error(answer: Any, status: int, error: str) -> dict[str, Any]:
    """The answer is ``status`` with the documented error body (ErrorBody) naming ``error``."""
    from erpbridge.live.models import ErrorBody

    assert answer.status == status, (answer.status, answer.raw[:300])
    assert answer.headers["content-type"].startswith("application/json")
    body = ErrorBody.model_validate_json(answer.raw).model_dump()
    assert body["error"] == error and body["message"], body
    return body


def erp_requests(emulator: Any) -> list[dict[str, Any]]:
    return [r for r in emulator.control.requests() if r.get("kind") != "ping"]


# --- bodies that cannot be read: 400 -----------------------------------------------------------


def test_bytes_that_are_not_utf8_are_400(live: Any, emulator: Any) -> None:
    answer = live.call("POST", "/v1/prices", b'{"customer_number": "\xff\xfe", "items": []}')
    body = assert_error(answer, 400, "bad_request")
    assert "UTF-8" in body["message"]
    assert erp_requests(emulator) == []


@pytest.mark.parametrize("opening", ["[", '{"a":'], ids=["arrays", "objects"])
def test_json_nested_100000_levels_deep_is_400(live: Any, emulator: Any, opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    deep = (opening * 100_000 + ("" if opening == "[" else "1") + closing * 100_000).encode()
    body = assert_error(live.call("POST", "/v1/baskets/calculate", deep), 400, "bad_request")
    assert "nested" in body["message"]
    assert erp_requests(emulator) == []


def test_a_body_larger_than_the_limit_is_400(live: Any) -> None:
    from erpbridge.live.request_body import MAX_BODY_CHARS

    huge = json.dumps({**PRICES, "language": "x" * MAX_BODY_CHARS}).encode()
    body = assert_error(live.call("POST", "/v1/prices", huge), 400, "bad_request")
    assert str(MAX_BODY_CHARS) in body["message"]


@pytest.mark.parametrize(
    "raw", [b'{"items": [', b"NaN", b'{"items": [{"product_id": "P1", "quantity": Infinity}]}']
)
def test_text_that_is_not_json_is_400(live: Any, raw: bytes) -> None:
    body = assert_error(live.call("POST", "/v1/prices", raw), 400, "bad_request")
    assert "not valid JSON" in body["message"]


# --- another content type: 415 ----------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "multipart/form-data", "application/x-www-form-urlencoded"],
)
def test_valid_json_sent_as_another_content_type_is_415(live: Any, emulator: Any, content_type: str) -> None:
    for path, body in (("/v1/prices", PRICES), ("/v1/baskets/calculate", BASKET)):
        answer = live.call("POST", path, body, headers={"Content-Type": content_type})
        assert_error(answer, 415, "unsupported_media_type")
    assert erp_requests(emulator) == []


def test_json_with_a_charset_is_accepted_and_other_spellings_are_415(live: Any) -> None:
    answer = live.call(
        "POST", "/v1/prices", PRICES, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert answer.status == 200, answer.body
    for content_type in ("application/vnd.shop+json", "Application/JSON"):
        answer = live.call("POST", "/v1/prices", PRICES, headers={"Content-Type": content_type})
        assert_error(answer, 415, "unsupported_media_type")


# --- numbers out of range: 422, with the ranges in the schema ---------------------------------


def test_an_integer_of_5000_digits_is_422_in_quantity_and_in_an_unknown_field(
    live: Any, emulator: Any
) -> None:
    digits = "9" * 5000
    in_quantity = f'{{"items": [{{"product_id": "P000001", "quantity": {digits}}}]}}'.encode()
    body = assert_error(live.call("POST", "/v1/prices", in_quantity), 422, "validation_error")
    assert body["detail"][0]["field"] == "body.items.0.quantity"
    assert digits not in json.dumps(body)  # the input is never echoed
    unknown = f'{{"items": [{{"product_id": "P000001"}}], "zzz": {digits}}}'.encode()
    body = assert_error(live.call("POST", "/v1/prices", unknown), 422, "validation_error")
    assert body["detail"][0]["field"] == "body.zzz"
    assert erp_requests(emulator) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"erp_controls_discount": False, "discounts": [{"name": "x", "amount": 1e300}]},
            "discounts.0.amount",
        ),
        ({"erp_controls_shipping": False, "shipping": {"fee": 1e300}}, "shipping.fee"),
        ({"lines": [{"product_id": "P000001", "quantity": 1e10}]}, "lines.0.quantity"),
        ({"lines": [{"product_id": "P000001", "quantity": 0.001}]}, "lines.0.quantity"),
    ],
    ids=["discount-1e300", "shipping-fee-1e300", "quantity-1e10", "quantity-below-0.01"],
)
def test_a_basket_with_a_number_out_of_range_is_422_before_the_erp(
    live: Any, emulator: Any, change: dict[str, Any], field: str
) -> None:
    answer = live.call("POST", "/v1/baskets/calculate", {**BASKET, **change})
    body = assert_error(answer, 422, "validation_error")
    assert body["detail"][0]["field"] == f"body.{field}"
    assert erp_requests(emulator) == []


def test_numbers_in_range_are_rounded_to_the_cents_the_order_xml_carries(live: Any, emulator: Any) -> None:
    basket = {
        **BASKET,
        "lines": [{"product_id": "P000001", "quantity": 2.0000000000000004}],
        "erp_controls_discount": False,
        "discounts": [{"name": "shop", "amount": 9.999}],
    }
    answer = live.call("POST", "/v1/baskets/calculate", basket)
    assert answer.status == 200, answer.body
    discount = [line for line in answer.body["lines"] if line["line_type"] == "discount"]
    assert discount and discount[0]["price"] == -10.0
    sent = emulator.control.requests("calculate_order")[-1]
    assert "2.0000000000000004" not in json.dumps(sent)


def test_the_schema_states_the_ranges_of_quantities_amounts_and_discounts() -> None:
    import live_api

    schemas = live_api.openapi_document()["components"]["schemas"]
    ranges = {
        "quantity": schemas["OrderLineRequest"]["properties"]["quantity"],
        "price quantity": schemas["PriceItemRequest"]["properties"]["quantity"],
        "discount": schemas["ShopDiscount"]["properties"]["amount"],
        "shipping fee": schemas["Shipping"]["properties"]["fee"]["anyOf"][0],
    }
    for name, schema in ranges.items():
        assert schema["type"] == "number", name
        assert schema["maximum"] == 1e9, name
        assert schema["minimum"] in (0.0, 0.01), name


def test_free_text_with_characters_xml_cannot_carry_is_422_before_the_erp(live: Any, emulator: Any) -> None:
    """Found by the property run: a discount named "\\x10" was a 502 after the order was stored."""
    basket = {**BASKET, "erp_controls_discount": False, "discounts": [{"name": "\x10", "amount": 1}]}
    body = assert_error(live.call("POST", "/v1/baskets/calculate", basket), 422, "validation_error")
    assert body["detail"][0]["field"] == "body.discounts.0.name"
    line = {"product_id": "P000001", "quantity": 1, "name": "ok\ufffe"}
    answer = live.call("POST", "/v1/baskets/calculate", {**BASKET, "lines": [line]})
    assert_error(answer, 422, "validation_error")
    fine = {**BASKET, "lines": [{**line, "name": "two\nlines\tand a tab"}]}
    assert live.call("POST", "/v1/baskets/calculate", fine).status == 200
    assert len(emulator.control.requests("calculate_order")) == 1  # only the fine one


# --- methods and documents ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/prices", "POST"),
        ("GET", "/v1/baskets/calculate", "POST"),
        ("DELETE", "/v1/orders/WEB-1", "GET"),
        ("PATCH", "/v1/orders", "POST"),
        ("POST", "/v1/health", "GET"),
        ("OPTIONS", "/v1/customers/10000/documents", "GET"),
    ],
)
def test_an_undeclared_method_is_405_with_allow(live: Any, method: str, path: str, allowed: str) -> None:
    answer = live.call(method, path, PRICES if method in ("PUT", "PATCH", "POST") else None)
    assert_error(answer, 405, "method_not_allowed")
    assert answer.headers["allow"] == allowed


def test_an_unknown_path_stays_404(live: Any) -> None:
    assert_error(live.call("PUT", "/v1/nowhere"), 404, "not_found")


def test_every_route_documents_its_200(live: Any) -> None:
    import live_api

    for path, operations in live_api.openapi_document()["paths"].items():
        for method, operation in operations.items():
            assert {"200", "201"} & set(operation["responses"]), (method, path)
            if method == "post":
                assert {"400", "415", "422"} <= set(operation["responses"]), path


def test_sorting_or_searching_by_an_unknown_column_is_422_naming_the_columns(live: Any) -> None:
    """Found by the property run: ``sort=A`` was a 502 (the ERP's fault passed on)."""
    answer = live.call("GET", "/v1/customers/10000/documents?type=invoice&sort=Nope")
    body = assert_error(answer, 422, "validation_error")
    assert body["detail"][0]["field"] == "query.sort"
    assert "PostingDate" in body["detail"][0]["reason"]
    answer = live.call("GET", "/v1/customers/10000/documents?type=invoice&search_field=Nope&search=1")
    assert assert_error(answer, 422, "validation_error")["detail"][0]["field"] == "query.search_field"
    sorted_ok = live.call("GET", "/v1/customers/10000/documents?type=invoice&sort=postingdate")
    assert sorted_ok.status == 200 and sorted_ok.body["items"]
    # A customer without documents: nothing to sort, whatever the field (not an ERP failure).
    empty = live.call("GET", "/v1/customers/0/documents?type=credit_note&sort=Nope")
    assert empty.status == 200 and empty.body["items"] == [], empty.body


# --- erpbridge serve: the local HTTP server in front of the same handler -----------------------

READ_TIMEOUT_S = 0.5


@pytest.fixture
def served(live: Any) -> Iterator[tuple[str, int]]:
    from erpbridge_cli.commands.live import make_server

    server = make_server(0, read_timeout_s=READ_TIMEOUT_S)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1", server.server_address[1]
    server.shutdown()
    server.server_close()


def raw_exchange(address: tuple[str, int], request: bytes, *, wait_s: float = 5.0) -> bytes:
    """Send raw bytes, read until the server closes or ``wait_s`` passes (then: what arrived)."""
    with socket.create_connection(address, timeout=wait_s) as connection:
        connection.sendall(request)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received


def test_serve_answers_400_when_the_body_is_shorter_than_its_content_length(
    served: tuple[str, int],
) -> None:
    import time

    started = time.monotonic()
    answer = raw_exchange(
        served,
        b"POST /v1/prices HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"items": []}',
    )
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert time.monotonic() - started < 4  # the read timeout, not the client's patience
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["error"] == "bad_request" and "Content-Length" in body["message"]


def test_serve_answers_400_for_a_content_length_that_is_not_a_number(served: tuple[str, int]) -> None:
    answer = raw_exchange(served, b"POST /v1/prices HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]


def test_serve_answers_any_method_and_non_utf8_bytes_in_the_api_shape(served: tuple[str, int]) -> None:
    base = f"http://{served[0]}:{served[1]}"
    for method in ("TRACE", "QUERY", "PUT"):
        answer = requests.request(method, f"{base}/v1/prices", timeout=10)
        assert answer.status_code == 405, (method, answer.text[:200])
        assert answer.headers["Allow"] == "POST" and answer.json()["error"] == "method_not_allowed"
    head = requests.head(f"{base}/v1/health", timeout=10)
    assert head.status_code == 405 and head.headers["Allow"] == "GET" and head.content == b""
    garbled = requests.post(
        f"{base}/v1/prices",
        data=b'{"items": [{"product_id": "\xff"}]}',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert garbled.status_code == 400 and garbled.json()["error"] == "bad_request"
