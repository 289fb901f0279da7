"""Each job end to end: the real handlers, the emulator over HTTP, S3 + DynamoDB on moto, and the
shop database on SQLite and PostgreSQL. Failure paths: duplicate events, a crash mid-import,
an empty file, a malformed file, two runs of one job at once."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from batch_support import AwsBatch, set_batch_env

from erpbridge.adapters.aws.s3_staging import S3StagingStore
from erpbridge.batch.models import RunStatus
from erpbridge.errors import ConfigurationError
from erpbridge_cli.local_stack import object_created_event


@dataclass
class Batch:
    aws: AwsBatch
    database_url: str
    context: Any
    fetch_handler: Callable[..., dict[str, Any]]
    import_handler: Callable[..., dict[str, Any]]
    emulator: Any

    @property
    def s3(self) -> Any:
        return boto3.client("s3")

    def event_for(self, key: str) -> dict[str, Any]:
        head = self.s3.head_object(Bucket=self.aws.bucket, Key=key)
        return object_created_event(self.aws.bucket, key, head["ContentLength"], head["ETag"].strip('"'))

    def fetch(self, job: str, **extra: Any) -> dict[str, Any]:
        return self.fetch_handler({"job": job, **extra}, self.context)

    def run(self, job: str) -> dict[str, Any]:
        """Fetch, then deliver every staged object's event to the importer (what S3 does)."""
        fetched = self.fetch(job)
        assert fetched["result"] == "fetched", fetched
        self.import_pages(fetched)
        return fetched

    def import_pages(self, fetched: dict[str, Any]) -> None:
        for key in fetched["keys"]:
            imported = self.import_handler(self.event_for(key), self.context)
            assert imported["result"] == "imported", imported

    def keys(self, prefix: str) -> list[str]:
        answer = self.s3.list_objects_v2(Bucket=self.aws.bucket, Prefix=prefix)
        return [item["Key"] for item in answer.get("Contents", [])]

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.aws.bucket, Key=key, Body=body)

    def count(self, table: str, where: str = "") -> int:
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                sql = f'SELECT COUNT(*) FROM "{table}"' + (f" WHERE {where}" if where else "")  # noqa: S608
                return int(conn.execute(sa.text(sql)).scalar_one())
        finally:
            engine.dispose()

    def run_record(self, run_id: str) -> Any:
        from erpbridge.wiring.batch import batch_runtime

        return batch_runtime().runs.get(run_id)


@pytest.fixture
def batch(
    aws_batch: AwsBatch,
    database_url: str,
    emulator_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: Any,
    tmp_path: Any,
) -> Iterator[Batch]:
    from erpbridge.settings import get_settings
    from erpbridge.shopdb import dispose_engines, upgrade

    emulator = emulator_factory(auth="key", products=200, customers=12)  # small: keeps the suite fast

    set_batch_env(monkeypatch, emulator, aws_batch, database_url, tmp_path / "state")
    get_settings.cache_clear()
    upgrade(database_url)
    import fetch_job
    import import_staged

    from erpbridge.wiring import batch as batch_wiring

    batch_wiring.batch_runtime.cache_clear()
    yield Batch(
        aws_batch,
        database_url,
        lambda_context,
        fetch_job.lambda_handler,
        import_staged.lambda_handler,
        emulator,
    )
    batch_wiring.batch_runtime.cache_clear()
    get_settings.cache_clear()
    dispose_engines()


