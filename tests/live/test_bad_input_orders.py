"""Orders and bad input, on SQLite and PostgreSQL: everything is validated before the ERP, and an
answer the shop cannot render never turns an order the ERP created into an error."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from erp.fake_bc import FakeBC, ok

from erpbridge.live.models import ErrorBody

JWT_SECRET = "test-secret-for-customer-tokens-0123456789"


def strict_json(raw: bytes) -> Any:
    """JSON as a shop parses it: ``Infinity``/``NaN`` are not JSON."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(raw, parse_constant=refuse)


def order(order_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer_number": "10000",
        "lines": [{"product_id": "P000001", "quantity": 1}],
        **extra,
    }


def test_an_order_with_a_1e300_shop_discount_is_422_and_nothing_reaches_the_erp(
    live: Any, emulator: Any
) -> None:
    body = order("BAD-1E300", erp_controls_discount=False, discounts=[{"name": "x", "amount": 1e300}])
    for _attempt in ("first", "retry with the same key"):
        answer = live.call("POST", "/v1/orders", body, headers={"Idempotency-Key": "key-bad-1e300"})
        assert answer.status == 422, answer.body
        problem = ErrorBody.model_validate_json(answer.raw)
        assert problem.detail and problem.detail[0]["field"] == "body.discounts.0.amount"
    assert emulator.control.requests("create_order") == []
    assert emulator.control.sales_orders() == []
    assert live.call("GET", "/v1/orders/BAD-1E300").status == 404  # nothing stored either


def test_an_order_with_a_control_character_in_a_name_is_422_and_not_stored(live: Any, emulator: Any) -> None:
    body = order("BAD-CTRL", billing_address={"name": "Lucerne\x00Co"})
    answer = live.call("POST", "/v1/orders", body, headers={"Idempotency-Key": "key-bad-ctrl"})
    assert answer.status == 422, answer.body
    assert emulator.control.requests("create_order") == []
    assert live.call("GET", "/v1/orders/BAD-CTRL").status == 404


def test_a_customer_token_cannot_place_an_anonymous_order(live: Any, emulator: Any) -> None:
    anonymous = {"order_id": "ANON-1", "lines": [{"product_id": "P000001", "quantity": 1}]}
    answer = live.call(
        "POST", "/v1/orders", anonymous, headers={"Idempotency-Key": "key-anon-1"}, token=live.token("10000")
    )
    assert answer.status == 403, answer.body
    assert ErrorBody.model_validate_json(answer.raw).error == "forbidden"
    assert emulator.control.requests("create_order") == []
    assert live.call("GET", "/v1/orders/ANON-1").status == 404
    # Its own customer's order is fine, and the storefront (no token) may still order anonymously.
    own = live.call(
        "POST",
        "/v1/orders",
        order("OWN-1"),
        headers={"Idempotency-Key": "key-own-1"},
        token=live.token("10000"),
    )
    assert own.status == 201, own.body
    shop = live.call(
        "POST", "/v1/orders", {**anonymous, "order_id": "ANON-2"}, headers={"Idempotency-Key": "k-anon-2"}
    )
    assert shop.status == 201, shop.body


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": "{soon}"},
        {"exp": True},
        {"iat": "{now}"},
        {"nbf": "{now}"},
        {"sub": 42},
        {"aud": 7},
        {"customer_number": 10000},
    ],
    ids=["exp-string", "exp-bool", "iat-string", "nbf-string", "sub-number", "aud-number", "customer-number"],
)
def test_a_registered_claim_of_the_wrong_type_is_401(live: Any, claims: dict[str, Any]) -> None:
    now = int(time.time())
    values = {"customer_number": "10000", "exp": now + 300}
    for name, value in claims.items():
        values[name] = value.format(soon=now + 300, now=now) if isinstance(value, str) else value
    token = jwt.encode(values, JWT_SECRET, algorithm="HS256")
    answer = live.call(
        "POST", "/v1/prices", {"customer_number": "10000", "items": [{"product_id": "P1"}]}, token=token
    )
    assert answer.status == 401, (claims, answer.body)
    assert ErrorBody.model_validate_json(answer.raw).error == "unauthorized"


def test_audience_and_issuer_must_be_present_and_match_when_configured(
    live_builder: Any, database_url: str, emulator: Any
) -> None:
    live = live_builder(
        database_url,
        emulator.settings_env(),
        ERPBRIDGE_JWT_AUDIENCE="shop-api",
        ERPBRIDGE_JWT_ISSUER="https://idp.test",
    )
    body = {"customer_number": "10000", "items": [{"product_id": "P000001"}]}
    base = {"customer_number": "10000", "exp": int(time.time()) + 300}

    def status(**claims: Any) -> int:
        token = jwt.encode({**base, **claims}, JWT_SECRET, algorithm="HS256")
        return int(live.call("POST", "/v1/prices", body, token=token).status)

    assert status(aud="shop-api", iss="https://idp.test") == 200
    assert status(aud=["other", "shop-api"], iss="https://idp.test") == 200
    assert status(iss="https://idp.test") == 401  # no audience
    assert status(aud="shop-api") == 401  # no issuer
    assert status(aud="other", iss="https://idp.test") == 401
    assert status(aud="shop-api", iss="https://evil.test") == 401


# --- an answer the shop cannot render -----------------------------------------------------------

UNRENDERABLE = (
    '<?xml version="1.0" encoding="utf-8"?><tables>'
    '<table tableName="EcomOrders"><item table="EcomOrders">'
    '<column columnName="OrderId">HUGE-1</column>'
    '<column columnName="OrderIntegrationOrderId">SO-900001</column>'
    '<column columnName="OrderCreated">True</column>'
    '<column columnName="OrderPriceWithVat">1E+400</column>'
    '<column columnName="OrderPriceWithoutVat">1E+400</column>'
    "</item></table></tables>"
)


@pytest.fixture
def fake_bc() -> Iterator[FakeBC]:
    """A Business Central stand-in over real HTTP that answers a create with totals of 1e400 (no
    float, so no JSON number, can hold them): the emulator prices orders sanely and cannot."""
    server = FakeBC(auth="none").start()
    yield server
    server.stop()


def test_an_erp_answer_the_shop_cannot_render_keeps_the_created_order(
    live_builder: Any, database_url: str, fake_bc: FakeBC
) -> None:
    live = live_builder(database_url, {"ERPBRIDGE_ERP_URL": fake_bc.url})
    fake_bc.then(ok(UNRENDERABLE))
    key = {"Idempotency-Key": "key-huge-1"}
    answer = live.call("POST", "/v1/orders", order("HUGE-1"), headers=key)
    assert answer.status == 201, answer.raw[:300]
    body = strict_json(answer.raw)
    assert body["status"] == "created" and body["erp_order_id"] == "SO-900001"
    assert body["totals"] is None and body["lines"] == []
    assert "could not be shown" in body["message"]
    again = live.call("POST", "/v1/orders", order("HUGE-1"), headers=key)
    assert (again.status, strict_json(again.raw)) == (201, body)
    assert len(fake_bc.soap_posts) == 1  # sent once
    detail = live.call("GET", "/v1/orders/HUGE-1")
    assert detail.status == 200
    shown = strict_json(detail.raw)
    assert shown["state"] == "created" and shown["erp_order_id"] == "SO-900001"
    created = [entry for entry in shown["timeline"] if entry["outcome"] == "created"]
    assert len(created) == 1 and created[0]["request_xml"] and created[0]["response_xml"]
