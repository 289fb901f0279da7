"""`erpbridge serve` over real HTTP (same handler as Lambda; PDFs as bytes) and the operator
commands `erpbridge orders show|resend|export`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """SQLite only: nothing here depends on the database dialect (tests/live/test_orders_faults.py
    and test_erp_down.py run the database paths on both)."""
    return sqlite_url


def test_serve_answers_over_http_like_api_gateway(served: str) -> None:
    health = requests.get(f"{served}/v1/health", timeout=10)
    assert health.status_code == 200 and health.json()["erp_reachable"] is True
    prices = requests.post(
        f"{served}/v1/prices",
        json={"customer_number": "10000", "items": [{"product_id": "P000001"}]},
        timeout=10,
    )
    assert prices.status_code == 200 and prices.json()["items"][0]["source"] == "erp"
    invoices = requests.get(
        f"{served}/v1/customers/10000/documents", params={"type": "invoice"}, timeout=10
    ).json()
    number = invoices["items"][0]["No"]
    pdf = requests.get(f"{served}/v1/customers/10000/documents/invoice/{number}/pdf", timeout=10)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    unknown = requests.get(f"{served}/v1/nowhere", timeout=10)
    assert unknown.status_code == 404
    # Swagger UI: on locally (stage "local"/"dev"); the template sets ERPBRIDGE_STAGE per stage.
    swagger = requests.get(f"{served}/v1/swagger", timeout=10)
    assert swagger.status_code == 200 and "swagger" in swagger.text.lower()


def queue_an_order(live: Any, emulator: Any, order_id: str) -> None:
    """An order the ERP refused while the live API took it: stored and queued for export."""
    emulator.control.set_faults(kinds=["create_order"], error_rate=1.0)
    order = {
        "order_id": order_id,
        "customer_number": "10000",
        "lines": [{"product_id": "P000002", "quantity": 1}],
    }
    answer = live.call("POST", "/v1/orders", order, headers={"Idempotency-Key": f"key-{order_id}"})
    assert answer.status == 202
    emulator.control.clear_faults()


def test_orders_show_resend_and_export_commands(
    live: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from erpbridge_cli.main import app

    queue_an_order(live, emulator, "WEB-CLI-1")
    runner = CliRunner()
    shown = runner.invoke(app, ["orders", "show", "WEB-CLI-1"])
    assert shown.exit_code == 0, shown.output
    assert "queued" in shown.output and "erp_error" in shown.output
    resent = runner.invoke(app, ["orders", "resend", "WEB-CLI-1"])
    assert resent.exit_code == 0, resent.output
    assert "created" in resent.output
    again = runner.invoke(app, ["orders", "resend", "WEB-CLI-1"])
    assert "already created" in again.output  # never a second sales order
    assert len([o for o in emulator.control.sales_orders() if "WEB-CLI-1" in str(o)]) == 1
    exported = runner.invoke(app, ["orders", "export", "--older-than-s", "0"])
    assert exported.exit_code == 0 and "picked 0" in exported.output


def test_orders_list_resend_by_state_and_health_here(live: Any, emulator: Any) -> None:
    """The commands the admin API also serves (AWS mode), run here on the shop database and ERP."""
    import json

    from erpbridge_cli.main import app

    for order_id in ("WEB-CLI-2", "WEB-CLI-3"):
        queue_an_order(live, emulator, order_id)
    runner = CliRunner()
    listed = runner.invoke(app, ["orders", "list", "--state", "queued", "--json"])
    assert listed.exit_code == 0, listed.output
    assert {o["order_id"] for o in json.loads(listed.output)} == {"WEB-CLI-2", "WEB-CLI-3"}
    assert runner.invoke(app, ["orders", "list", "--state", "nope"]).exit_code == 2
    resent = runner.invoke(app, ["orders", "resend", "--state", "queued"])
    assert resent.exit_code == 0, resent.output
    assert "order WEB-CLI-2: created" in resent.output and "order WEB-CLI-3: created" in resent.output
    assert "no orders queued" in runner.invoke(app, ["orders", "list", "--state", "queued"]).output
    assert runner.invoke(app, ["orders", "resend"]).exit_code == 2  # neither ids nor --state

    health = runner.invoke(app, ["health", "--json"])
    assert health.exit_code == 0, health.output
    answer = json.loads(health.output)
    assert answer["erp_reachable"] is True and answer["latency_last_hour"]["source"] == "this process"
    emulator.go_down()
    try:
        down = runner.invoke(app, ["health"])
    finally:
        emulator.come_up()
    assert down.exit_code == 1 and "unreachable" in down.output


def test_jobs_run_export_failed_orders_sends_a_queued_order_once(
    live: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from erpbridge_cli.main import app

    for name in ("ERPBRIDGE_FETCH_FUNCTION", "ERPBRIDGE_EXPORT_FUNCTION"):
        monkeypatch.delenv(name, raising=False)  # locally: the use case runs in this process
    queue_an_order(live, emulator, "WEB-JOB-1")
    runner = CliRunner()
    exported = runner.invoke(app, ["jobs", "run", "export-failed-orders", "--param", "older_than_s=0"])
    assert exported.exit_code == 0, exported.output
    assert "picked 1: created 1" in exported.output
    again = runner.invoke(app, ["jobs", "run", "export-failed-orders", "--param", "older_than_s=0"])
    assert again.exit_code == 0 and "picked 0" in again.output
    assert len([o for o in emulator.control.sales_orders() if "WEB-JOB-1" in str(o)]) == 1
    assert live.call("GET", "/v1/orders/WEB-JOB-1").body["status"] == "created"


def test_openapi_command_writes_the_document(tmp_path: Path) -> None:
    from erpbridge_cli.main import app

    target = tmp_path / "openapi.json"
    result = CliRunner().invoke(app, ["openapi", "--write", str(target)])
    assert result.exit_code == 0 and target.read_text().startswith("{")
