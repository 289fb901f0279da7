"""Paged runs finalise once: the real handlers, the emulator over HTTP (paging with pageSize), S3
and DynamoDB on moto, the shop database on SQLite and PostgreSQL. Products the ERP dropped are
deactivated by the finalise step over the keys of all pages, exactly once; a failed or missing page
blocks it; a newer run's import blocks an older run's finalise; the shop scope holds."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from test_end_to_end import Batch
from test_end_to_end import batch as end_to_end_batch

from erpbridge.batch.finalise import FinaliseResult
from erpbridge.batch.models import RunStatus

batch = end_to_end_batch  # the end-to-end fixture, under its name

PAGED = {"pageSize": "300", "customModifier": "test-paging"}
GONE = ("GONE-1", "GONE-2", "GONE-3")


def _runtime() -> Any:
    from erpbridge.wiring.batch import batch_runtime

    return batch_runtime()


def _drop_from_erp(batch: Batch, shop: str = "SHOP1") -> None:
    """Products the shop has and the ERP no longer sends: copies of real rows under new ids."""
    engine = sa.create_engine(batch.database_url)
    try:
        with engine.begin() as conn:
            products = sa.Table("EcomProducts", sa.MetaData(), autoload_with=conn)
            row = (
                conn.execute(sa.select(products).where(products.c.ProductDefaultShopId == shop).limit(1))
                .mappings()
                .one()
            )
            for product_id in GONE:
                conn.execute(sa.insert(products).values({**row, "ProductID": product_id}))
    finally:
        engine.dispose()


def _active(batch: Batch, ids: tuple[str, ...] = GONE) -> int:
    quoted = ", ".join(f"'{i}'" for i in ids)
    return batch.count("EcomProducts", f'"ProductID" IN ({quoted}) AND "ProductActive" = TRUE')


def _fetch_paged(batch: Batch, **parameters: str) -> dict[str, Any]:
    fetched = batch.fetch("fetch-shop-data", parameters={**PAGED, **parameters})
    assert fetched["result"] == "fetched" and fetched["pages"] > 2
    return fetched


def test_products_dropped_across_pages_are_deactivated_once_by_the_last_pages_import(batch: Batch) -> None:
    batch.run("fetch-shop-data")
    _drop_from_erp(batch)
    assert _active(batch) == len(GONE)
    paged = _fetch_paged(batch)
    *first, last = paged["keys"]
    for key in first:
        assert batch.import_handler(batch.event_for(key), batch.context)["result"] == "imported"
    # every page but the last imported: nothing removed yet, and the run says so
    assert _active(batch) == len(GONE)
    record = batch.run_record(paged["run_id"])
    assert record.status is RunStatus.IMPORTING and record.finalised is None
    assert batch.import_handler(batch.event_for(last), batch.context)["result"] == "imported"
    assert _active(batch) == 0
    assert batch.count("EcomProducts", '"ProductActive" = FALSE') == len(GONE)  # nothing else
    record = batch.run_record(paged["run_id"])
    assert record.status is RunStatus.FINALISED
    assert record.finalised.counts.deleted == len(GONE)
    assert record.as_dict()["status"] == "finalised"
    # a second finalise does nothing more
    again = _runtime().finalise("fetch-shop-data", paged["run_id"])
    assert again.result is FinaliseResult.ALREADY
    assert batch.run_record(paged["run_id"]).finalised == record.finalised


def test_a_run_whose_pages_are_all_in_shows_imported_not_finalised(batch: Batch) -> None:
    batch.run("fetch-shop-data")
    _drop_from_erp(batch)
    paged = _fetch_paged(batch)
    runtime = _runtime()
    for key in paged["keys"]:  # what the Step Functions Map state does: finalise is its own state
        info = runtime.store().head(key)
        runtime.import_object(runtime.staging_bucket, key, etag=info.etag, finalise=False)
    record = batch.run_record(paged["run_id"])
    assert record.status is RunStatus.NOT_FINALISED
    assert str(record.status) == "imported, not finalised"
    assert _active(batch) == len(GONE)
    assert runtime.finalise("fetch-shop-data", paged["run_id"]).result is FinaliseResult.FINALISED
    assert _active(batch) == 0


def test_a_failed_page_blocks_the_finalise(batch: Batch) -> None:
    batch.run("fetch-shop-data")
    _drop_from_erp(batch)
    paged = _fetch_paged(batch)
    broken = paged["keys"][1]
    batch.put(broken, b"<tables><table tableName='EcomProducts'><item>")  # cut off: malformed
    for key in paged["keys"]:
        batch.import_handler(batch.event_for(key), batch.context)
    record = batch.run_record(paged["run_id"])
    assert record.status is RunStatus.FAILED and record.pages_failed == ["page-0002.xml"]
    outcome = _runtime().finalise("fetch-shop-data", paged["run_id"])
    assert outcome.result is FinaliseResult.BLOCKED and "page-0002.xml" in (outcome.reason or "")
    assert _active(batch) == len(GONE)


def test_a_missing_page_blocks_the_finalise(batch: Batch) -> None:
    batch.run("fetch-shop-data")
    _drop_from_erp(batch)
    paged = _fetch_paged(batch)
    for key in paged["keys"][:1] + paged["keys"][2:]:  # page 2 never arrives
        batch.import_handler(batch.event_for(key), batch.context)
    outcome = _runtime().finalise("fetch-shop-data", paged["run_id"])
    assert outcome.result is FinaliseResult.NOT_READY and "page-0002.xml" in (outcome.reason or "")
    assert _active(batch) == len(GONE)
    assert batch.run_record(paged["run_id"]).status is RunStatus.IMPORTING


def test_an_older_runs_finalise_never_undoes_a_newer_runs_import(batch: Batch) -> None:
    batch.run("fetch-shop-data")
    _drop_from_erp(batch)
    old = _fetch_paged(batch)
    runtime = _runtime()
    for key in old["keys"]:
        info = runtime.store().head(key)
        runtime.import_object(runtime.staging_bucket, key, etag=info.etag, finalise=False)
    batch.run("fetch-shop-data")  # a newer whole run imported meanwhile (and deactivated GONE)
    outcome = runtime.finalise("fetch-shop-data", old["run_id"])
    assert outcome.result is FinaliseResult.BLOCKED and "newer run" in (outcome.reason or "")


def test_the_finalise_stays_within_the_runs_shop(batch: Batch) -> None:
    batch.run("fetch-shop-data")
    _drop_from_erp(batch)  # SHOP1's dropped products
    paged = _fetch_paged(batch, shopID="SHOP2")
    for key in paged["keys"]:
        batch.import_handler(batch.event_for(key), batch.context)
    record = batch.run_record(paged["run_id"])
    assert record.status is RunStatus.FINALISED, record.as_dict()
    # SHOP2's run never deactivates what SHOP1 holds
    assert _active(batch) == len(GONE)


def test_a_run_of_one_page_removes_in_its_import_and_has_no_finalise(batch: Batch) -> None:
    batch.run("fetch-shop-data")
    _drop_from_erp(batch)
    whole = batch.run("fetch-shop-data")
    assert _active(batch) == 0
    record = batch.run_record(whole["run_id"])
    assert record.status is RunStatus.SUCCEEDED and record.finalised is None
    assert _runtime().finalise("fetch-shop-data", whole["run_id"]).result is FinaliseResult.NOT_PAGED
