"""The sample events in events/ are what the live functions accept: one API Gateway (REST API,
payload 1.0, the `/v1/{proxy+}` resource of template.yaml) event per route of the API, and the
Export Failed Orders event, each fed to its handler against the BC emulator."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
# Run in this order: the order a sample creates is the one the next sample shows.
API_SAMPLES = sorted(EVENTS.glob("api-*.json"), key=lambda p: (p.name != "api-orders-create.json", p.name))


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url  # the handlers' database paths run on both elsewhere


def _route(method: str, path: str, document: dict[str, Any]) -> str | None:
    """The OpenAPI path template ``path`` falls under, for ``method``."""
    for template, operations in document["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if method.lower() in operations and re.match(pattern, path):
            return f"{method} {template}"
    return None


def test_every_route_of_the_api_has_a_sample_event() -> None:
    import live_api

    document = live_api.openapi_document()
    routes = {f"{m.upper()} {path}" for path, ops in document["paths"].items() for m in ops}
    sampled = set()
    for sample in API_SAMPLES:
        event = json.loads(sample.read_text())
        assert event["resource"] == "/v1/{proxy+}" and event["pathParameters"]["proxy"] == event["path"][4:]
        sampled.add(_route(event["httpMethod"], event["path"], document))
    assert sampled == routes - {"GET /v1/swagger"}


def test_each_api_sample_is_answered_by_its_route(live: Any, lambda_context: Any) -> None:
    import live_api

    invoices = live.call("GET", "/v1/customers/10000/documents?type=invoice").body
    number = invoices["items"][0]["No"]
    for sample in API_SAMPLES:
        event = json.loads(sample.read_text().replace("<No>", number))
        answer = live_api.lambda_handler(event, lambda_context)
        assert 200 <= int(answer["statusCode"]) < 300, (sample.name, answer.get("body"))


def test_the_export_failed_orders_sample_runs_the_export(live: Any, lambda_context: Any) -> None:
    import export_failed_orders

    event = json.loads((EVENTS / "export-failed-orders.json").read_text())
    export_failed_orders.orders.cache_clear()  # built from this test's settings, and dropped after
    try:
        report = export_failed_orders.lambda_handler(event, lambda_context)
    finally:
        export_failed_orders.orders.cache_clear()
    assert report["picked"] == 0 and "dead_lettered" in report
