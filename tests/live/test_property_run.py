"""A bounded property-based run of the live API against its own OpenAPI document (schemathesis).

``erpbridge serve`` runs in this process on the BC emulator (real HTTP both ways) and the
schemathesis CLI runs in a subprocess against it: fixed seed, a few examples per operation, the
examples, coverage and fuzzing phases, and the checks below. Any 5xx, any answer outside the
document, any schema-valid request refused fails the test. What such runs found is kept as plain
regression tests in ``test_bad_input.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
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
def served(live: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from erpbridge_cli.commands import live as serve

    monkeypatch.setattr(serve.console, "quiet", True)  # one log line per request: ~1,200 of them
    server = serve.make_server(0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_schemathesis(base_url: str, report: Path) -> tuple[int, str]:
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        str(ROOT / "openapi.json"),
        "--url",
        base_url,
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--phases",
        os.environ.get("ST_PHASES", "examples,coverage,fuzzing"),
        "--checks",
        CHECKS,
        "--workers",
        os.environ.get("ST_WORKERS", "1"),
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
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    return done.returncode, done.stdout + done.stderr


def test_bounded_property_run_finds_no_server_error(served: str, tmp_path: Path) -> None:
    report = tmp_path / "schemathesis.json"
    code, output = run_schemathesis(served, report)
    Path("/tmp/badinput/st_out.txt").write_text(output)
    assert code == 0, output[-4000:]
