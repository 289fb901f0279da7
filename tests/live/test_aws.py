"""The live API's AWS side on moto: DynamoDB cache and breaker stores (tables built from
template.yaml), order XML copies on S3, and the Lambda handlers wired with AWS settings —
a price cached by one container is served to another, and Export Failed Orders stages its XML."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from erpbridge_cli.local_stack import create_tables_from_template


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """SQLite only: nothing here depends on the database dialect (tests/live/test_orders_faults.py
    and test_erp_down.py run the database paths on both)."""
    return sqlite_url


BUCKET = "erpbridge-orders-xml-test"


@pytest.fixture
def aws() -> Iterator[dict[str, str]]:
    with mock_aws():
        create_tables_from_template({"CacheTable": "cache", "BreakerTable": "breaker"})
        boto3.client("s3").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        yield {
            "ERPBRIDGE_CACHE_TABLE": "cache",
            "ERPBRIDGE_BREAKER_TABLE": "breaker",
            "ERPBRIDGE_ORDERS_XML_BUCKET": BUCKET,
        }


def test_dynamodb_cache_store_round_trip_batches_and_expiry(aws: dict[str, str]) -> None:
    from erpbridge.adapters.aws.dynamodb_cache import DynamoDbCacheStore
    from erpbridge.live.ports import CacheRecord

    store = DynamoDbCacheStore("cache")
    now = time.time()
    records = [
        CacheRecord(f"price|{n}", {"found": True, "price": str(n)}, now, now + 300, now + 600)
        for n in range(130)
    ]
    expired = CacheRecord("price|old", {"found": True}, now - 900, now - 600, now - 1)
    store.put_many([*records, expired])  # more than one BatchWriteItem (25) and BatchGetItem (100)
    found = store.get_many([r.key for r in records] + ["price|old", "price|missing"])
    assert len(found) == 130 and found["price|7"].value == {"found": True, "price": "7"}
    assert "price|old" not in found  # past its TTL: ignored even before DynamoDB deletes it
    store.delete_many(["price|7"])
    assert "price|7" not in store.get_many(["price|7"])


def test_cache_writes_dynamodb_keeps_refusing_are_logged(
    aws: dict[str, str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from erpbridge.adapters.aws.dynamodb_cache import DynamoDbCacheStore
    from erpbridge.live.ports import CacheRecord

    client = boto3.client("dynamodb")
    # DynamoDB under throttling: every batch comes back unprocessed (moto never throttles).
    monkeypatch.setattr(client, "batch_write_item", lambda RequestItems: {"UnprocessedItems": RequestItems})
    monkeypatch.setattr("erpbridge.adapters.aws.dynamodb_cache.time.sleep", lambda _: None)
    store = DynamoDbCacheStore("cache", client=client)
    now = time.time()

    store.put_many([CacheRecord(f"stamp|p|{n}", now, now, now + 60, now + 60) for n in range(3)])

    assert "did not accept 3 cache writes" in caplog.text


def test_breaker_state_is_shared_and_changed_by_compare_and_set(aws: dict[str, str]) -> None:
    from erpbridge.adapters.aws.dynamodb_breaker import DynamoDbBreakerStore
    from erpbridge.erp.breaker import CircuitBreaker
    from erpbridge.erp.ports import BreakerPhase, BreakerState

    store = DynamoDbBreakerStore("breaker")
    assert store.load("erp") == BreakerState()
    assert store.save("erp", BreakerState(consecutive_failures=1), expected_version=0)
    assert not store.save("erp", BreakerState(consecutive_failures=9), expected_version=0)  # lost the race
    assert store.load("erp").consecutive_failures == 1
    # Two containers, one table: failures seen by one open the breaker for both.
    first = CircuitBreaker(store, name="shared", failure_threshold=2, cooldown_s=60, clock=time.time)
    second = CircuitBreaker(
        DynamoDbBreakerStore("breaker"), name="shared", failure_threshold=2, cooldown_s=60
    )
    first.record_failure()
    second.record_failure()
    assert first.phase is BreakerPhase.OPEN and not second.would_allow()


def test_s3_xml_store(aws: dict[str, str]) -> None:
    from erpbridge.adapters.aws.s3_xml_copies import S3XmlCopyStore

    store = S3XmlCopyStore(BUCKET, prefix="orders-xml")
    uri = store.put_bytes("orders/WEB-1/a-request.xml", b"<tables/>")
    assert uri == f"s3://{BUCKET}/orders-xml/orders/WEB-1/a-request.xml"
    assert store.get_bytes(uri) == b"<tables/>" == store.get_bytes("orders/WEB-1/a-request.xml")


def test_a_price_cached_by_one_container_is_served_by_another(
    aws: dict[str, str], live_factory: Any, emulator: Any
) -> None:
    first_container = live_factory(**aws)
    assert (
        first_container.call("POST", "/v1/prices", {"items": [{"product_id": "P000010"}]}).body["items"][0][
            "source"
        ]
        == "erp"
    )
    second_container = live_factory(**aws)  # fresh services: empty in-memory layer, same DynamoDB table
    answer = second_container.call("POST", "/v1/prices", {"items": [{"product_id": "P000010"}]})
    assert answer.body["items"][0]["source"] == "cache"
    assert len(emulator.control.requests("product_info")) == 1


def test_live_settings_from_ssm_and_secrets_manager_reach_the_live_api(
    aws: dict[str, str], live_factory: Any
) -> None:
    """Customer-token settings held in SSM (jwt_required) and Secrets Manager (jwt_secret) are
    the live API's: one settings model, loaded one way (they used to be read from the environment only)."""
    import jwt

    stored_secret = "customer-token-secret-from-secrets-manager-0123"
    boto3.client("ssm").put_parameter(Name="/erpbridge/ssm-test/jwt_required", Value="true", Type="String")
    boto3.client("secretsmanager").create_secret(
        Name="erpbridge/ssm-test/live", SecretString=json.dumps({"jwt_secret": stored_secret})
    )
    live = live_factory(
        **aws, ERPBRIDGE_SSM_PATH="/erpbridge/ssm-test", ERPBRIDGE_SECRETS_NAME="erpbridge/ssm-test/live"
    )
    prices = {"items": [{"product_id": "P000010"}]}

    def token(key: str) -> str:
        return jwt.encode({"customer_number": "10000", "exp": int(time.time()) + 300}, key, algorithm="HS256")

    assert live.call("POST", "/v1/prices", prices).status == 401  # a token is required (SSM)
    # The environment's ERPBRIDGE_JWT_SECRET is overridden by Secrets Manager's.
    assert live.call("POST", "/v1/prices", prices, token=live.token("10000")).status == 401
    assert live.call("POST", "/v1/prices", prices, token=token(stored_secret)).status == 200


