"""A deployed stack's console in a real browser, through `erpbridge console --admin-url`'s signing
proxy (the admin function in IAM mode behind the SigV4-checking stand-in for API Gateway)."""

from __future__ import annotations

import re
from typing import Any

from aws_deployed import ALICE, Proxy
from playwright.sync_api import expect


def test_the_overview_and_run_now_work_through_the_signing_proxy(browser: Any, proxy: Proxy) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto(f"{proxy.base}/login?token={proxy.token}")
        expect(page).to_have_url(f"{proxy.base}/")
        expect(page.locator("#erp-health")).to_contain_text("reachable")
        expect(page.get_by_text(f"signed in as {ALICE.principal}")).to_be_visible()
        page.locator("#jobs tr[data-job='fetch-stock-level']").get_by_role(
            "button", name=re.compile("Run")
        ).click()
        expect(page).to_have_url(re.compile(rf"^{re.escape(proxy.base)}/runs/[0-9A-Za-z_.-]+$"))
        # polled through the proxy; the page reloads itself when the run ends
        expect(page.locator("#run-status")).to_have_text("succeeded", timeout=45_000)
        expect(page.get_by_text(f"manual by {ALICE.principal}")).to_be_visible()
    finally:
        context.close()
