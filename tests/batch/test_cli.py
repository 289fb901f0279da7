"""The operator commands: jobs list/run, runs list/show, import FILE --job JOB (typer CliRunner)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from batch_support import ROOT
from typer.testing import CliRunner

from erpbridge.protocol.tables import build_tables

runner = CliRunner()

CUSTOMERS = build_tables(
    {
        "AccessUser": [
            {
                "AccessUserExternalID": "C10000",
                "AccessUserName": "Adatum",
                "AccessUserCustomerNumber": "10000",
            },
            {"AccessUserExternalID": "C20000", "AccessUserName": "Trey", "AccessUserCustomerNumber": "20000"},
        ],
    }
)


@pytest.fixture
def app() -> Any:
    from erpbridge_cli.main import app

    return app


@pytest.fixture
def local_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str) -> Iterator[str]:
    """Local mode: no AWS names, state and database under tmp_path."""
    from erpbridge.settings import get_settings
    from erpbridge.shopdb import dispose_engines, upgrade

    for name in (
        "STAGING_BUCKET",
        "RUNS_TABLE",
        "LOCKS_TABLE",
        "IDEMPOTENCY_TABLE",
        "SECRETS_NAME",
        "SSM_PATH",
    ):
        monkeypatch.delenv(f"ERPBRIDGE_{name}", raising=False)
    monkeypatch.delenv("ERPBRIDGE_FETCH_FUNCTION", raising=False)
    monkeypatch.delenv("ERPBRIDGE_EXPORT_FUNCTION", raising=False)
    monkeypatch.setenv("ERPBRIDGE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ERPBRIDGE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ERPBRIDGE_MAPPINGS_DIR", str(ROOT / "mappings"))
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps at 80 columns otherwise
    get_settings.cache_clear()
    upgrade(sqlite_url)
    yield sqlite_url
    dispose_engines()
    get_settings.cache_clear()


@pytest.fixture
def erp_env(monkeypatch: pytest.MonkeyPatch, emulator: Any) -> None:
    """ERP settings pointing at the BC emulator (jobs that fetch)."""
    from erpbridge.settings import get_settings

    for name, value in emulator.settings_env().items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def _count(url: str, table: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one())  # noqa: S608
    finally:
        engine.dispose()


def test_jobs_list_shows_every_fetch_job_with_its_schedule(app: Any, local_env: str) -> None:
    result = runner.invoke(app, ["jobs", "list"])
    assert result.exit_code == 0, result.output
    for job in ("fetch-shop-data", "fetch-customer-data", "fetch-stock-level", "export-failed-orders"):
        assert job in result.output
    assert "rate(15 minutes)" in result.output


def test_export_failed_orders_refuses_unknown_parameters_and_a_missing_function(
    app: Any, local_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown = runner.invoke(app, ["jobs", "run", "export-failed-orders", "--param", "shopID=S1"])
    assert unknown.exit_code == 2 and "older_than_s, limit" in unknown.output
    monkeypatch.setenv("ERPBRIDGE_FETCH_FUNCTION", "erpbridge-fetch")  # AWS, but not the export function
    monkeypatch.delenv("ERPBRIDGE_EXPORT_FUNCTION", raising=False)
    in_aws = runner.invoke(app, ["jobs", "run", "export-failed-orders"])
    assert in_aws.exit_code == 2 and "ERPBRIDGE_EXPORT_FUNCTION" in in_aws.output


def test_import_applies_a_jobs_mapping_to_a_local_file(app: Any, local_env: str, tmp_path: Path) -> None:
    file = tmp_path / "customers.xml"
    file.write_bytes(CUSTOMERS)
    result = runner.invoke(app, ["import", str(file), "--job", "fetch-customer-data"])
    assert result.exit_code == 0, result.output
    assert "inserted" in result.output
    assert _count(local_env, "AccessUser") == 2


def test_import_of_a_broken_file_fails_clearly_and_writes_nothing(
    app: Any, local_env: str, tmp_path: Path
) -> None:
    file = tmp_path / "broken.xml"
    file.write_bytes(CUSTOMERS[: len(CUSTOMERS) // 2])
    result = runner.invoke(app, ["import", str(file), "--job", "fetch-customer-data"])
    assert result.exit_code == 1
    assert "MalformedXmlError" in result.output and "nothing was written" in result.output
    assert _count(local_env, "AccessUser") == 0


def test_import_with_an_unknown_job_fails(app: Any, local_env: str, tmp_path: Path) -> None:
    file = tmp_path / "customers.xml"
    file.write_bytes(CUSTOMERS)
    result = runner.invoke(app, ["import", str(file), "--job", "fetch-nothing"])
    assert result.exit_code == 2  # a bad argument: nothing was read
    assert "fetch-nothing" in result.output


def test_runs_show_of_an_unknown_run_fails(app: Any, local_env: str) -> None:
    result = runner.invoke(app, ["runs", "show", "no-such-run"])
    assert result.exit_code == 2
    assert "no run 'no-such-run'" in result.output
    listed = runner.invoke(app, ["runs", "list"])
    assert listed.exit_code == 0 and "no runs yet" in listed.output


def test_jobs_run_locally_fetches_imports_and_is_listed(app: Any, local_env: str, erp_env: None) -> None:
    result = runner.invoke(app, ["jobs", "run", "fetch-customer-data", "--wait"])
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output
    assert _count(local_env, "AccessUser") > 0
    listed = runner.invoke(app, ["runs", "list", "--job", "fetch-customer-data"])
    assert listed.exit_code == 0 and "fetch-customer-data" in listed.output
    run_id = json.loads(runner.invoke(app, ["runs", "list", "--json"]).stdout)[0]["run_id"]
    shown = runner.invoke(app, ["runs", "show", run_id, "--json"])
    assert shown.exit_code == 0, shown.output
    assert '"status": "succeeded"' in shown.output


def test_jobs_run_of_an_unknown_job_fails(app: Any, local_env: str, erp_env: None) -> None:
    result = runner.invoke(app, ["jobs", "run", "fetch-nothing"])
    assert result.exit_code == 2
    assert "fetch-nothing" in result.output


def test_runs_are_read_from_the_runs_table_in_aws(
    app: Any, local_env: str, aws_batch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from erpbridge.adapters.aws.dynamodb_runs import DynamoDbRunRecorder
    from erpbridge.batch.models import FetchStatus, RunRecord, Trigger

    runs = DynamoDbRunRecorder(aws_batch.runs_table)
    started = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    run = RunRecord(
        job="fetch-stock-level", run_id="20261126T020000Z-sched", trigger=Trigger.SCHEDULE, started_at=started
    )
    runs.create(run, stale_before=started)
    runs.finish_fetch(
        run.job,
        run.run_id,
        status=FetchStatus.FAILED,
        ended_at=started,
        pages=0,
        bytes_=0,
        error="ErpAuthError: 401",
    )
    monkeypatch.setenv("ERPBRIDGE_RUNS_TABLE", aws_batch.runs_table)  # only the runs table is needed
    listed = runner.invoke(app, ["runs", "list"])
    assert listed.exit_code == 0, listed.output
    assert "20261126T020000Z-sched" in listed.output and "failed" in listed.output
    shown = runner.invoke(app, ["runs", "show", "20261126T020000Z-sched"])
    assert shown.exit_code == 1  # a failed run is a failure for scripts too
    assert "ErpAuthError: 401" in shown.output


def test_jobs_run_of_a_long_running_job_runs_the_workflow_and_runs_show_says_finalised(
    app: Any, local_env: str, erp_env: None
) -> None:
    paged = ["--param", "pageSize=300", "--param", "customModifier=cli-paging"]
    result = runner.invoke(app, ["jobs", "run", "fetch-shop-data", *paged])
    assert result.exit_code == 0, result.output
    assert "finalised" in result.output and _count(local_env, "EcomProducts") > 0
    listed = runner.invoke(app, ["runs", "list", "--job", "fetch-shop-data"])
    assert listed.exit_code == 0 and "fetch-shop-data" in listed.output
    run_id = json.loads(runner.invoke(app, ["runs", "list", "--json"]).stdout)[0]["run_id"]
    shown = runner.invoke(app, ["runs", "show", run_id])
    assert shown.exit_code == 0, shown.output
    assert "finalised" in shown.output and "removed/deactivated" in shown.output