def test_fetch_shop_data_lands_the_catalogue_with_its_relations(batch: Batch) -> None:
    fetched = batch.run("fetch-shop-data")
    assert fetched["pages"] >= 1 and fetched["bytes"] > 0
    assert batch.count("EcomProducts") > 0
    assert batch.count("EcomProducts", "\"ProductVariantID\" <> ''") > 0  # variants came too
    for table in (
        "EcomGroups",
        "EcomCurrencies",
        "EcomCountries",
        "EcomUnits",
        "EcomLanguages",
        "EcomManufacturers",
        "EcomProductsRelated",
        "EcomVariantGroups",
        "EcomVariantsOptions",
        "EcomGroupProductRelation",  # derived from the products' Groups column
    ):
        assert batch.count(table) > 0, table
    # Everything left staging/ for archive/, and the run adds up.
    assert batch.keys("staging/") == []
    assert batch.keys("archive/fetch-shop-data/" + fetched["run_id"]) != []
    record = batch.run_record(fetched["run_id"])
    assert record.status is RunStatus.SUCCEEDED
    assert record.counts.inserted > 0 and record.files_imported == fetched["pages"]
    # A second run updates what is there: no product or relation is added twice.
    products, relations = batch.count("EcomProducts"), batch.count("EcomGroupProductRelation")
    again = batch.run("fetch-shop-data")
    assert batch.run_record(again["run_id"]).counts.updated > 0
    assert (batch.count("EcomProducts"), batch.count("EcomGroupProductRelation")) == (products, relations)


def test_fetch_customer_data_makes_users_and_addresses(batch: Batch) -> None:
    fetched = batch.run("fetch-customer-data")
    assert batch.count("AccessUser") > 0
    assert batch.count("AccessUserAddress") > 0
    assert batch.run_record(fetched["run_id"]).status is RunStatus.SUCCEEDED


def test_every_address_hangs_on_its_imported_user(batch: Batch) -> None:
    batch.run("fetch-customer-data")
    addresses = batch.count("AccessUserAddress")
    assert addresses > 0
    # Every address hangs on its customer's own user (not on one of the customer's contacts).
    assert (
        batch.count(
            "AccessUserAddress",
            '"AccessUserAddressUserID" IN (SELECT "AccessUserID" FROM "AccessUser"'
            ' WHERE "AccessUserExternalID" = "AccessUserCustomerNumber")',
        )
        == addresses
    )


def test_fetch_stock_level_updates_stock_per_location(batch: Batch) -> None:
    batch.run("fetch-shop-data")
    fetched = batch.run("fetch-stock-level")
    assert batch.count("EcomStockLocation") > 0
    assert batch.count("EcomStockUnit") > 0
    assert batch.run_record(fetched["run_id"]).status is RunStatus.SUCCEEDED


def test_fetch_stock_level_skips_products_the_shop_does_not_have(batch: Batch) -> None:
    fetched = batch.run("fetch-stock-level")
    assert batch.run_record(fetched["run_id"]).status is RunStatus.SUCCEEDED
    assert batch.count("EcomProducts") == 0
    assert batch.count("EcomStockUnit") == 0
    assert batch.count("EcomStockLocation") > 0


def test_the_same_event_delivered_three_times_imports_once(batch: Batch) -> None:
    fetched = batch.fetch("fetch-stock-level")
    event = batch.event_for(fetched["keys"][0])
    results = [batch.import_handler(event, batch.context)["result"] for _ in range(3)]
    assert results == ["imported", "duplicate", "duplicate"]
    record = batch.run_record(fetched["run_id"])
    assert record.files_imported == 1
    # Counted once, not three times: what was inserted is what the database holds.
    assert record.counts.inserted == batch.count("EcomStockUnit") + batch.count("EcomStockLocation")
    assert record.counts.rows_read == record.counts.inserted + record.counts.skipped


def test_duplicate_events_arriving_together_import_once(batch: Batch) -> None:
    fetched = batch.fetch("fetch-customer-data")
    event = batch.event_for(fetched["keys"][0])
    results: list[str] = []
    barrier = threading.Barrier(3)

    def deliver() -> None:
        barrier.wait()
        results.append(batch.import_handler(event, batch.context)["result"])

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == ["duplicate", "duplicate", "imported"]
    assert batch.run_record(fetched["run_id"]).files_imported == 1


class _CrashingStream:
    """A stream that dies after some bytes, like a Lambda killed mid-import."""

    def __init__(self, inner: Any, fail_after: int) -> None:
        self._inner = inner
        self._left = fail_after

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            raise ConnectionResetError("connection reset while reading the staged object")
        data: bytes = self._inner.read(size if size >= 0 else self._left)
        data = data[: self._left]
        self._left -= len(data)
        return data


