"""``erpbridge health``: ERP ping, breaker state, the orders to rescue, ERP latency.

In AWS mode (:mod:`erpbridge_cli.admin_client`) the admin API's health resource: its ping from
inside the stack, and the latency over the last hour the live function published (CloudWatch).
Locally a ping from this process with the ERP settings, the latency being that ping's.
Exit 1 when the ERP does not answer.
"""

from __future__ import annotations

from typing import Any

import typer

from erpbridge_cli.admin_client import admin_api
from erpbridge_cli.commands._batch_common import JsonOption, column, console, fail, print_json, table


def _health_here() -> dict[str, Any]:
    from datetime import UTC, datetime, timedelta

    from erpbridge.admin.service import HealthView
    from erpbridge.errors import ErpBridgeError
    from erpbridge.wiring.admin import MemoryLatencyLog
    from erpbridge.wiring.live import LiveServices
    from erpbridge_cli.commands._batch_common import settings, shop_database

    loaded = settings(needs_erp=True, what="health")
    shop_database(loaded.database_url)
    latency = MemoryLatencyLog()
    try:
        health = LiveServices(loaded, metrics=latency).health.check()
    except ErpBridgeError as error:
        raise fail(f"{type(error).__name__}: {error}") from None
    since = datetime.now(UTC) - timedelta(hours=1)
    return HealthView(health, latency.summary(since=since)).as_dict()


def print_health(health: dict[str, Any], *, as_json: bool) -> None:
    """The health answer (the admin API's, or this process's), one presenter."""
    if as_json:
        print_json(health)
    else:
        shown = table("ERP health", show_header=False)
        column(shown, "field", style="bold")
        column(shown, "value")
        condition = health["erp_condition"]
        style = "green" if condition == "ok" else "red"
        reason = f": {health['erp_reason']}" if health.get("erp_reason") else ""
        setting = f" (check {health['erp_setting']})" if health.get("erp_setting") else ""
        latency = health.get("latency_last_hour") or {}
        measured = (
            f"{latency['calls']} calls · median {latency['p50_ms']} ms · p95 {latency['p95_ms']} ms · "
            f"max {latency['max_ms']} ms ({latency.get('source', '')})"
            if latency.get("calls")
            else f"no ERP calls measured ({latency.get('source', '')})"
        )
        for name, value in (
            ("status", health["status"]),
            ("ERP", f"[{style}]{condition}[/{style}]{reason}{setting}"),
            ("endpoint", health.get("erp_endpoint") or "-"),
            ("breaker", health["breaker_state"]),
            ("last success", health.get("last_success") or "-"),
            ("latency, last hour", measured),
            ("orders waiting for export", str(health["orders_waiting_for_export"])),
            ("orders unknown", str(health["orders_unknown"])),
            ("orders dead-lettered", str(health["orders_dead_lettered"])),
            ("orders rejected", str(health.get("orders_rejected", 0))),
        ):
            shown.add_row(name, value)
        console.print(shown)
    if not health["erp_reachable"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    @app.command("health")
    def health(as_json: JsonOption = False) -> None:
        """ERP ping, breaker state, orders to rescue and ERP latency (exit 1: the ERP is down)."""
        remote = admin_api()
        print_health(remote.health() if remote is not None else _health_here(), as_json=as_json)
