"""The `erpbridge` command as documented in the operator guide: the project found from any folder,
exit codes (0 done, 1 failed, 2 bad arguments or settings), "did you mean", --json, tables at 80
columns, flags that read as flags, shell completion, the shop database migrated or named."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli_support import ROOT, erpbridge
from typer.testing import CliRunner

from erpbridge.errors import ConfigurationError
from erpbridge_cli.project import CHECKOUT, find_project

runner = CliRunner()
FETCH_JOBS = {"fetch-shop-data", "fetch-customer-data", "fetch-stock-level", "fetch-prices"}


def test_the_project_is_erpbridge_home_else_the_nearest_folder_with_job_files(
    project: Path, tmp_path: Path
) -> None:
    deeper = project / "exports" / "2026"
    deeper.mkdir(parents=True)
    assert find_project(deeper, env={}) == project
    assert find_project(tmp_path / "nowhere", env={"ERPBRIDGE_HOME": str(project)}) == project
    assert find_project(tmp_path, env={}) == CHECKOUT == ROOT  # outside any project: this checkout
    with pytest.raises(ConfigurationError, match=r"ERPBRIDGE_HOME=.*no such folder"):
        find_project(tmp_path, env={"ERPBRIDGE_HOME": str(tmp_path / "missing")})


def test_from_a_subfolder_jobs_list_shows_every_job_and_writes_nothing_there(project: Path) -> None:
    elsewhere = project / "exports"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ERPBRIDGE_HOME"}  # found by walking up
    result = erpbridge("jobs", "list", "--json", cwd=elsewhere, env=env)
    assert result.returncode == 0, result.stderr
    jobs = {job["job"] for job in json.loads(result.stdout)}
    assert jobs >= FETCH_JOBS | {"export-failed-orders"}
    assert list(elsewhere.iterdir()) == []


def test_an_unknown_job_exits_2_with_did_you_mean(project: Path, tmp_path: Path) -> None:
    from erpbridge_cli.main import app

    typo = erpbridge("jobs", "run", "fetch-stok-level", cwd=tmp_path)  # the process's own exit code
    assert typo.returncode == 2, typo.stderr
    assert "did you mean fetch-stock-level?" in " ".join(typo.stderr.split())
    for args in (["mappings", "show", "fetch-stok-level"], ["runs", "list", "--job", "fetch-stok-level"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "did you mean fetch-stock-level?" in " ".join(result.output.split()), args
    far_off = runner.invoke(app, ["jobs", "run", "zzz"])
    assert far_off.exit_code == 2 and "fetch-shop-data" in far_off.output  # the known ids instead


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("jobs", "list"), 0),
        (("runs", "list"), 0),
        (("jobs", "run"), 2),  # missing argument
        (("jobs", "list", "--no-such-option"), 2),
        (("jobs", "run", "fetch-shop-data", "--param", "shopID"), 2),
        (("runs", "show", "no-such-run"), 2),
        (("orders", "show", "no-such-order"), 2),
        (("jobs", "run", "fetch-shop-data"), 2),  # no ERP settings
        (("--help",), 0),
    ],
)
def test_exit_codes(project: Path, args: tuple[str, ...], code: int) -> None:
    from erpbridge_cli.main import app

    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output


def test_an_erpbridge_home_that_is_not_there_exits_2(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from erpbridge_cli.main import app

    monkeypatch.setenv("ERPBRIDGE_HOME", str(project / "missing"))
    result = runner.invoke(app, ["runs", "list"])
    assert result.exit_code == 2 and "no such folder" in result.output
    assert not (project / "missing").exists()


def test_runs_show_of_a_failed_run_exits_1_and_its_json_too(project: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from erpbridge.adapters.local.sqlite_batch_state import LocalBatchState
    from erpbridge.batch.models import FetchStatus, RunRecord, Trigger
    from erpbridge_cli.main import app

    runs = LocalBatchState.open(project / ".erpbridge").runs
    now = datetime.now(UTC)
    record = RunRecord(
        job="fetch-shop-data", run_id="20261202T000000Z-failed", trigger=Trigger.LOCAL, started_at=now
    )
    runs.create(record, stale_before=now - timedelta(hours=1))
    runs.finish_fetch(
        record.job,
        record.run_id,
        status=FetchStatus.FAILED,
        ended_at=now,
        pages=0,
        bytes_=0,
        error="ERP down",
    )
    shown = runner.invoke(app, ["runs", "show", record.run_id])
    assert shown.exit_code == 1 and "ERP down" in shown.output
    as_json = runner.invoke(app, ["runs", "show", record.run_id, "--json"])
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["error"] == "ERP down"
    listed = runner.invoke(app, ["runs", "list", "--json"])
    assert [run["status"] for run in json.loads(listed.stdout)] == ["failed"]


def test_tables_wrap_at_80_columns_instead_of_cutting(project: Path, tmp_path: Path) -> None:
    result = erpbridge("jobs", "list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.stdout
    assert any("fetch-customer-data" in line for line in lines)  # the id whole, on one line


def test_boolean_options_read_as_flags(project: Path) -> None:
    from erpbridge_cli.main import app

    shown = runner.invoke(app, ["jobs", "run", "--help"], env={"COLUMNS": "100"})
    assert shown.exit_code == 0
    assert "--wait / --no-wait" in shown.output and "<bool>" not in shown.output


def test_shell_completion_completes_job_ids(project: Path, tmp_path: Path) -> None:
    script = erpbridge("--show-completion", "bash", cwd=tmp_path, env={**os.environ, "SHELL": "/bin/bash"})
    assert script.returncode == 0 and "_erpbridge_completion" in script.stdout
    env = {
        **os.environ,
        "_ERPBRIDGE_COMPLETE": "complete_bash",
        "COMP_WORDS": "erpbridge jobs run fetch-s",
        "COMP_CWORD": "3",
    }
    completed = erpbridge(cwd=tmp_path, env=env)
    assert set(completed.stdout.split()) == {"fetch-shop-data", "fetch-stock-level"}


def test_the_projects_database_is_migrated_and_any_other_is_named(project: Path, tmp_path: Path) -> None:
    from erpbridge_cli.main import app

    shown = runner.invoke(app, ["mappings", "show", "fetch-stock-level"])
    assert shown.exit_code == 0, shown.output
    assert (project / ".erpbridge" / "shop.db").exists()  # created and migrated on first use
    other = f"sqlite:///{tmp_path / 'other.db'}"
    refused = runner.invoke(app, ["mappings", "show", "fetch-stock-level", "--database-url", other])
    assert refused.exit_code == 1
    assert "erpbridge db upgrade --database-url URL" in " ".join(refused.output.split())
    upgraded = runner.invoke(app, ["db", "upgrade", "--database-url", other])
    assert upgraded.exit_code == 0, upgraded.output
    assert (
        runner.invoke(app, ["mappings", "show", "fetch-stock-level", "--database-url", other]).exit_code == 0
    )
