"""The live API when the ERP cannot be reached: orders are kept and queued, prices fall back and
say so, health says degraded; plus validation, idempotency and customer isolation, which never
need the ERP."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from erpbridge.shopdb.schema import table

ORDER = {
    "order_id": "WEB-1001",
    "customer_number": "10000",
    "currency": "EUR",
    "billing_address": {"name": "Ada Shopper", "city": "Aarhus", "country_code": "DK"},
    "lines": [{"product_id": "1000", "quantity": 2}, {"product_id": "1001", "unit": "PCS", "quantity": 1}],
}


def test_order_is_stored_and_queued_when_the_erp_is_down(live_erp_down: Any) -> None:
    answer = live_erp_down.call("POST", "/v1/orders", ORDER, headers={"Idempotency-Key": "key-00000001"})
    assert answer.status == 202
    assert answer.body["status"] == "queued" and answer.body["erp_order_id"] is None
    engine = sa.create_engine(live_erp_down.database_url)
    with engine.connect() as conn:
        order = conn.execute(sa.text('SELECT "OrderComplete", "OrderIsExported" FROM "EcomOrders"')).one()
        lines = conn.execute(sa.text('SELECT COUNT(*) FROM "EcomOrderLines"')).scalar_one()
    engine.dispose()
    assert bool(order[0]) and not bool(order[1]) and lines == 2
    detail = live_erp_down.call("GET", "/v1/orders/WEB-1001")
    assert detail.status == 200
    assert detail.body["status"] == "queued"
    assert [e["outcome"] for e in detail.body["timeline"]] == ["not_sent"]
    assert detail.body["timeline"][0]["request_xml"]  # the XML that would have been sent is kept
    # Not reaching the ERP is not a counted failure: an outage must not dead-letter orders.
    assert detail.body["attempts"] == 0


def test_same_key_same_body_replays_and_other_body_conflicts(live_erp_down: Any) -> None:
    first = live_erp_down.call("POST", "/v1/orders", ORDER, headers={"Idempotency-Key": "key-00000002"})
    again = live_erp_down.call("POST", "/v1/orders", ORDER, headers={"Idempotency-Key": "key-00000002"})
    assert (again.status, again.body) == (first.status, first.body)
    changed = {**ORDER, "lines": [{"product_id": "1000", "quantity": 5}]}
    conflict = live_erp_down.call("POST", "/v1/orders", changed, headers={"Idempotency-Key": "key-00000002"})
    assert conflict.status == 409 and conflict.body["error"] == "conflict"
    timeline = live_erp_down.call("GET", "/v1/orders/WEB-1001").body["timeline"]
    assert len(timeline) == 1  # the replay sent nothing


def test_answers_kept_by_an_earlier_release_replay_the_same(live_erp_down: Any) -> None:
    """An Idempotency-Key record keeps its answer's HTTP code as it always has: rows written by an
    earlier release replay as they did (201, 202, 422), and a row written now holds the same
    number, for a version still running during a deploy."""
    from erpbridge.adapters.sql.live_tables import IDEMPOTENCY, now_naive
    from erpbridge.live.models import OrderRequest
    from erpbridge.live.ports import fingerprint

    request_print = fingerprint(OrderRequest.model_validate(ORDER).model_dump(mode="json"))
    created = {
        "order_id": "WEB-1001",
        "status": "created",
        "erp_order_id": "SO-9",
        "totals": None,
        "lines": [],
    }
    queued = {**created, "status": "queued", "erp_order_id": None}
    rejected = {"error": "erp_rejected", "order_id": "WEB-1001", "erp_message": "Item 1000 is blocked"}
    kept = {
        "key-earlier-201": (201, created),
        "key-earlier-202": (202, queued),
        "key-earlier-422": (422, rejected),
    }
    engine = sa.create_engine(live_erp_down.database_url)
    with engine.begin() as conn:
        for key, (code, response) in kept.items():
            conn.execute(
                sa.insert(IDEMPOTENCY).values(
                    key=key,
                    fingerprint=request_print,
                    locked_until=now_naive(),
                    created_at=now_naive(),
                    status_code=code,
                    response=json.dumps(response),
                )
            )
    for key, (code, _) in kept.items():
        answer = live_erp_down.call("POST", "/v1/orders", ORDER, headers={"Idempotency-Key": key})
        assert answer.status == code, key
    assert (
        live_erp_down.call("POST", "/v1/orders", ORDER, headers={"Idempotency-Key": "key-earlier-201"}).body[
            "erp_order_id"
        ]
        == "SO-9"
    )
    refused = live_erp_down.call("POST", "/v1/orders", ORDER, headers={"Idempotency-Key": "key-earlier-422"})
    assert (refused.body["error"], refused.body["erp_message"]) == ("erp_rejected", "Item 1000 is blocked")
    assert live_erp_down.call("GET", "/v1/orders/WEB-1001").status == 404  # replays sent and stored nothing

    live_erp_down.call("POST", "/v1/orders", ORDER, headers={"Idempotency-Key": "key-written-now"})
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(IDEMPOTENCY.c.status_code).where(IDEMPOTENCY.c.key == "key-written-now")
        ).scalar_one()
    engine.dispose()
    assert stored == 202  # queued: the ERP is down


def test_generated_order_id_and_missing_idempotency_key(live_erp_down: Any) -> None:
    body = {k: v for k, v in ORDER.items() if k != "order_id"}
    answer = live_erp_down.call("POST", "/v1/orders", body, headers={"Idempotency-Key": "key-00000003"})
    assert answer.status == 202 and answer.body["order_id"].startswith("WEB-")
    missing = live_erp_down.call("POST", "/v1/orders", body)
    assert missing.status == 422
    assert any("idempotency-key" in d["field"].lower() for d in missing.body["detail"])


def test_invalid_body_is_422_with_field_and_reason(live_erp_down: Any) -> None:
    bad = {"customer_number": "10000", "items": [{"product_id": "1000", "quantity": -1}]}
    answer = live_erp_down.call("POST", "/v1/prices", bad)
    assert answer.status == 422
    assert answer.body["error"] == "validation_error"
    fields = {d["field"] for d in answer.body["detail"]}
    assert "body.items.0.quantity" in fields
    assert "Traceback" not in answer.raw.decode()
    unknown_order = live_erp_down.call("GET", "/v1/orders/NOPE-1")
    assert unknown_order.status == 404


def test_prices_fall_back_to_shop_prices_and_say_so(live_erp_down: Any) -> None:
    engine = sa.create_engine(live_erp_down.database_url)
    with engine.begin() as conn:
        # The list price is in the shop's default currency (what Fetch Shop Data imports).
        conn.execute(
            sa.insert(table("EcomCurrencies")).values(
                CurrencyCode="EUR", CurrencyLanguageId="LANG1", CurrencyIsDefault=True
            )
        )
        conn.execute(
            sa.insert(table("EcomProducts")).values(
                ProductID="1000",
                ProductLanguageID="LANG1",
                ProductVariantID="",
                ProductPrice=Decimal("12.5"),
                ProductStock=7,
                ProductUpdated=datetime(2026, 1, 2),
            )
        )
        conn.execute(
            sa.insert(table("EcomPrices")).values(
                PriceID="P1",
                PriceProductId="1000",
                PriceProductVariantId="",
                PriceQuantity=10,
                PriceAmount=Decimal("9.75"),
                PriceUserCustomerNumber="10000",
                PriceCurrency="EUR",
            )
        )
        for other, customer, currency in (("P2", "20000", "EUR"), ("P3", "10000", "USD")):
            conn.execute(  # cheaper, but another customer's / another currency's: never applies
                sa.insert(table("EcomPrices")).values(
                    PriceID=other,
                    PriceProductId="1000",
                    PriceProductVariantId="",
                    PriceQuantity=1,
                    PriceAmount=Decimal("1.00"),
                    PriceUserCustomerNumber=customer,
                    PriceCurrency=currency,
                )
            )
    engine.dispose()
    request = {
        "customer_number": "10000",
        "currency": "EUR",
        "items": [
            {"product_id": "1000", "quantity": 1},
            {"product_id": "1000", "quantity": 12},
            {"product_id": "X9"},
        ],
    }
    answer = live_erp_down.call("POST", "/v1/prices", request)
    assert answer.status == 200
    assert answer.body["degraded"] is True and "ERP" in answer.body["message"]
    list_price, break_price, unknown = answer.body["items"]
    assert {i["source"] for i in answer.body["items"]} == {"fallback"}
    assert Decimal(str(list_price["price"])) == Decimal("12.5") and list_price["stock"] == 7
    assert Decimal(str(break_price["price"])) == Decimal("9.75")  # the customer's quantity break
    assert unknown["price"] is None and unknown["found"] is False
    assert unknown["reason"] == "the shop database has no price for this product"


def test_basket_falls_back_and_says_so(live_erp_down: Any) -> None:
    basket = {
        "customer_number": "10000",
        "lines": [{"product_id": "1000", "quantity": 2}],
        "erp_controls_discount": False,
        "discounts": [{"name": "Spring", "amount": 1}],
    }
    answer = live_erp_down.call("POST", "/v1/baskets/calculate", basket)
    assert answer.status == 200
    assert answer.body["source"] == "fallback" and "ERP unavailable" in answer.body["message"]
    assert answer.body["discounts_by"] == "shop"


def test_health_reports_degraded_and_the_export_queue(live_erp_down: Any) -> None:
    live_erp_down.call("POST", "/v1/orders", ORDER, headers={"Idempotency-Key": "key-00000004"})
    answer = live_erp_down.call("GET", "/v1/health")
    assert answer.status == 200
    assert answer.body["status"] == "degraded" and answer.body["erp_reachable"] is False
    assert answer.body["orders_waiting_for_export"] == 1


def test_documents_answer_503_when_the_erp_cannot_be_reached(live_erp_down: Any) -> None:
    answer = live_erp_down.call("GET", "/v1/customers/10000/documents?type=invoice")
    assert answer.status == 503
    assert answer.body["error"] == "erp_unavailable" and "retry-after" in answer.headers
    assert "127.0.0.1:9" not in answer.raw.decode()  # no URL (or secret) leaks


def test_a_customer_token_only_reaches_its_own_customer(live_erp_down: Any) -> None:
    own = live_erp_down.token("10000")
    other = {"customer_number": "20000", "items": [{"product_id": "1000"}]}
    assert live_erp_down.call("POST", "/v1/prices", other, token=own).status == 403
    assert live_erp_down.call("GET", "/v1/customers/20000/documents?type=invoice", token=own).status == 403
    assert (
        live_erp_down.call("GET", "/v1/customers/20000/documents/invoice/INV-1/pdf", token=own).status == 403
    )
    order = {**ORDER, "customer_number": "20000", "order_id": "WEB-2001"}
    assert (
        live_erp_down.call(
            "POST", "/v1/orders", order, headers={"Idempotency-Key": "key-00000005"}, token=own
        ).status
        == 403
    )
    live_erp_down.call("POST", "/v1/orders", order, headers={"Idempotency-Key": "key-00000006"})
    assert live_erp_down.call("GET", "/v1/orders/WEB-2001", token=own).status == 403
    assert live_erp_down.call("GET", "/v1/orders/WEB-2001", token=live_erp_down.token("20000")).status == 200
    # Its own customer passes the check (and then meets the ERP outage, not a 403).
    assert live_erp_down.call("GET", "/v1/customers/10000/documents?type=invoice", token=own).status == 503
    expired = live_erp_down.token("10000", expires_in=-10)
    assert live_erp_down.call("POST", "/v1/prices", other, token=expired).status == 401
    assert live_erp_down.call("POST", "/v1/prices", other, token="not-a-jwt").status == 401


def test_old_idempotency_records_are_purged_by_the_export_run(live_erp_down: Any) -> None:
    from datetime import UTC, timedelta

    from erpbridge.adapters.sql.idempotency import SqlIdempotencyStore

    live_erp_down.call("POST", "/v1/orders", ORDER, headers={"Idempotency-Key": "key-00000007"})
    store = SqlIdempotencyStore(live_erp_down.services.engine)
    assert store.purge(older_than=datetime.now(UTC) - timedelta(days=1)) == 0  # still fresh
    assert store.purge(older_than=datetime.now(UTC) + timedelta(seconds=1)) == 1
    # The key is free again; the order itself is not sent twice (found by its id, still queued).
    again = live_erp_down.call("POST", "/v1/orders", ORDER, headers={"Idempotency-Key": "key-00000007"})
    assert again.status == 202 and again.body["order_id"] == "WEB-1001"


def test_a_broken_shop_database_is_503_and_the_key_can_be_retried(live_erp_down: Any) -> None:
    engine = sa.create_engine(live_erp_down.database_url)
    with engine.begin() as conn:
        conn.execute(sa.text('ALTER TABLE "EcomOrderLines" RENAME TO "EcomOrderLinesAway"'))
    answer = live_erp_down.call("POST", "/v1/orders", ORDER, headers={"Idempotency-Key": "key-00000008"})
    assert answer.status == 503 and answer.body["error"] == "database_unavailable"
    assert "EcomOrderLines" not in answer.raw.decode()  # no SQL in the answer
    with engine.begin() as conn:
        conn.execute(sa.text('ALTER TABLE "EcomOrderLinesAway" RENAME TO "EcomOrderLines"'))
    engine.dispose()
    retry = live_erp_down.call("POST", "/v1/orders", ORDER, headers={"Idempotency-Key": "key-00000008"})
    assert retry.status == 202 and retry.body["order_id"] == "WEB-1001"


def _price_rows(database_url: str, *rows: dict[str, Any]) -> None:
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(table("EcomCurrencies")).values(
                CurrencyCode="EUR", CurrencyLanguageId="LANG1", CurrencyIsDefault=True
            )
        )
        conn.execute(
            sa.insert(table("EcomProducts")).values(
                ProductID="2000",
                ProductLanguageID="LANG1",
                ProductVariantID="",
                ProductPrice=Decimal("50"),
                ProductDefaultUnitId="PCS",
                ProductStock=3,
            )
        )
        conn.execute(
            sa.insert(table("AccessUser")).values(
                AccessUserUserName="10000", AccessUserCustomerNumber="10000", AccessUserGroups="RETAIL"
            )
        )
        for number, row in enumerate(rows):
            conn.execute(
                sa.insert(table("EcomPrices")).values(
                    PriceID=f"R{number}", PriceProductId="2000", PriceProductVariantId="", **row
                )
            )
    engine.dispose()


def _fallback(live: Any, currency: str, **item: Any) -> dict[str, Any]:
    answer = live.call(
        "POST",
        "/v1/prices",
        {"customer_number": "10000", "currency": currency, "items": [{"product_id": "2000", **item}]},
    )
    assert answer.status == 200 and answer.body["degraded"] is True
    (only,) = answer.body["items"]
    assert only["source"] == "fallback"
    return dict(only)


def test_a_fallback_price_is_only_served_in_the_requested_currency(live_erp_down: Any) -> None:
    _price_rows(
        live_erp_down.database_url,
        {"PriceCurrency": "EUR", "PriceUnitId": "PCS", "PriceQuantity": 1, "PriceAmount": Decimal("40")},
    )
    usd = _fallback(live_erp_down, "USD")
    assert usd["found"] is False and usd["price"] is None  # never the EUR price (nor the EUR list price)
    assert usd["reason"] == "no shop price in USD"
    eur = _fallback(live_erp_down, "EUR")
    assert eur["found"] is True and Decimal(str(eur["price"])) == Decimal("40")
    local = _fallback(live_erp_down, "")  # empty = the local currency
    assert Decimal(str(local["price"])) == Decimal("40")


def test_a_fallback_price_is_only_served_for_the_requested_unit(live_erp_down: Any) -> None:
    _price_rows(
        live_erp_down.database_url,
        {"PriceCurrency": "EUR", "PriceUnitId": "PCS", "PriceQuantity": 1, "PriceAmount": Decimal("40")},
        {"PriceCurrency": "EUR", "PriceUnitId": "BOX", "PriceQuantity": 1, "PriceAmount": Decimal("400")},
    )
    pallet = _fallback(live_erp_down, "EUR", unit="PALLET")
    assert pallet["found"] is False and pallet["price"] is None  # not the piece price, not the list price
    assert pallet["reason"] == "no shop price for unit PALLET"
    box = _fallback(live_erp_down, "EUR", unit="BOX")
    assert Decimal(str(box["price"])) == Decimal("400")
    piece = _fallback(live_erp_down, "EUR", unit="PCS")
    assert Decimal(str(piece["price"])) == Decimal("40")


def test_a_fallback_price_is_only_served_inside_its_date_window(live_erp_down: Any) -> None:
    common = {"PriceCurrency": "EUR", "PriceUnitId": "PCS", "PriceQuantity": 1}
    _price_rows(
        live_erp_down.database_url,
        {**common, "PriceAmount": Decimal("10"), "PriceValidTo": datetime(2020, 1, 31)},  # ended
        {**common, "PriceAmount": Decimal("20"), "PriceValidFrom": datetime(2099, 1, 1)},  # not yet
        {**common, "PriceAmount": Decimal("45"), "PriceValidFrom": datetime(2020, 1, 1)},
    )
    item = _fallback(live_erp_down, "EUR")
    assert item["found"] is True and Decimal(str(item["price"])) == Decimal("45")


def test_a_fallback_price_outside_every_window_is_not_found(live_erp_down: Any) -> None:
    _price_rows(
        live_erp_down.database_url,
        {
            "PriceCurrency": "USD",
            "PriceUnitId": "PCS",
            "PriceQuantity": 1,
            "PriceAmount": Decimal("10"),
            "PriceValidTo": datetime(2020, 1, 31),
        },
    )
    item = _fallback(live_erp_down, "USD")
    assert item["found"] is False and item["reason"].startswith("no shop price valid on ")


def test_group_prices_apply_only_to_the_group_and_quantity_breaks_only_when_reached(
    live_erp_down: Any,
) -> None:
    common = {"PriceCurrency": "EUR", "PriceUnitId": "PCS"}
    _price_rows(
        live_erp_down.database_url,
        {**common, "PriceQuantity": 1, "PriceAmount": Decimal("48")},  # all customers
        {**common, "PriceQuantity": 1, "PriceAmount": Decimal("30"), "PriceUserGroupId": "WHOLESALE"},
        {**common, "PriceQuantity": 1, "PriceAmount": Decimal("44"), "PriceUserGroupId": "RETAIL"},
        {**common, "PriceQuantity": 10, "PriceAmount": Decimal("35"), "PriceUserCustomerNumber": "10000"},
    )
    one = _fallback(live_erp_down, "EUR", quantity=1)
    assert Decimal(str(one["price"])) == Decimal("44")  # the customer's group, not WHOLESALE's 30
    ten = _fallback(live_erp_down, "EUR", quantity=10)
    assert Decimal(str(ten["price"])) == Decimal("35")  # the lowest price that applies (BC's best price)
