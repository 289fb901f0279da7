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


def test_swagger_ui_is_served_on_dev_only() -> None:
    import os
    import subprocess
    import sys

    probe = (
        "import live_api; from erpbridge_cli.commands.live import to_event;"
        "print(live_api.app.resolve(to_event('GET', '/v1/swagger', {}, b''), None)['statusCode'])"
    )
    paths = os.pathsep.join(str(ROOT / p) for p in ("layers/common", "functions/live", "cli"))
    for stage, expected in (("dev", "200"), ("prod", "404")):
        env = {**os.environ, "ERPBRIDGE_STAGE": stage, "PYTHONPATH": paths}
        result = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        )
        assert result.stdout.strip().splitlines()[-1] == expected, (stage, result.stderr[-500:])
