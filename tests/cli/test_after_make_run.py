"""What a new user does after `make run`: the CLI reads the state it left (runs, the demo order,
the migrated shop database), from the project and from other folders, without ERP settings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

runner = CliRunner()


@pytest.fixture
def after_make_run(project: Path) -> dict[str, Any]:
    """`make run`'s steps (a small emulator data set) into the project's state folder; then
    everything is stopped and its settings are gone, as when `make run` has ended."""
    from erpbridge.settings import get_settings
    from erpbridge.shopdb import dispose_engines
    from erpbridge.wiring.live import use_services
    from erpbridge_cli import local_stack as stack

    saved = dict(os.environ)
    try:
        with stack.local_stack(state_dir=project / ".erpbridge", products=60, customers=6) as local:
            outcomes = stack.run_fetch_jobs(local)
            order_id = stack.serve_live_api(local, port=0)
            steps = stack.next_steps(order_id)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
        use_services(None)
        dispose_engines()
    assert {outcome["result"] for outcome in outcomes} == {"imported"}
    return {"order_id": order_id, "steps": steps}


def _json(args: list[str]) -> Any:
    from erpbridge_cli.main import app

    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_cli_reads_what_make_run_left_without_erp_settings(
    after_make_run: dict[str, Any], project: Path
) -> None:
    assert not any(name.startswith("ERPBRIDGE_ERP_") for name in os.environ)
    runs = _json(["runs", "list", "--json"])
    assert sorted(run["job"] for run in runs) == sorted(
        ["fetch-shop-data", "fetch-customer-data", "fetch-stock-level", "fetch-prices"]
    )
    assert {run["status"] for run in runs} == {"succeeded"}
    one = _json(["runs", "show", runs[0]["run_id"], "--json"])
    assert one["run_id"] == runs[0]["run_id"] and one["counts"]["inserted"] > 0
    order = _json(["orders", "show", after_make_run["order_id"], "--json"])
    assert order["status"] == "created" and order["timeline"]
    mapping = _json(["mappings", "show", "fetch-stock-level", "--json"])
    assert {m["destination"] for m in mapping["mappings"]} >= {"EcomStockUnit", "EcomProducts"}
    jobs = _json(["jobs", "list", "--json"])
    assert {job["job"] for job in jobs} >= {"fetch-shop-data", "fetch-prices", "export-failed-orders"}


def test_the_next_steps_make_run_prints_still_work_once_it_stopped(
    after_make_run: dict[str, Any], project: Path
) -> None:
    from erpbridge_cli.main import app

    ran = 0
    for line in after_make_run["steps"]:
        command = line.split("#")[0].split()
        assert command[0] == ".venv/bin/erpbridge", line
        if command[1:3] in (["jobs", "run"], ["emulator"]) or command[1:2] == ["emulator"]:
            continue  # they need the ERP, which stopped with make run (the step says so)
        result = runner.invoke(app, command[1:])
        assert result.exit_code == 0, f"{line}\n{result.output}"
        ran += 1
    assert ran >= 4


def test_jobs_run_names_the_missing_erp_settings(project: Path) -> None:
    from erpbridge_cli.main import app

    result = runner.invoke(app, ["jobs", "run", "fetch-stock-level"])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "ERPBRIDGE_ERP_URL" in message and "ERPBRIDGE_ERP_SECURITY_KEY" in message
    assert "erpbridge emulator" in message
    assert not (project / ".erpbridge" / "batch.db").exists()  # nothing was done
