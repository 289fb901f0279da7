"""The handlers' side of the layer contract (the layers below are checked by import-linter from
pyproject.toml in `make lint`): a Lambda handler reaches adapters only through its wiring."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = sorted((ROOT / "functions").rglob("*.py"))


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda path: str(path.relative_to(ROOT)))
def test_a_handler_imports_no_adapter_when_it_builds_its_services(handler: Path) -> None:
    # GIVEN a handler module WHEN its imports are read THEN none is an adapter (the wiring builds them)
    adapters = sorted(m for m in _imported_modules(handler) if m.split(".")[:2] == ["erpbridge", "adapters"])
    assert adapters == []


def test_every_handler_folder_is_checked_when_the_layers_are_tested() -> None:
    assert {path.parent.name for path in HANDLERS} == {"live", "batch", "admin"}
