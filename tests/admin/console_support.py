"""The console over the BC emulator and SQLite, as `erpbridge console` serves it, plus the live API
(to place orders) — both on real HTTP in this process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-console-token-0123456789abcdef"
OPERATOR = "alice@example.test"


@dataclass
class ConsoleStack:
    url: str
    live_url: str
    token: str
    emulator: Any
    services: Any

    def api(self, method: str, path: str, *, token: str | None = TOKEN, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def place_order(self, order_id: str) -> requests.Response:
        order = {
            "order_id": order_id,
            "customer_number": "10000",
            "lines": [{"product_id": "P000002", "quantity": 1}],
        }
        return requests.post(
            f"{self.live_url}/v1/orders",
            json=order,
            headers={"Idempotency-Key": f"key-{order_id}"},
            timeout=30,
        )


@contextmanager
def console_stack(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, emulator: Any, database_url: str
) -> Iterator[ConsoleStack]:
    from erpbridge.settings import get_settings
    from erpbridge.shopdb import dispose_engines
    from erpbridge.wiring.live import use_services
    from erpbridge_cli.commands.live import make_server
    from erpbridge_cli.console_server import (
        console_services,
        serve_console_in_background,
        use_console_token,
    )

    for name in (
        "ERPBRIDGE_SECRETS_NAME",
        "ERPBRIDGE_SSM_PATH",
        "ERPBRIDGE_CACHE_TABLE",
        "ERPBRIDGE_BREAKER_TABLE",
        "ERPBRIDGE_ORDERS_XML_BUCKET",
        "ERPBRIDGE_STAGING_BUCKET",
        "ERPBRIDGE_RUNS_TABLE",
        "ERPBRIDGE_LOCKS_TABLE",
        "ERPBRIDGE_IDEMPOTENCY_TABLE",
        "ERPBRIDGE_FETCH_FUNCTION",
    ):
        monkeypatch.delenv(name, raising=False)
    env = {
        **emulator.settings_env(),
        "ERPBRIDGE_DATABASE_URL": database_url,
        "ERPBRIDGE_STATE_DIR": str(tmp_path / "state"),
        "ERPBRIDGE_MAPPINGS_DIR": str(ROOT / "mappings"),
        "ERPBRIDGE_ERP_TIMEOUT_S": "2",
        "ERPBRIDGE_ERP_CONNECT_TIMEOUT_S": "1",
        "ERPBRIDGE_ERP_MAX_RETRIES": "0",
        "ERPBRIDGE_ERP_STATUS_TTL_S": "0",
        "ERPBRIDGE_ORDER_UNKNOWN_SETTLE_S": "0",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    services, latency = console_services()
    live_server = make_server(0)
    import threading

    threading.Thread(target=live_server.serve_forever, daemon=True).start()
    token = use_console_token(TOKEN, operator=OPERATOR)
    server = serve_console_in_background(0, live_services=services, latency=latency)
    try:
        yield ConsoleStack(
            url=f"http://127.0.0.1:{server.server_address[1]}",
            live_url=f"http://127.0.0.1:{live_server.server_address[1]}",
            token=token,
            emulator=emulator,
            services=services,
        )
    finally:
        server.shutdown()
        live_server.shutdown()
        import admin_routes

        admin_routes.use_admin(None)
        use_services(None)
        dispose_engines()
        monkeypatch.delenv("ERPBRIDGE_ADMIN_TOKEN", raising=False)
        monkeypatch.delenv("ERPBRIDGE_ADMIN_AUTH", raising=False)
        get_settings.cache_clear()


@pytest.fixture
def stack(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, emulator: Any, sqlite_url: str
) -> Iterator[ConsoleStack]:
    """The console and the live API over the emulator and this test's SQLite database."""
    with console_stack(monkeypatch, tmp_path, emulator, sqlite_url) as running:
        yield running
