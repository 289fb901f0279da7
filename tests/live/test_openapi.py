"""The committed openapi.json is the code's OpenAPI document (regenerate with `make openapi`)."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_json_matches_the_code() -> None:
    import live_api

    generated = json.loads(json.dumps(live_api.openapi_document()))
    committed = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
    assert generated == committed, "openapi.json is stale: run `make openapi` and commit it"
    assert committed["openapi"].startswith("3.1")
    assert set(committed["paths"]) >= {
        "/v1/prices",
        "/v1/baskets/calculate",
        "/v1/orders",
        "/v1/orders/{order_id}",
        "/v1/customers/{customer}/documents",
        "/v1/customers/{customer}/documents/{doc_type}/{number}",
        "/v1/customers/{customer}/documents/{doc_type}/{number}/pdf",
        "/v1/health",
    }