def test_a_crash_mid_import_leaves_the_database_as_it_was_and_a_retry_completes(
    batch: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched = batch.fetch("fetch-customer-data")
    key = fetched["keys"][0]
    event = batch.event_for(key)
    size = event["detail"]["object"]["size"]
    original = S3StagingStore.open_reader

    @contextmanager
    def crashing_reader(self: S3StagingStore, key: str) -> Iterator[Any]:
        with original(self, key) as stream:
            yield _CrashingStream(stream, fail_after=size // 2)

    monkeypatch.setattr(S3StagingStore, "open_reader", crashing_reader)
    with pytest.raises(ConnectionResetError):
        batch.import_handler(event, batch.context)
    assert batch.count("AccessUser") == 0 and batch.count("AccessUserAddress") == 0
    assert batch.keys("staging/") == [key]  # still there for the retry

    monkeypatch.setattr(S3StagingStore, "open_reader", original)
    assert batch.import_handler(event, batch.context)["result"] == "imported"  # the retry
    assert batch.count("AccessUser") > 0
    assert batch.run_record(fetched["run_id"]).status is RunStatus.SUCCEEDED


def test_an_empty_file_with_remove_missing_on_deletes_nothing(batch: Batch) -> None:
    batch.run("fetch-shop-data")
    active = batch.count("EcomProducts", '"ProductActive" = TRUE')
    assert active > 0
    key = "staging/fetch-shop-data/manual-empty/page-0001.xml"
    batch.put(key, b'<?xml version="1.0" encoding="utf-8"?><tables></tables>')
    outcome = batch.import_handler(batch.event_for(key), batch.context)
    assert outcome["result"] == "imported"
    assert outcome["counts"]["deleted"] == 0
    assert batch.count("EcomProducts", '"ProductActive" = TRUE') == active


def test_malformed_xml_goes_to_failed_with_a_report_and_the_database_untouched(batch: Batch) -> None:
    key = "staging/fetch-customer-data/manual-bad/page-0001.xml"
    good = (
        b'<?xml version="1.0" encoding="utf-8"?><tables><table tableName="AccessUser">'
        b'<item table="AccessUser"><column columnName="AccessUserExternalID">C1</column>'
        b'<column columnName="AccessUserName">Cut off</column></item>'
    )
    batch.put(key, good + b'<item table="AccessUser"><column columnName="AccessUserExternalID">C2')
    outcome = batch.import_handler(batch.event_for(key), batch.context)
    assert outcome["result"] == "failed"
    assert batch.count("AccessUser") == 0
    failed_key = "failed/fetch-customer-data/manual-bad/page-0001.xml"
    assert sorted(batch.keys("failed/")) == [failed_key, failed_key + ".error.json"]
    assert batch.keys("staging/") == []
    report = json.loads(
        batch.s3.get_object(Bucket=batch.aws.bucket, Key=failed_key + ".error.json")["Body"].read()
    )
    assert report["error_type"] == "MalformedXmlError" and report["key"] == key and report["where"]
    record = batch.run_record("manual-bad")
    assert record.status is RunStatus.FAILED and "MalformedXmlError" in record.import_errors[0]


def test_two_runs_of_one_job_at_once_only_one_runs(batch: Batch, monkeypatch: pytest.MonkeyPatch) -> None:
    first_is_writing = threading.Event()
    second_has_answered = threading.Event()
    original = S3StagingStore.open_writer

    @contextmanager
    def held_writer(self: S3StagingStore, key: str, **kwargs: Any) -> Iterator[Any]:
        first_is_writing.set()
        second_has_answered.wait(timeout=30)
        with original(self, key, **kwargs) as writer:
            yield writer

    monkeypatch.setattr(S3StagingStore, "open_writer", held_writer)
    results: dict[str, dict[str, Any]] = {}
    first = threading.Thread(target=lambda: results.__setitem__("first", batch.fetch("fetch-stock-level")))
    first.start()
    assert first_is_writing.wait(timeout=30)
    results["second"] = batch.fetch("fetch-stock-level")
    second_has_answered.set()
    first.join(timeout=60)
    assert results["first"]["result"] == "fetched"
    assert results["second"]["result"] == "locked"
    assert "already running" in results["second"]["reason"]
    # The first run holds the lock until its page is imported; then it is free again.
    assert batch.fetch("fetch-stock-level")["result"] == "locked"
    batch.import_pages(results["first"])
    assert batch.fetch("fetch-stock-level")["result"] == "fetched"


def test_a_duplicate_delivery_of_one_schedule_slot_runs_once(batch: Batch) -> None:
    slot = {"scheduled_time": "2026-11-26T02:15:00Z"}
    first = batch.fetch("fetch-stock-level", **slot)
    second = batch.fetch("fetch-stock-level", **slot)
    assert first["result"] == "fetched" and first["run_id"] == "20261126T021500Z-sched"
    assert second["result"] == "duplicate"
    assert len(batch.keys("staging/fetch-stock-level/")) == first["pages"]


RELATION_TABLES = (
    "EcomGroupProductRelation",
    "EcomShopGroupRelation",
    "EcomGroupRelations",
    "EcomVariantgroupProductRelation",
)


def test_a_paged_export_is_followed_to_the_end_and_no_page_removes_rows(batch: Batch) -> None:
    whole = batch.run("fetch-shop-data")
    products = batch.count("EcomProducts")
    relations = {t: batch.count(t) for t in RELATION_TABLES}
    paged = batch.fetch("fetch-shop-data", parameters={"pageSize": "300", "customModifier": "test-paging"})
    assert paged["pages"] > 2
    assert paged["keys"] == [
        f"staging/fetch-shop-data/{paged['run_id']}/page-{n:04d}.xml" for n in range(1, paged["pages"] + 1)
    ]
    for key in paged["keys"]:
        assert batch.import_handler(batch.event_for(key), batch.context)["result"] == "imported"
    # Each page alone holds only part of the products: none may be taken for "missing".
    assert batch.count("EcomProducts") == products
    assert batch.count("EcomProducts", '"ProductActive" = FALSE') == 0
    assert {t: batch.count(t) for t in RELATION_TABLES} == relations
    record = batch.run_record(paged["run_id"])
    # the last page's import finalised the run: nothing was missing from all pages together
    assert record.status is RunStatus.FINALISED and record.finalised.counts.deleted == 0
    assert record.counts.rows_read == batch.run_record(whole["run_id"]).counts.rows_read


def test_a_response_cut_off_mid_stream_stages_nothing_and_fails_the_run(batch: Batch) -> None:
    from erpbridge.errors import ErpError

    batch.emulator.set_faults(truncated_rate=1.0, kinds=["batch_fetch"])
    with pytest.raises(ErpError):
        batch.fetch("fetch-shop-data")
    assert batch.keys("staging/") == []
    assert batch.s3.list_multipart_uploads(Bucket=batch.aws.bucket).get("Uploads", []) == []
    from erpbridge.wiring.batch import batch_runtime

    [record] = batch_runtime().runs.list_runs(job="fetch-shop-data")
    assert record.status is RunStatus.FAILED and record.error and "Erp" in record.error
    # The lock was released: once the ERP answers again, the job runs.
    batch.emulator.set_faults()
    assert batch.run("fetch-shop-data")["result"] == "fetched"


def test_a_fetch_event_for_an_unknown_job_or_without_a_job_is_refused(batch: Batch) -> None:
    from erpbridge.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="fetch-nothing"):
        batch.fetch("fetch-nothing")
    with pytest.raises(ConfigurationError, match="job"):
        batch.fetch_handler({"scheduled_time": "2026-11-26T02:00:00Z"}, batch.context)
    assert batch.keys("staging/") == []


def test_a_duplicate_delivery_during_the_run_leaves_the_running_runs_lock_held(
    batch: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    slot = {"scheduled_time": "2026-11-26T02:15:00Z"}
    first_is_writing = threading.Event()
    checks_done = threading.Event()
    original = S3StagingStore.open_writer

    @contextmanager
    def held_writer(self: S3StagingStore, key: str, **kwargs: Any) -> Iterator[Any]:
        if not first_is_writing.is_set():  # only the first run's first page waits
            first_is_writing.set()
            checks_done.wait(timeout=30)
        with original(self, key, **kwargs) as writer:
            yield writer

    monkeypatch.setattr(S3StagingStore, "open_writer", held_writer)
    results: dict[str, dict[str, Any]] = {}
    first = threading.Thread(
        target=lambda: results.__setitem__("first", batch.fetch("fetch-stock-level", **slot))
    )
    first.start()
    try:
        assert first_is_writing.wait(timeout=30)
        duplicate = batch.fetch("fetch-stock-level", **slot)
        assert duplicate["result"] in ("locked", "duplicate")
        # The first run still holds the lock: a manual run now must not start beside it.
        manual = batch.fetch("fetch-stock-level")
        assert manual["result"] == "locked", manual
    finally:
        checks_done.set()
        first.join(timeout=60)
    assert results["first"]["result"] == "fetched"
    batch.import_pages(results["first"])
    assert batch.fetch("fetch-stock-level")["result"] == "fetched"  # released once the run ended


def test_a_failed_file_copied_back_to_staging_is_imported_again(batch: Batch) -> None:
    key = "staging/fetch-customer-data/manual-redrive/page-0001.xml"
    failed_key = "failed/fetch-customer-data/manual-redrive/page-0001.xml"
    batch.put(key, b'<?xml version="1.0" encoding="utf-8"?><tables><table tableName="AccessUser">')
    first_event = batch.event_for(key)
    assert batch.import_handler(first_event, batch.context)["result"] == "failed"
    # The operator's redrive (README): copy it back. Same content, so the same ETag.
    batch.s3.copy_object(
        Bucket=batch.aws.bucket, Key=key, CopySource={"Bucket": batch.aws.bucket, "Key": failed_key}
    )
    redrive = batch.event_for(key)
    assert redrive["detail"]["object"]["etag"] == first_event["detail"]["object"]["etag"]
    assert batch.import_handler(redrive, batch.context)["result"] == "failed"  # processed, not "duplicate"
    assert batch.run_record("manual-redrive").files_failed == 2
    assert batch.keys("staging/") == []
    # A late redelivery of the first event finds nothing left to import.
    assert batch.import_handler(first_event, batch.context)["result"] == "gone"


@pytest.mark.parametrize(
    "key",
    [
        "staging/fetch-stock-level/x.xml",
        "staging/Fetch-Stock-Level/run-1/page-0001.xml",
        "staging/fetch-stock-level/run-1/deeper/page-0001.xml",
    ],
)
def test_an_object_under_staging_that_is_not_a_staged_page_is_ignored(batch: Batch, key: str) -> None:
    batch.put(key, b"<tables/>")
    outcome = batch.import_handler(batch.event_for(key), batch.context)
    assert outcome["result"] == "ignored"
    assert batch.keys("staging/") == [key]  # left where it is


def test_a_run_now_from_the_admin_api_keeps_its_run_id_and_operator(batch: Batch) -> None:
    """What the admin function's Lambda launcher sends: the console shows the run under this id."""
    operator = "arn:aws:sts::123456789012:assumed-role/Ops/alice"
    run_id = "20261202T120000000000Z-c0ffee"
    fetched = batch.fetch(
        "fetch-stock-level", trigger="manual", run_id=run_id, requested_by=operator, parameters={}
    )
    assert fetched["run_id"] == run_id and fetched["result"] == "fetched"
    record = batch.run_record(run_id)
    assert record.requested_by == operator and str(record.trigger) == "manual"
    with pytest.raises(ConfigurationError):
        batch.fetch("fetch-stock-level", run_id="../escape")
