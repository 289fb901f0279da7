"""A bounded property-based run of the live API against its own OpenAPI document (schemathesis).

``erpbridge serve`` runs in this process on the BC emulator (real HTTP both ways) and the
schemathesis CLI runs in a subprocess against it: fixed seed, a few examples per operation, the
examples, coverage and fuzzing phases, and the checks below. Any 5xx, any answer outside the
document, any schema-valid request refused fails the test. What such runs found is kept as plain
regression tests in ``test_bad_input.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEED = 20261202
MAX_EXAMPLES = 12
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "positive_data_acceptance",
        "unsupported_method",
        "allow_header_conformance",
    )
)


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """SQLite: the run exercises the HTTP surface; test_bad_input.py runs the database cases on both."""
    return sqlite_url


@pytest.fixture
def served(live: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Counter[int]]]:
    """``erpbridge serve`` on the emulator, counting the status of every answer the handler gives."""
    import live_api

    from erpbridge_cli.commands import live as serve

    statuses: Counter[int] = Counter()
    handler = live_api.lambda_handler

    def counted(event: dict[str, Any], context: Any) -> dict[str, Any]:
        answer: dict[str, Any] = handler(event, context)
        statuses[int(answer["statusCode"])] += 1
        return answer

    monkeypatch.setattr(live_api, "lambda_handler", counted)
    monkeypatch.setattr(serve.console, "quiet", True)  # one log line per request: ~1,300 of them
    server = serve.make_server(0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", statuses
    server.shutdown()
    server.server_close()


def run_schemathesis(base_url: str, report: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(Path(__file__).with_name("schemathesis.toml")),
        "run",
        str(ROOT / "openapi.json"),
        "--url",
        base_url,
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--phases",
        "examples,coverage,fuzzing",
        "--checks",
        CHECKS,
        "--workers",
        "1",
        "--no-shrink",
        "--continue-on-failure",
        "--generation-database",
        "none",
        "--request-timeout",
        "20",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    # In a scratch folder: schemathesis keeps a cache (.schemathesis/) in its working directory.
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=report.parent)


def test_bounded_property_run_finds_no_server_error(served: tuple[str, Counter[int]], tmp_path: Path) -> None:
    base_url, statuses = served
    report = tmp_path / "schemathesis.json"
    done = run_schemathesis(base_url, report)
    summary = json.loads(report.read_text()) if report.exists() else {}
    failures = {f"{f['code']} {f['title']}": f["count"] for f in summary.get("failures", [])}
    server_errors = sum(count for status, count in statuses.items() if status >= 500)
    print(
        f"\nproperty run (seed {SEED}, {MAX_EXAMPLES} examples per operation): "
        f"{sum(statuses.values())} requests, {server_errors} answered 5xx, "
        f"failures {failures or 'none'}; statuses {dict(sorted(statuses.items()))}"
    )
    assert server_errors == 0, dict(statuses)
    assert done.returncode == 0 and not failures, (failures, done.stdout[-6000:], done.stderr[-2000:])
