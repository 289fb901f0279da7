"""Batch runs per shop and files with bad rows, end to end: the real handlers, the emulator over
HTTP, S3 + DynamoDB on moto, the shop database on SQLite and PostgreSQL (issue 9 §4, §6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from batch_support import ROOT
from test_end_to_end import Batch, batch  # noqa: F401 - the fixture

from erpbridge.batch.models import ImportCounts, RunRecord, Trigger
from erpbridge.protocol.tables import build_tables


def _run(batch: Batch, job: str, **parameters: str) -> dict[str, Any]:  # noqa: F811
    fetched = batch.fetch(job, parameters=parameters)
    assert fetched["result"] == "fetched", fetched
    for key in fetched["keys"]:
        imported = batch.import_handler(batch.event_for(key), batch.context)
        assert imported["result"] == "imported", imported
    return fetched


def test_a_run_for_a_second_shop_leaves_the_first_shop_as_it_was(batch: Batch) -> None:  # noqa: F811
    # The README's own example: `erpbridge jobs run fetch-shop-data --param shopID=SHOP2`.
    _run(batch, "fetch-shop-data")
    products = batch.count("EcomProducts")
    shop1 = {
        "default SHOP1": batch.count("EcomProducts", "\"ProductDefaultShopId\" = 'SHOP1'"),
        "active": batch.count("EcomProducts", '"ProductActive" = TRUE'),
        "SHOP1 groups": batch.count("EcomShopGroupRelation", "\"ShopGroupShopID\" = 'SHOP1'"),
        "product groups": batch.count("EcomGroupProductRelation"),
    }
    assert shop1["default SHOP1"] == products and shop1["SHOP1 groups"] > 0
    second = _run(batch, "fetch-shop-data", shopID="SHOP2")
    assert batch.run_record(second["run_id"]).parameters["shopID"] == "SHOP2"
    assert batch.count("EcomProducts") == products
    assert {
        "default SHOP1": batch.count("EcomProducts", "\"ProductDefaultShopId\" = 'SHOP1'"),
        "active": batch.count("EcomProducts", '"ProductActive" = TRUE'),
        "SHOP1 groups": batch.count("EcomShopGroupRelation", "\"ShopGroupShopID\" = 'SHOP1'"),
        "product groups": batch.count("EcomGroupProductRelation"),
    } == shop1
    # SHOP2 holds the same groups and products now, beside SHOP1.
    assert batch.count("EcomShopGroupRelation", "\"ShopGroupShopID\" = 'SHOP2'") == shop1["SHOP1 groups"]
    held = batch.count("erpbridge_shop_products", "shop_id = 'SHOP2'")
    assert held == batch.count("erpbridge_shop_products", "shop_id = 'SHOP1'") > 0


BAD_ROWS_JOB = """
id: stock-list
import:
  mappings:
    - source: EcomProducts
      destination: EcomProducts
      on_row_error: skip_row