def test_export_failed_orders_lambda_stages_xml_in_s3(
    aws: dict[str, str], live_factory: Any, emulator: Any, lambda_context: Any
) -> None:
    live = live_factory(**aws)
    emulator.control.down(30)
    try:
        order = {
            "order_id": "WEB-S3-1",
            "customer_number": "10000",
            "lines": [{"product_id": "P000001", "quantity": 1}],
        }
        assert (
            live.call("POST", "/v1/orders", order, headers={"Idempotency-Key": "key-s3-00001"}).status == 202
        )
    finally:
        emulator.control.up()
    import export_failed_orders

    result = export_failed_orders.lambda_handler({"older_than_s": 0}, lambda_context)
    assert result["picked"] == 1 and result["created"] == 1
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    exported = [k for k in keys if "-export-request.xml" in k]
    assert exported and all(k.startswith("orders-xml/orders/WEB-S3-1/") for k in keys)
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=exported[0])["Body"].read()
    assert b'submitType="ScheduledTask"' in body
    assert len([o for o in emulator.control.sales_orders() if "WEB-S3-1" in str(o)]) == 1


def test_each_erp_endpoint_has_its_own_shared_breaker_and_cache_namespace(
    aws: dict[str, str], live_factory: Any, emulator: Any, emulator_factory: Any
) -> None:
    import json

    from erpbridge.wiring.live import use_services

    nordic = emulator_factory(auth="basic")
    entry = {"shops": ["NORDIC"], "url": nordic.soap_url, "auth": "basic", "breaker_failures": 1}
    endpoints = json.dumps(
        {"nordic": {**entry, "user": nordic.config.user, "password": nordic.config.password}}
    )

    def prices(live: Any, shop_id: str) -> Any:
        use_services(live.services)  # the handler answers with this container's services
        return live.call(
            "POST", "/v1/prices", {"shop_id": shop_id, "items": [{"product_id": "P000011"}]}
        ).body

    first_container = live_factory(**aws, ERPBRIDGE_ERP_ENDPOINTS=endpoints)
    assert prices(first_container, "NORDIC")["items"][0]["source"] == "erp"
    second_container = live_factory(**aws, ERPBRIDGE_ERP_ENDPOINTS=endpoints)
    assert prices(second_container, "NORDIC")["items"][0]["source"] == "cache"  # NORDIC's, from DynamoDB
    assert len(nordic.control.requests("product_info")) == 1 and emulator.control.requests() == []
    nordic.go_down()
    first_container.services.cache._clock = lambda: time.time() + 3600  # the cached price expired
    assert prices(first_container, "NORDIC")["degraded"] is True  # one failure opens erp:nordic
    use_services(second_container.services)
    health = second_container.call("GET", "/v1/health").body
    assert [(line["name"], line["breaker_state"]) for line in health["endpoints"]] == [
        ("default", "closed"),
        ("nordic", "open"),  # read from the shared table: the other container opened it
    ]
    assert prices(second_container, "")["items"][0]["source"] == "erp"  # the default endpoint serves
