"""Headless Chromium (Debian's ``chromium``) driven by Playwright's Python client, against the
console over the emulator and SQLite. Without a Chromium the tests are skipped, visibly; CI sets
``ERPBRIDGE_REQUIRE_BROWSER=1`` (after installing it), so there a missing browser fails instead.

Screenshots of each page go to ``$ERPBRIDGE_SCREENSHOTS_DIR`` (default: the session's temporary
folder, printed at the end); with ``ERPBRIDGE_UPDATE_DOCS_SCREENSHOTS=1`` also to docs/images/.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "admin"))

from aws_deployed import deployed, proxy
from console_support import ROOT, ConsoleStack, stack

__all__ = ["deployed", "proxy", "stack"]

CHROMIUM = os.environ.get("ERPBRIDGE_CHROMIUM", "/usr/bin/chromium")


def _chromium_or_skip() -> str:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not path:
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("ERPBRIDGE_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " and ERPBRIDGE_REQUIRE_BROWSER=1")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("ERPBRIDGE_SCREENSHOTS_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def shot(screenshots: Path) -> Any:
    def take(page: Any, name: str) -> None:
        path = screenshots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if os.environ.get("ERPBRIDGE_UPDATE_DOCS_SCREENSHOTS") == "1":
            shutil.copy(path, ROOT / "docs" / "images" / f"console-{name}.png")

    return take


@pytest.fixture
def page(browser: Any, stack: ConsoleStack) -> Iterator[Any]:
    """A signed-in page: the link `erpbridge console` prints was opened (the token is a cookie now)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    opened.goto(f"{stack.url}/login?token={stack.token}")
    yield opened
    context.close()
