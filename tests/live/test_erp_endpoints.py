"""Several ERP endpoints (issue 12 §3), over real HTTP with two emulators: the default endpoint
(auth key) and a second one for shop NORDIC (auth basic, its own URL and credentials). Prices,
baskets, orders, documents and batch fetches go to their shop's endpoint; one endpoint down leaves
the other serving, and health says which one is down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from endpoints_support import nordic_endpoints

from erpbridge.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]
CUSTOMER = "10000"


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """SQLite only: the routing does not depend on the database (the order paths run on both in
    tests/live/test_orders_faults.py)."""
    return sqlite_url


@pytest.fixture
def two(live_factory: Any, nordic: Any) -> Any:
    return live_factory(ERPBRIDGE_ERP_ENDPOINTS=nordic_endpoints(nordic))


def _prices(live: Any, shop_id: str, *products: str) -> Any:
    body = {"customer_number": CUSTOMER, "shop_id": shop_id, "items": [{"product_id": p} for p in products]}
    return live.call("POST", "/v1/prices", body)


def _order(order_id: str, shop_id: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer_number": CUSTOMER,
        "shop_id": shop_id,
        "billing_address": {"name": "Lucerne & Co.", "city": "Oslo", "country_code": "NO"},
        "lines": [{"product_id": "P000001", "quantity": 2}],
    }


def _place(live: Any, order_id: str, shop_id: str) -> Any:
    return live.call(
        "POST", "/v1/orders", _order(order_id, shop_id), headers={"Idempotency-Key": f"key-{order_id}"}
    )


def _created_in(emulator: Any) -> set[str]:
    return {o["shop_order_id"] for o in emulator.control.sales_orders()}


def test_prices_and_baskets_go_to_the_endpoint_of_their_shop(two: Any, emulator: Any, nordic: Any) -> None:
    answer = _prices(two, "NORDIC", "P000001", "P000002")
    assert answer.status == 200, answer.body
    assert {item["source"] for item in answer.body["items"]} == {"erp"}
    assert len(nordic.control.requests("product_info")) == 1
    assert emulator.control.requests("product_info") == []
    default = _prices(two, "", "P000001")
    assert default.body["items"][0]["source"] == "erp"  # not NORDIC's cached price
    assert len(emulator.control.requests("product_info")) == 1
    assert len(nordic.control.requests("product_info")) == 1
    basket = {
        "customer_number": CUSTOMER,
        "shop_id": "NORDIC",
        "lines": [{"product_id": "P000001", "quantity": 1}],
    }
    assert two.call("POST", "/v1/baskets/calculate", basket).status == 200
    assert len(nordic.control.requests("calculate_order")) == 1
    assert emulator.control.requests("calculate_order") == []


def test_documents_take_the_shop_as_a_query_parameter(two: Any, emulator: Any, nordic: Any) -> None:
    listing = two.call("GET", f"/v1/customers/{CUSTOMER}/documents?type=invoice&shop_id=NORDIC")
    assert listing.status == 200, listing.body
    number = listing.body["items"][0]["No"]
    detail = two.call("GET", f"/v1/customers/{CUSTOMER}/documents/invoice/{number}?shop_id=NORDIC")
    pdf = two.call("GET", f"/v1/customers/{CUSTOMER}/documents/invoice/{number}/pdf?shop_id=NORDIC")
    assert detail.status == 200 and pdf.status == 200 and pdf.raw.startswith(b"%PDF")
    assert {request["kind"] for request in nordic.control.requests()} == {"get_list", "get_item", "get_pdf"}
    assert emulator.control.requests() == []
    assert two.call("GET", f"/v1/customers/{CUSTOMER}/documents?type=invoice").status == 200
    assert len(emulator.control.requests("get_list")) == 1


def test_orders_are_created_in_their_shops_erp_and_exported_there(
    two: Any, emulator: Any, nordic: Any
) -> None:
    assert _place(two, "WEB-N-1", "NORDIC").status == 201
    assert _place(two, "WEB-D-1", "").status == 201
    assert _created_in(nordic) == {"WEB-N-1"} and _created_in(emulator) == {"WEB-D-1"}
    nordic.go_down()
    queued = _place(two, "WEB-N-2", "NORDIC")
    assert queued.status == 202 and queued.body["status"] == "queued"
    assert _place(two, "WEB-D-2", "").status == 201  # the default endpoint keeps serving
    nordic.come_up()
    report = two.services.orders.export_failed_orders(older_than_s=0)
    assert report.created == 1
    assert _created_in(nordic) == {"WEB-N-1", "WEB-N-2"} and _created_in(emulator) == {"WEB-D-1", "WEB-D-2"}


def test_an_order_stays_with_the_endpoint_it_was_stored_for_when_its_shop_moves(
    live_factory: Any, emulator: Any, nordic: Any
) -> None:
    first = live_factory(ERPBRIDGE_ERP_ENDPOINTS=nordic_endpoints(nordic))
    nordic.go_down()
    assert _place(first, "WEB-N-3", "NORDIC").status == 202  # queued for endpoint nordic
    nordic.come_up()
    # Redeployed: NORDIC is now the default endpoint's shop; the nordic endpoint serves another.
    moved = live_factory(ERPBRIDGE_ERP_ENDPOINTS=nordic_endpoints(nordic, shops=["OTHER"]))
    assert moved.services.orders.export_failed_orders(older_than_s=0).created == 1
    assert _created_in(nordic) == {"WEB-N-3"} and _created_in(emulator) == set()
    assert _place(moved, "WEB-N-4", "NORDIC").status == 201  # a new order follows the shop
    assert _created_in(emulator) == {"WEB-N-4"}


def test_one_endpoint_down_leaves_the_other_serving_and_health_says_which(
    live_factory: Any, emulator: Any, nordic: Any
) -> None:
    # The endpoint's own breaker setting: one failure opens NORDIC's breaker, not the default's.
    two = live_factory(ERPBRIDGE_ERP_ENDPOINTS=nordic_endpoints(nordic, breaker_failures=1))
    healthy = two.call("GET", "/v1/health").body
    assert healthy["status"] == "ok"
    assert [(line["name"], line["shops"], line["status"]) for line in healthy["endpoints"]] == [
        ("default", [], "ok"),
        ("nordic", ["NORDIC"], "ok"),
    ]
    nordic.go_down()
    down = _prices(two, "NORDIC", "P000003")
    assert down.status == 200 and down.body["degraded"] is True  # fallback figures, not an error
    up = _prices(two, "", "P000003")
    assert up.body["degraded"] is False and up.body["items"][0]["source"] == "erp"
    health = two.call("GET", "/v1/health").body
    lines = {line["name"]: line for line in health["endpoints"]}
    assert health["status"] == "degraded"
    assert lines["default"]["status"] == "ok" and lines["default"]["breaker_state"] == "closed"
    assert lines["nordic"]["erp_reachable"] is False and lines["nordic"]["breaker_state"] == "open"
    assert "ERPBRIDGE_ERP_ENDPOINTS[nordic].url" in lines["nordic"]["erp_setting"]  # the setting to check
    assert lines["nordic"]["erp_endpoint"].startswith(f"http://127.0.0.1:{nordic.port}/")
    assert health["erp_reachable"] is True  # the top-level fields are the default endpoint's


def test_an_unknown_shop_is_refused_with_the_known_ones(live_factory: Any, nordic: Any) -> None:
    live = live_factory(
        ERPBRIDGE_ERP_ENDPOINTS=nordic_endpoints(nordic), ERPBRIDGE_ERP_DEFAULT_SHOPS='["SHOP1"]'
    )
    refused = _prices(live, "ELSEWHERE", "P000001")
    assert refused.status == 400 and refused.body["error"] == "unknown_shop"
    assert "NORDIC, SHOP1" in refused.body["message"]
    order = _place(live, "WEB-X-1", "ELSEWHERE")
    assert order.status == 400 and order.body["error"] == "unknown_shop"
    assert live.call("GET", "/v1/orders/WEB-X-1").status == 404  # nothing was stored
    documents = live.call("GET", f"/v1/customers/{CUSTOMER}/documents?type=invoice&shop_id=ELSEWHERE")
    assert documents.status == 400
    assert _prices(live, "SHOP1", "P000001").status == 200
    assert _prices(live, "", "P000001").status == 200  # no shop: the default shop


def test_a_currency_of_a_shop_can_have_its_own_endpoint(
    live_factory: Any, emulator: Any, nordic: Any
) -> None:
    live = live_factory(ERPBRIDGE_ERP_ENDPOINTS=nordic_endpoints(nordic, shops=["SHOP1"], currencies=["EUR"]))
    body = {"customer_number": CUSTOMER, "shop_id": "SHOP1", "items": [{"product_id": "P000001"}]}
    assert live.call("POST", "/v1/prices", {**body, "currency": "EUR"}).status == 200
    assert live.call("POST", "/v1/prices", body).status == 200
    assert len(nordic.control.requests("product_info")) == 1
    assert len(emulator.control.requests("product_info")) == 1


def test_a_batch_fetch_uses_the_endpoint_of_its_shop(tmp_path: Path, emulator: Any, nordic: Any) -> None:
    from erpbridge.batch.models import Trigger
    from erpbridge.settings import load_settings
    from erpbridge.wiring.batch import runtime_from_settings

    settings = load_settings(
        {
            **emulator.settings_env(),
            "ERPBRIDGE_ERP_ENDPOINTS": nordic_endpoints(nordic, shops=["SHOP2"]),
            "ERPBRIDGE_STATE_DIR": str(tmp_path / "state"),
            "ERPBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}",
        }
    )
    runtime = runtime_from_settings(settings, mappings_dir=ROOT / "mappings")
    shop2 = runtime.fetch("fetch-shop-data", Trigger.MANUAL, parameters={"shopID": "SHOP2"})
    assert shop2.keys, shop2
    assert nordic.control.requests("batch_fetch") and emulator.control.requests("batch_fetch") == []
    runtime.fetch("fetch-shop-data", Trigger.MANUAL)  # SHOP1: the default endpoint
    assert len(emulator.control.requests("batch_fetch")) >= 1


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ({"shops": ["S2"], "colour": "blue"}, "'colour' is not an ERPBRIDGE_ERP_* setting"),
        ({"shops": ["S2"], "auth": "basic", "user": "BC"}, "ERPBRIDGE_ERP_ENDPOINTS[second]"),
        ({"shops": "S2"}, "shops must be a list"),
        ({"shops": ["S2"], "url": "not a url"}, "ERPBRIDGE_ERP_URL"),
    ],
)
def test_a_wrong_endpoint_entry_fails_when_settings_are_read(entry: dict[str, Any], complaint: str) -> None:
    from erpbridge.settings import load_settings

    env = {"ERPBRIDGE_ERP_URL": "http://127.0.0.1:9/ws", "ERPBRIDGE_ERP_AUTH": "none"}
    with pytest.raises(ConfigurationError) as raised:
        load_settings({**env, "ERPBRIDGE_ERP_ENDPOINTS": json.dumps({"second": entry})})
    assert complaint in str(raised.value)


def test_two_endpoints_for_one_shop_are_refused() -> None:
    from erpbridge.erp.endpoints import EndpointMap
    from erpbridge.settings import load_settings

    env = {"ERPBRIDGE_ERP_URL": "http://127.0.0.1:9/ws", "ERPBRIDGE_ERP_AUTH": "none"}
    both = {"a": {"shops": ["S2"]}, "b": {"shops": ["S2"]}}
    with pytest.raises(ConfigurationError, match="'S2' is served by both 'a' and 'b'"):
        EndpointMap.from_settings(load_settings({**env, "ERPBRIDGE_ERP_ENDPOINTS": json.dumps(both)}))
    with pytest.raises(ConfigurationError, match="'default' is the ERPBRIDGE_ERP_\\* endpoint's name"):
        EndpointMap.from_settings(
            load_settings({**env, "ERPBRIDGE_ERP_ENDPOINTS": json.dumps({"default": {"shops": ["S3"]}})})
        )


def test_the_map_and_its_credentials_can_come_from_the_settings_secret() -> None:
    import boto3
    from moto import mock_aws

    from erpbridge.erp.endpoints import EndpointMap
    from erpbridge.settings import load_settings

    entry = {
        "shops": ["NORDIC"],
        "url": "http://127.0.0.1:9/nordic",
        "auth": "basic",
        "user": "BC",
        "password": "pw",
    }
    with mock_aws():
        boto3.client("secretsmanager").create_secret(
            Name="erpbridge/test/erp-endpoints", SecretString=json.dumps({"erp_endpoints": {"nordic": entry}})
        )
        settings = load_settings(
            {
                "ERPBRIDGE_ERP_URL": "http://127.0.0.1:9/ws",
                "ERPBRIDGE_ERP_AUTH": "none",
                "ERPBRIDGE_SECRETS_NAME": "erpbridge/test/erp-endpoints",
            }
        )
    nordic = EndpointMap.from_settings(settings).for_shop("NORDIC")
    assert nordic.name == "nordic" and nordic.settings.erp_auth == "basic"
    assert (
        nordic.settings.erp_password is not None and nordic.settings.erp_password.get_secret_value() == "pw"
    )
    assert (
        "pw" not in repr(settings)
        and "pw" not in str(settings.model_dump())
        and "pw" not in repr(nordic.settings)
    )