"""


def test_a_file_with_bad_rows_lands_the_good_ones_and_reports_the_bad(
    batch: Batch,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "stock-list.yaml").write_text(BAD_ROWS_JOB)
    monkeypatch.setenv("ERPBRIDGE_MAPPINGS_DIR", str(mappings))
    rows = [{"ProductID": f"P{i}", "ProductLanguageID": "ENU", "ProductStock": str(i)} for i in range(1, 6)]
    rows[2]["ProductStock"] = "lots"
    body = build_tables({"EcomProducts": rows, "EcomGadgets": [{"GadgetID": "G1"}]})
    key = "staging/stock-list/20261202T010000Z-up/page-0001.xml"
    batch.put(key, body)
    outcome = batch.import_handler(batch.event_for(key), batch.context)
    assert outcome["result"] == "imported", outcome
    assert outcome["counts"]["failed"] == 1 and batch.count("EcomProducts") == 4
    # The failed-rows report beside the failed files; the file itself is archived.
    report_key = "failed/stock-list/20261202T010000Z-up/page-0001.xml.rows.json"
    assert batch.keys("failed/") == [report_key]
    report = json.loads(batch.s3.get_object(Bucket=batch.aws.bucket, Key=report_key)["Body"].read())
    assert report["rows_failed"] == 1 and report["archived_to"].startswith("archive/")
    [error] = report["errors"]
    assert (error["row"], error["column"], error["value"]) == (3, "ProductStock", "lots")
    assert report["rows"] == [{"table": "EcomProducts", "row": 3, "values": rows[2]}]
    # The run record: counts, the row's error, and the unknown table's warning.
    record = batch.run_record("20261202T010000Z-up")
    assert record.counts.failed == 1 and record.counts.inserted == 4
    assert [(e["row"], e["column"]) for e in record.row_errors] == [(3, "ProductStock")]
    assert "source table EcomGadgets: no mapping, 1 rows ignored" in record.warnings


NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


def test_the_run_record_keeps_parameters_warnings_and_the_first_row_errors(state: Any) -> None:
    runs, _, _ = state
    run = RunRecord(
        job="fetch-shop-data",
        run_id="20261202T020000Z-sched",
        trigger=Trigger.SCHEDULE,
        started_at=NOW,
        parameters={"shopID": "SHOP2", "language": "ENU"},
    )
    assert runs.create(run, stale_before=NOW - timedelta(hours=1))
    error = {
        "table": "EcomProducts",
        "row": 1,
        "column": "ProductPrice",
        "value": "x",
        "reason": "not a number",
    }
    for page in range(2):
        runs.add_import(
            run.job,
            run.run_id,
            counts=ImportCounts(inserted=2, failed=15, rows_read=17),
            failed=False,
            error=None,
            at=NOW,
            warnings=[f"page {page} warning {i}" for i in range(15)],
            row_errors=[{**error, "row": page * 100 + i} for i in range(15)],
        )
    record = runs.get(run.run_id)
    assert record.parameters == {"shopID": "SHOP2", "language": "ENU"}
    assert record.counts.failed == 30 and record.counts.inserted == 4
    assert len(record.warnings) == 20 and record.warnings[-1] == "page 1 warning 14"  # the newest
    assert len(record.row_errors) == 20 and record.row_errors[0]["row"] == 0  # the first
    assert record.as_dict()["parameters"]["shopID"] == "SHOP2"


def test_the_shipped_shop_jobs_take_their_scope_from_the_run() -> None:
    from erpbridge.mapping.jobfile import load_job

    for job_id in ("fetch-shop-data", "fetch-customer-data"):
        job = load_job(job_id, ROOT / "mappings")
        assert job.import_for().shop == "SHOP1"
        assert job.import_for({"shopID": "SHOP2"}).shop == "SHOP2"


def test_two_shops_scheduled_in_one_slot_both_run_and_each_runs_once(batch: Batch) -> None:  # noqa: F811
    slot = "2026-12-02T02:00:00Z"
    shop2 = {"shopID": "SHOP2", "customModifier": "erpbridge-shop2"}
    first = batch.fetch("fetch-shop-data", scheduled_time=slot)
    second = batch.fetch("fetch-shop-data", scheduled_time=slot, parameters=shop2)
    assert (first["result"], second["result"]) == ("fetched", "fetched"), second
    assert first["run_id"] == "20261202T020000Z-sched" and second["run_id"].startswith(first["run_id"] + "-")
    # A repeated delivery of either schedule's slot is still recognised.
    assert batch.fetch("fetch-shop-data", scheduled_time=slot, parameters=shop2)["result"] == "duplicate"
    assert batch.fetch("fetch-shop-data", scheduled_time=slot)["result"] == "duplicate"


def test_a_local_state_file_from_before_gains_the_new_run_columns(tmp_path: Path) -> None:
    import sqlite3

    from erpbridge.adapters.local.sqlite_batch_state import LocalBatchState

    tmp_path.mkdir(exist_ok=True)
    old = sqlite3.connect(tmp_path / "batch.db")
    old.executescript(
        "CREATE TABLE runs (job TEXT NOT NULL, run_id TEXT NOT NULL, trigger TEXT NOT NULL,"
        " started_at TEXT NOT NULL, ended_at TEXT, fetch_status TEXT NOT NULL,"
        " pages INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0, error TEXT,"
        " files_imported INTEGER NOT NULL DEFAULT 0, files_failed INTEGER NOT NULL DEFAULT 0,"
        " inserted INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0,"
        " deleted INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0,"
        " rows_read INTEGER NOT NULL DEFAULT 0, import_errors TEXT NOT NULL DEFAULT '[]', imported_at TEXT,"
        " PRIMARY KEY (job, run_id));"
        "INSERT INTO runs (job, run_id, trigger, started_at, fetch_status)"
        " VALUES ('fetch-shop-data', 'r1', 'local', '2026-12-01T02:00:00+00:00', 'fetched');"
    )
    old.commit()
    old.close()
    runs = LocalBatchState.open(tmp_path).runs
    record = runs.get("r1")
    assert record is not None and record.parameters == {} and record.counts.failed == 0
    runs.add_import(
        "fetch-shop-data",
        "r1",
        counts=ImportCounts(failed=1),
        failed=False,
        error=None,
        at=NOW,
        warnings=["w"],
    )
    assert runs.get("r1").warnings == ["w"]
