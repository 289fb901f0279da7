"""Helpers of the CLI tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def erpbridge(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed command in a process of its own (its exit code, its current folder)."""
    script = Path(sys.executable).with_name("erpbridge")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "erpbridge_cli.main"]
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        env={**(env if env is not None else os.environ), "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
