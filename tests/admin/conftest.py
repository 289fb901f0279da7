"""Fixtures of the admin API tests (the stack lives in console_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_support import ConsoleStack, console_stack


@pytest.fixture
def stack(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, emulator: Any, sqlite_url: str
) -> Iterator[ConsoleStack]:
    with console_stack(monkeypatch, tmp_path, emulator, sqlite_url) as running:
        yield running
