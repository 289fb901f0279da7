"""The deploy guide's smoke test (docs/deploy.md), run as written — bash and curl — against
`erpbridge serve` on the emulator, with the variables the guide tells the reader to set."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_serve_and_cli import database_url  # noqa: F401  (SQLite only; `served` is in conftest)

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def _smoke_test_block() -> str:
    match = re.search(r"<!-- smoke-test:[^>]*-->\s*```bash\n(.*?)```", GUIDE.read_text(), re.S)
    assert match, "docs/deploy.md has no smoke-test block"
    return match.group(1)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_deploy_guides_smoke_test_passes_against_erpbridge_serve(served: str) -> None:
    script = _smoke_test_block()
    assert "curl" in script and "$ERPBRIDGE_API_URL" in script
    env = {"PATH": "/usr/bin:/bin", "ERPBRIDGE_API_URL": served, "ERPBRIDGE_API_KEY": "local-key"}
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    health, prices, invoices = (json.loads(line) for line in result.stdout.splitlines() if line.strip())
    assert health["status"] == "ok" and health["erp_reachable"] is True
    assert prices["items"][0]["source"] == "erp" and prices["items"][0]["found"] is True
    assert invoices["items"]


def test_the_smoke_test_says_what_is_missing_without_its_variables() -> None:
    result = subprocess.run(
        ["bash", "-c", _smoke_test_block()], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True
    )
    assert result.returncode != 0 and "ERPBRIDGE_API_URL" in result.stderr
