"""The operator console in a real browser: what an operator sees and does every morning."""

from __future__ import annotations

import re
from typing import Any

from console_support import OPERATOR, ConsoleStack
from playwright.sync_api import expect


def test_overview_shows_erp_health_jobs_orders_and_failed_files(
    page: Any, stack: ConsoleStack, shot: Any
) -> None:
    expect(page).to_have_url(f"{stack.url}/")
    expect(page.locator("#erp-health")).to_contain_text("reachable")
    expect(page.locator("#erp-health")).to_contain_text("breaker closed")
    expect(page.locator("#jobs tr[data-job='fetch-stock-level']")).to_contain_text("never ran")
    expect(page.locator("#count-queued")).to_have_text("0")
    expect(page.get_by_text("no failed files")).to_be_visible()
    expect(page.get_by_text(f"signed in as {OPERATOR}")).to_be_visible()
    shot(page, "overview")


def test_run_now_on_fetch_stock_level_reaches_succeeded_with_counts(
    page: Any, stack: ConsoleStack, shot: Any
) -> None:
    page.goto(f"{stack.url}/jobs")
    shot(page, "jobs")
    page.locator("#jobs tr[data-job='fetch-stock-level']").get_by_role(
        "button", name=re.compile("Run")
    ).click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9A-Za-z_.-]+$"))
    # The page reloads itself when the run ends: what follows is what the server renders.
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=45_000)
    expect(page.locator("[role=progressbar]")).to_have_attribute("aria-valuenow", "100")
    rows_read = page.locator("[data-field='counts.rows_read']")
    expect(rows_read).not_to_have_text("0")
    assert int(rows_read.inner_text().replace(",", "")) > 0
    expect(page.get_by_text(f"manual by {OPERATOR}")).to_be_visible()
    expect(page.locator("[data-file]").first).to_contain_text("imported")
    shot(page, "run")


def test_mapping_page_marks_constant_columns(page: Any, stack: ConsoleStack, shot: Any) -> None:
    page.goto(f"{stack.url}/mappings/fetch-shop-data")
    page.locator("tr.table-row[data-table='EcomCurrencies']").click()
    columns = page.locator("#columns-EcomCurrencies")
    expect(columns).to_be_visible()
    constant = columns.locator("tr.constant").first
    expect(constant).to_contain_text("CurrencyLanguageId")
    expect(constant.locator(".kind.constant")).to_contain_text("constant")
    expect(page.locator("#columns-EcomProducts")).to_be_hidden()  # one table's columns at a time
    shot(page, "mapping")


def test_an_order_taken_while_the_erp_is_down_waits_then_a_resend_creates_it(
    page: Any, stack: ConsoleStack, shot: Any
) -> None:
    stack.emulator.go_down()
    try:
        answer = stack.place_order("WEB-BROWSER-1")
        assert answer.status_code == 202 and answer.json()["status"] == "queued"
        page.goto(f"{stack.url}/")
        expect(page.locator("#count-queued")).to_have_text("1")
        page.locator("#count-queued").click()
        row = page.locator("#orders tr[data-order='WEB-BROWSER-1']")
        expect(row).to_contain_text("queued")
        shot(page, "orders")
    finally:
        stack.emulator.come_up()
    row.get_by_role("link", name="WEB-BROWSER-1").click()
    expect(page.locator("#order-state")).to_have_text("queued")
    page.get_by_role("button", name="Re-send to the ERP").click()
    expect(page.locator("#order-state")).to_have_text("created")
    sales_order = stack.emulator.control.sales_order("WEB-BROWSER-1")
    assert sales_order is not None  # created in BC once, by the re-send
    number = sales_order["no"]
    expect(page.locator("#erp-order")).to_have_text(number)
    expect(page.locator("#timeline li").first).to_contain_text(f"ERP order {number}")
    expect(page.locator("#timeline")).to_contain_text(f"re-send requested by {OPERATOR}")
    shot(page, "order")


def test_actions_without_the_token_or_the_csrf_value_are_refused(
    browser: Any, page: Any, stack: ConsoleStack, shot: Any
) -> None:
    # Signed in, but a POST without the page's CSRF value (what another site's form would send).
    status = page.evaluate(
        "async (url) => (await fetch(url, {method: 'POST', headers: {'Content-Type': "
        "'application/x-www-form-urlencoded'}, body: 'csrf=forged'})).status",
        f"{stack.url}/jobs/fetch-stock-level/run",
    )
    assert status == 403
    assert stack.api("GET", "/api/runs").json()["runs"] == []  # nothing ran
    # No token at all: the console asks for the link with its token.
    stranger = browser.new_context()
    try:
        anonymous = stranger.new_page()
        response = anonymous.goto(f"{stack.url}/jobs")
        assert response is not None and response.status == 401
        expect(anonymous.get_by_role("alert")).to_contain_text("no console token")
        wrong = anonymous.goto(f"{stack.url}/login?token=not-the-token")
        assert wrong is not None and wrong.status == 403
    finally:
        stranger.close()
    page.goto(f"{stack.url}/health")
    expect(page.locator("#health")).to_contain_text("reachable")
    shot(page, "health")
