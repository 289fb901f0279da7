"""The commerce context over the BC emulator (real HTTP): the VAT country and posting group of a
request, the ship-to code and delivery address of baskets and orders, custom fields both ways, and
cache keys that keep one buyer's context from answering another's (docs/commerce-context.md)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url  # nothing here depends on the database dialect


PRODUCT = "P000001"
CUSTOMER_WITH_SHIP_TOS = "10020"  # AT; ship-to codes MAIN, WAREHOUSE, SOUTH in the emulator's data


def _price(live: Any, **context: Any) -> Any:
    item = {"product_id": PRODUCT, **context.pop("item", {})}
    answer = live.call("POST", "/v1/prices", {"items": [item], **context})
    assert answer.status == 200, answer.body
    return answer


def _vat_rate(item: dict[str, Any]) -> Decimal:
    return (Decimal(str(item["price_with_vat"])) / Decimal(str(item["price"]))).quantize(Decimal("0.01"))


def _requests(emulator: Any, kind: str) -> list[dict[str, Any]]:
    return list(emulator.control.requests(kind))


def test_anonymous_prices_carry_the_requested_vat_country(live: Any, emulator: Any) -> None:
    danish = _price(live, vat_country="DK")
    assert danish.body["vat_country"] == "DK"
    assert _vat_rate(danish.body["items"][0]) == Decimal("1.25")  # DK: 25 % on every VAT group
    default = _price(live).body["items"][0]
    assert _vat_rate(default) in (Decimal("1.19"), Decimal("1.07"))  # the ERP's home country (DE)
    sent = _requests(emulator, "product_info")[0]["request_xml"]
    assert 'VatCountryCode="DK"' in sent


def test_the_posting_group_decides_the_vat(live: Any) -> None:
    export = _price(live, vat_country="DK", vat_posting_group="EXPORT").body["items"][0]
    assert export["price_with_vat"] == export["price"]  # no VAT on an export sale
    domestic = _price(live, vat_country="DK", vat_posting_group="DOMESTIC").body["items"][0]
    assert _vat_rate(domestic) in (Decimal("1.19"), Decimal("1.07"))  # home rates, whatever the country


def test_a_cached_price_never_answers_another_vat_context(live: Any, emulator: Any) -> None:
    contexts = [
        {"vat_country": "DK"},
        {"vat_country": "FR"},
        {"vat_country": "DK", "vat_posting_group": "EXPORT"},
    ]
    first = [_price(live, **dict(c)).body["items"][0] for c in contexts]
    again = [_price(live, **dict(c)).body["items"][0] for c in contexts]
    assert [i["source"] for i in first] == ["erp"] * 3
    assert [i["source"] for i in again] == ["cache"] * 3
    assert [i["price_with_vat"] for i in again] == [i["price_with_vat"] for i in first]
    assert len({i["price_with_vat"] for i in first}) == 3
    assert len(_requests(emulator, "product_info")) == 3


def test_product_custom_fields_are_sent_and_come_back(live: Any, emulator: Any) -> None:
    answer = _price(live, item={"custom_fields": {"Season": "AW26", "Colour_Code": "RED"}})
    item = answer.body["items"][0]
    assert item["custom_fields"] == {"Season": "AW26", "Colour_Code": "RED"}  # the emulator echoes them
    sent = _requests(emulator, "product_info")[0]["request_xml"]
    assert '<Season isCustomField="True">AW26</Season>' in sent
    # Cached per field values: the same values are a hit, other values ask the ERP.
    same = _price(live, item={"custom_fields": {"Colour_Code": "RED", "Season": "AW26"}}).body["items"][0]
    assert same["source"] == "cache" and same["custom_fields"] == item["custom_fields"]
    other = _price(live, item={"custom_fields": {"Season": "SS27"}}).body["items"][0]
    assert other["source"] == "erp" and other["custom_fields"] == {"Season": "SS27"}


def _basket(**extra: Any) -> dict[str, Any]:
    return {"lines": [{"product_id": PRODUCT, "quantity": 2}], **extra}


def test_a_basket_is_priced_for_its_vat_context(live: Any) -> None:
    export = live.call("POST", "/v1/baskets/calculate", _basket(vat_country="DK", vat_posting_group="EXPORT"))
    danish = live.call("POST", "/v1/baskets/calculate", _basket(vat_country="DK"))
    assert export.status == danish.status == 200, (export.body, danish.body)
    assert export.body["source"] == danish.body["source"] == "erp"  # not one basket from the cache
    assert export.body["totals"]["vat"] == 0
    line = danish.body["lines"][0]
    assert _vat_rate({"price": line["price"], "price_with_vat": line["price_with_vat"]}) == Decimal("1.25")


def test_an_unknown_posting_group_is_the_erps_refusal(live: Any) -> None:
    answer = live.call("POST", "/v1/baskets/calculate", _basket(vat_posting_group="NOWHERE"))
    assert answer.status == 422 and answer.body["error"] == "erp_rejected", answer.body
    assert "VAT Business Posting Group" in answer.body["erp_message"]


def test_a_basket_with_a_ship_to_code_and_a_delivery_address(live: Any, emulator: Any) -> None:
    basket = _basket(
        customer_number=CUSTOMER_WITH_SHIP_TOS,
        ship_to_code="WAREHOUSE",
        delivery_address={"name": "Goods in", "city": "Graz", "country_code": "AT"},
    )
    answer = live.call("POST", "/v1/baskets/calculate", basket)
    assert answer.status == 200, answer.body
    sent = _requests(emulator, "calculate_order")[-1]["request_xml"]
    assert "WAREHOUSE" in sent and "Graz" in sent
    unknown = live.call("POST", "/v1/baskets/calculate", {**basket, "ship_to_code": "NO-SUCH"})
    assert unknown.status == 422 and "Ship-to Address does not exist" in unknown.body["erp_message"]


def _order(**extra: Any) -> dict[str, Any]:
    return {
        "order_id": f"CTX-{uuid.uuid4().hex[:10].upper()}",
        "customer_number": CUSTOMER_WITH_SHIP_TOS,
        "lines": [{"product_id": PRODUCT, "quantity": 1}],
        **extra,
    }


def _place(live: Any, order: dict[str, Any]) -> Any:
    return live.call("POST", "/v1/orders", order, headers={"Idempotency-Key": order["order_id"]})


def test_an_order_goes_to_the_chosen_ship_to_address(live: Any, emulator: Any) -> None:
    order = _order(ship_to_code="SOUTH")
    answer = _place(live, order)
    assert answer.status == 201 and answer.body["status"] == "created", answer.body
    sales_order = emulator.control.sales_order(order["order_id"])
    assert sales_order["ship_to"]["code"] == "SOUTH"


def test_an_order_for_a_ship_to_the_customer_does_not_have_is_rejected(live: Any) -> None:
    answer = _place(live, _order(ship_to_code="NO-SUCH"))
    assert answer.status == 422 and answer.body["error"] == "erp_rejected", answer.body


def test_order_and_line_custom_fields_round_trip(live: Any, emulator: Any) -> None:
    order = _order(
        custom_fields={"CustomerPO": "PO-4711", "DeliveryNote": "ring twice"},
        lines=[{"product_id": PRODUCT, "quantity": 1, "custom_fields": {"Engraving": "For A."}}],
    )
    answer = _place(live, order)
    assert answer.status == 201, answer.body
    assert answer.body["custom_fields"] == {"CustomerPO": "PO-4711", "DeliveryNote": "ring twice"}
    product_line = next(line for line in answer.body["lines"] if line["line_type"] == "product")
    assert product_line["custom_fields"] == {"Engraving": "For A."}
    sales_order = emulator.control.sales_order(order["order_id"])
    assert sales_order["custom_fields"] == {"CustomerPO": "PO-4711", "DeliveryNote": "ring twice"}
    assert list(sales_order["line_fields"].values()) == [{"Engraving": "For A."}]
    sent = _requests(emulator, "create_order")[-1]["request_xml"]
    assert 'isCustomField="True"' in sent and "<OrderLineFieldSystemName>Engraving" in sent
    detail = live.call("GET", f"/v1/orders/{order['order_id']}")
    assert detail.body["custom_fields"] == answer.body["custom_fields"]


def test_basket_custom_fields_come_back_too(live: Any) -> None:
    answer = live.call("POST", "/v1/baskets/calculate", _basket(custom_fields={"CustomerPO": "PO-1"}))
    assert answer.status == 200 and answer.body["custom_fields"] == {"CustomerPO": "PO-1"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/prices", {"items": [{"product_id": PRODUCT}], "vat_country": "dk"}),
        ("/v1/prices", {"items": [{"product_id": PRODUCT}], "vat_posting_group": "EU GROUP"}),
        ("/v1/prices", {"items": [{"product_id": PRODUCT, "custom_fields": {"ProductPrice": "1"}}]}),
        ("/v1/prices", {"items": [{"product_id": PRODUCT, "custom_fields": {"xmlField": "1"}}]}),
        ("/v1/prices", {"items": [{"product_id": PRODUCT, "custom_fields": {"1st": "1"}}]}),
        ("/v1/baskets/calculate", _basket(custom_fields={"OrderId": "x"})),
        ("/v1/baskets/calculate", _basket(custom_fields={f"F{n}": "x" for n in range(21)})),
        ("/v1/baskets/calculate", _basket(custom_fields={"Note": "bell\x07"})),
        ("/v1/baskets/calculate", _basket(ship_to_code="A" * 51)),
        (
            "/v1/baskets/calculate",
            {"lines": [{"product_id": PRODUCT, "quantity": 1, "custom_fields": {"OrderLineQuantity": "9"}}]},
        ),
    ],
)
def test_bad_context_is_a_422_and_nothing_reaches_the_erp(
    live: Any, emulator: Any, path: str, body: dict[str, Any]
) -> None:
    answer = live.call("POST", path, body)
    assert answer.status == 422 and answer.body["error"] == "validation_error", answer.body
    assert emulator.control.requests("product_info") == emulator.control.requests("calculate_order") == []


def test_a_namespace_stamp_makes_cached_baskets_stale(live: Any, emulator: Any) -> None:
    """What a batch import of prices or stock does (erpbridge.batch.staged_file): the next basket
    is priced by the ERP again, not answered from the cache."""
    assert live.call("POST", "/v1/baskets/calculate", _basket()).body["source"] == "erp"
    assert live.call("POST", "/v1/baskets/calculate", _basket()).body["source"] == "cache"
    live.services.cache.invalidate_namespace("", ttl_s=600)
    assert live.call("POST", "/v1/baskets/calculate", _basket()).body["source"] == "erp"
    assert len(_requests(emulator, "calculate_order")) == 2
