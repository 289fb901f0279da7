"""Fixtures of the live API tests: services wired from settings (as in Lambda) and an API caller.

``live`` builds the real services — the ERP client, the shop database (SQLite and PostgreSQL via
``database_url``), local shared stores — and installs them for the Lambda handler; ``call`` sends
an API Gateway REST event through ``live_api.lambda_handler`` and returns status, headers, body.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest

ROOT = Path(__file__).resolve().parents[2]
CLOSED_ERP_URL = "http://127.0.0.1:9/tenant/production/WS/CRONUS/Codeunit/DWWebService"  # nothing listens
JWT_SECRET = "test-secret-for-customer-tokens-0123456789"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    raw: bytes


@dataclass
class Live:
    services: Any
    database_url: str
    call: Callable[..., Answer]

    def token(self, customer: str, *, expires_in: int = 300) -> str:
        claims = {"customer_number": customer, "exp": int(time.time()) + expires_in}
        return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def _caller(lambda_context: Any) -> Callable[..., Answer]:
    import live_api

    from erpbridge_cli.commands.live import to_event

    def call(
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> Answer:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        answer = live_api.lambda_handler(to_event(method, path, all_headers, data), lambda_context)
        raw = answer.get("body") or ""
        payload = base64.b64decode(raw) if answer.get("isBase64Encoded") else raw.encode()
        headers_out = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
        for name, values in (answer.get("multiValueHeaders") or {}).items():
            headers_out.setdefault(name.lower(), values[-1])
        content_type = headers_out.get("content-type", "")
        parsed = json.loads(payload) if payload and content_type.startswith("application/json") else None
        return Answer(int(answer["statusCode"]), headers_out, parsed, payload)

    return call


def build_live(
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: Any,
    database_url: str,
    tmp_path: Path,
    erp_env: dict[str, str],
    **extra: str,
) -> Live:
    from erpbridge.settings import get_settings, load_settings
    from erpbridge.wiring.live import LiveServices, use_services

    env = {
        "ERPBRIDGE_ERP_AUTH": "none",
        **erp_env,
        "ERPBRIDGE_DATABASE_URL": database_url,
        "ERPBRIDGE_STATE_DIR": str(tmp_path / "state"),
        "ERPBRIDGE_ERP_TIMEOUT_S": "2",
        "ERPBRIDGE_ERP_CONNECT_TIMEOUT_S": "1",
        "ERPBRIDGE_ERP_MAX_RETRIES": "1",
        "ERPBRIDGE_LIVE_DEADLINE_S": "5",
        "ERPBRIDGE_JWT_SECRET": JWT_SECRET,
        "ERPBRIDGE_ORDER_EXPORT_AFTER_S": "0",
        "ERPBRIDGE_ORDER_MAX_ATTEMPTS": "3",
        "ERPBRIDGE_ORDER_UNKNOWN_SETTLE_S": "0",  # tests that need the window set it
        **extra,
    }
    for name in (
        "ERPBRIDGE_SECRETS_NAME",
        "ERPBRIDGE_SSM_PATH",
        "ERPBRIDGE_CACHE_TABLE",
        "ERPBRIDGE_BREAKER_TABLE",
        "ERPBRIDGE_ORDERS_XML_BUCKET",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():  # extras (AWS tables, bucket) after the clean-up above
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    get_settings.cache_clear()
    services = LiveServices(load_settings(), migrate=True)
    services.engine  # noqa: B018 - migrate now, not inside the first request
    use_services(services)
    return Live(services, database_url, _caller(lambda_context))


@pytest.fixture
def live_builder(
    monkeypatch: pytest.MonkeyPatch, lambda_context: Any, tmp_path: Path
) -> Iterator[Callable[..., Live]]:
    """``live_builder(database_url, erp_env, **extra)`` for tests that need their own wiring."""
    from erpbridge.shopdb import dispose_engines
    from erpbridge.wiring.live import use_services

    def make(database_url: str, erp_env: dict[str, str], **extra: str) -> Live:
        return build_live(monkeypatch, lambda_context, database_url, tmp_path, erp_env, **extra)

    yield make
    use_services(None)
    dispose_engines()


@pytest.fixture
def live_erp_down(live_builder: Callable[..., Live], database_url: str) -> Live:
    """The live API with an ERP that cannot be reached (nothing listens on its port)."""
    return live_builder(database_url, {"ERPBRIDGE_ERP_URL": CLOSED_ERP_URL})


@pytest.fixture
def live_factory(live_builder: Callable[..., Live], database_url: str, emulator: Any) -> Callable[..., Live]:
    """``live_factory(ERPBRIDGE_X="...")``: the live API against the BC emulator, with extra settings."""

    def make(**extra: str) -> Live:
        return live_builder(database_url, emulator.settings_env(), **extra)

    return make


@pytest.fixture
def live(live_factory: Callable[..., Live]) -> Live:
    """The live API against the BC emulator over HTTP."""
    return live_factory()


@pytest.fixture
def served(live: Live) -> Iterator[str]:
    """`erpbridge serve` on a free port over the services `live` installed (emulator + database)."""
    import threading

    from erpbridge_cli.commands.live import make_server

    server = make_server(0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def nordic(emulator_factory: Any) -> Any:
    """The second BC of the two-endpoint tests (endpoints_support.nordic_endpoints): another
    emulator, on its own port, with Basic authentication and its own data (another seed: emulators
    with one seed share a dataset, price changes included)."""
    return emulator_factory(auth="basic", seed=2)
