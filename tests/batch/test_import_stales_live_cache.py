"""A batch import of prices makes the live API's cached prices stale, in every container.

The real fetch and import handlers (the emulator over HTTP, S3 and DynamoDB on moto, SQLite) and
the live price use case wired from the same settings share the DynamoDB cache table: after an
import that changed EcomPrices rows the next live request asks the ERP again; an import that
changed nothing leaves the cache alone; the stale entry still serves as a fallback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from batch_support import AwsBatch, set_batch_env

from erpbridge_cli.local_stack import create_tables_from_template, object_created_event

PRODUCT = "P000001"


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url  # the dialects are covered by the import tests; this is about the cache


@pytest.fixture
def wired(
    aws_batch: AwsBatch,
    database_url: str,
    emulator_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[tuple[Any, Any]]:
    from erpbridge.settings import get_settings, load_settings
    from erpbridge.shopdb import dispose_engines, upgrade
    from erpbridge.wiring import batch as batch_wiring
    from erpbridge.wiring.live import LiveServices

    create_tables_from_template({"CacheTable": "cache"})
    emulator = emulator_factory(auth="key", products=200, customers=12)
    set_batch_env(
        monkeypatch,
        emulator,
        aws_batch,
        database_url,
        tmp_path / "state",
        ERPBRIDGE_CACHE_TABLE="cache",
        ERPBRIDGE_LOCAL_CACHE_TTL_S="0",  # no per-container layer: what another container sees
    )
    monkeypatch.delenv("ERPBRIDGE_BREAKER_TABLE", raising=False)
    get_settings.cache_clear()
    upgrade(database_url)
    batch_wiring.batch_runtime.cache_clear()
    yield LiveServices(load_settings()), emulator
    batch_wiring.batch_runtime.cache_clear()
    get_settings.cache_clear()
    dispose_engines()


def _run(job: str, bucket: str, context: Any) -> list[dict[str, Any]]:
    """Fetch, then deliver every staged object's event to the importer (what S3 does)."""
    import fetch_job
    import import_staged

    fetched = fetch_job.lambda_handler({"job": job}, context)
    assert fetched["result"] == "fetched", fetched
    s3 = boto3.client("s3")
    results = []
    for key in fetched["keys"]:
        head = s3.head_object(Bucket=bucket, Key=key)
        event = object_created_event(bucket, key, head["ContentLength"], head["ETag"].strip('"'))
        results.append(import_staged.lambda_handler(event, context))
        assert results[-1]["result"] == "imported", results[-1]
    return results


def _source(services: Any) -> str:
    from erpbridge.live.models import PriceRequest

    answer = services.prices.get_prices(
        PriceRequest(customer_number="10000", items=[{"product_id": PRODUCT}])
    )
    return str(answer.items[0].source)


def test_a_price_import_makes_every_cached_live_price_stale(
    wired: tuple[Any, Any], aws_batch: AwsBatch, lambda_context: Any
) -> None:
    services, emulator = wired
    assert _source(services) == "erp"
    assert _source(services) == "cache"
    asked = len(emulator.control.requests("product_info"))

    _run("fetch-prices", aws_batch.bucket, lambda_context)  # inserts EcomPrices rows

    assert _source(services) == "erp"  # the import's stamp: the ERP is asked again
    assert len(emulator.control.requests("product_info")) == asked + 1
    assert _source(services) == "cache"  # ... and the fresh answer is cached as usual


def test_an_import_that_changed_nothing_leaves_the_cache_alone(
    wired: tuple[Any, Any], aws_batch: AwsBatch, lambda_context: Any
) -> None:
    services, _ = wired
    _run("fetch-prices", aws_batch.bucket, lambda_context)
    assert _source(services) == "erp"
    assert _source(services) == "cache"

    _run("fetch-prices", aws_batch.bucket, lambda_context)  # the same prices again: rows unchanged

    assert _source(services) == "cache"


def test_a_stale_entry_still_serves_as_the_fallback_while_the_erp_is_down(
    wired: tuple[Any, Any], aws_batch: AwsBatch, lambda_context: Any
) -> None:
    services, emulator = wired
    assert _source(services) == "erp"
    _run("fetch-prices", aws_batch.bucket, lambda_context)
    emulator.control.down(30)
    try:
        assert _source(services) == "fallback"
    finally:
        emulator.control.up()
