"""The operator console served from this process: its admin API behind the small HTTP server of
`erpbridge serve`, or a signing proxy to a deployed one. Used by `erpbridge console` and the local
stack (`make run`)."""

from __future__ import annotations

import os
import secrets
import sys
import threading
from pathlib import Path
from typing import Any

ADMIN_FUNCTIONS = Path(__file__).resolve().parents[2] / "functions" / "admin"


def import_admin_api() -> Any:
    """The admin function's handler module (``functions/admin/admin_api.py``), importable here."""
    if str(ADMIN_FUNCTIONS) not in sys.path:
        sys.path.insert(0, str(ADMIN_FUNCTIONS))
    import admin_api

    return admin_api


def use_console_token(token: str | None = None, operator: str | None = None) -> str:
    """Token authentication for this process's admin API (a new random token by default)."""
    from erpbridge.settings import get_settings

    token = token or secrets.token_urlsafe(24)
    os.environ["ERPBRIDGE_ADMIN_AUTH"] = "token"
    os.environ["ERPBRIDGE_ADMIN_TOKEN"] = token
    if operator:
        os.environ["ERPBRIDGE_ADMIN_OPERATOR_NAME"] = operator
    get_settings.cache_clear()
    return token


def console_services() -> tuple[Any, Any]:
    """Live services whose ERP latencies the console's health page sees, installed for the
    process (a live API served here shares them), and that latency log; migrated now."""
    from erpbridge.settings import get_settings
    from erpbridge.wiring.admin import MemoryLatencyLog
    from erpbridge.wiring.live import LiveServices, use_services
    from erpbridge.wiring.orders import LoggingMetrics

    latency = MemoryLatencyLog(forward=LoggingMetrics())
    services = LiveServices(get_settings(), metrics=latency, migrate=True)
    services.engine  # noqa: B018 - migrated before the first request
    use_services(services)
    return services, latency


def serve_console_in_background(port: int = 0, *, live_services: Any = None, latency: Any = None) -> Any:
    """Start the console in a thread (tests, `make run`); the server (``server_address[1]``: port).
    The admin use cases share ``live_services`` (built with ``latency`` as their metrics sink;
    default: their own)."""
    from erpbridge.wiring.admin import build_admin
    from erpbridge_cli.commands.live import make_server

    admin_api = import_admin_api()
    import admin_routes

    admin_routes.use_admin(build_admin(live_services, latency))
    server = make_server(port, lambda_handler=admin_api.lambda_handler)
    threading.Thread(target=server.serve_forever, name="erpbridge-console", daemon=True).start()
    return server


def console_url(server: Any, token: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/login?token={token}"
