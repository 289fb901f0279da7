"""The committed admin-openapi.json is the admin API's OpenAPI document (`make openapi` writes it)."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_admin_openapi_json_matches_the_code() -> None:
    import admin_api

    generated = json.loads(json.dumps(admin_api.openapi_document()))
    committed = json.loads((ROOT / "admin-openapi.json").read_text(encoding="utf-8"))
    assert generated == committed, "admin-openapi.json is stale: run `make openapi` and commit it"
    assert committed["openapi"].startswith("3.1")
    assert set(committed["paths"]) == {
        "/api/jobs",
        "/api/jobs/{job}/run",
        "/api/jobs/{job}/schedule",
        "/api/runs",
        "/api/runs/{run_id}",
        "/api/failed-files",
        "/api/failed-files/redrive",
        "/api/mappings/{job}",
        "/api/orders",
        "/api/orders/{order_id}",
        "/api/orders/{order_id}/xml",
        "/api/orders/{order_id}/resend",
        "/api/orders/resend",
        "/api/health",
    }  # the console's pages are not part of the API
