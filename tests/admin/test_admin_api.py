"""The admin API over HTTP (`erpbridge console`'s server): who may call it, each resource, and that
every action names its operator in the order timeline or the run record."""

from __future__ import annotations

import time
from typing import Any

import pytest
from console_support import OPERATOR, ConsoleStack


def test_without_a_token_401_with_a_wrong_one_403(stack: ConsoleStack) -> None:
    assert stack.api("GET", "/api/jobs", token=None).status_code == 401
    wrong = stack.api("GET", "/api/jobs", token="not-the-token")
    assert wrong.status_code == 403 and wrong.json()["error"] == "forbidden"
    assert stack.api("POST", "/api/jobs/fetch-stock-level/run", token=None, json={}).status_code == 401
    assert stack.api("GET", "/api/runs").json()["runs"] == []  # the refused action did nothing


def test_a_cookie_session_needs_the_csrf_value_a_bearer_call_does_not(stack: ConsoleStack) -> None:
    import requests

    cookie = {"erpbridge_console": stack.token}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    refused = requests.post(
        f"{stack.url}/orders/resend", data="order_id=X", cookies=cookie, headers=form, timeout=10
    )
    assert refused.status_code == 403 and "CSRF" in refused.text
    page = requests.get(f"{stack.url}/jobs", cookies=cookie, timeout=10)
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    accepted = requests.post(
        f"{stack.url}/orders/resend", data=f"csrf={csrf}", cookies=cookie, headers=form, timeout=10
    )
    assert accepted.status_code == 200 and "Re-sent 0 order(s)" in accepted.text
    assert "Set-Cookie" not in page.headers  # the token is not handed out again
    assert stack.token not in page.text  # no secret on a page


def test_nothing_changes_on_get(stack: ConsoleStack) -> None:
    assert stack.api("GET", "/api/jobs/fetch-stock-level/run").status_code in (404, 405)
    assert stack.api("GET", "/api/runs").json()["runs"] == []


def _wait_for_run(stack: ConsoleStack, run_id: str, timeout_s: float = 45) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = stack.api("GET", f"/api/runs/{run_id}")
        if answer.status_code == 200 and answer.json()["status"] in ("succeeded", "failed"):
            return dict(answer.json())
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not finish in {timeout_s} s")


def test_jobs_run_now_runs_and_the_run_names_its_operator(stack: ConsoleStack) -> None:
    jobs = {j["job"]: j for j in stack.api("GET", "/api/jobs").json()["jobs"]}
    stock = jobs["fetch-stock-level"]
    assert stock["schedule"] == "rate(15 minutes)" and stock["enabled"] is True and stock["last_run"] is None
    assert jobs["fetch-shop-data"]["next_run"].endswith("T02:00:00+00:00")
    unknown = stack.api("POST", "/api/jobs/fetch-stock-level/run", json={"parameters": {"nope": "1"}})
    assert unknown.status_code == 422 and "unknown parameter" in unknown.json()["message"]
    started = stack.api("POST", "/api/jobs/fetch-stock-level/run", json={"parameters": {"shopID": "SHOP1"}})
    assert started.status_code == 202
    run = _wait_for_run(stack, started.json()["run_id"])
    assert run["status"] == "succeeded" and run["progress"] == 100
    assert run["requested_by"] == OPERATOR and run["trigger"] == "manual"
    assert run["counts"]["rows_read"] > 0 and run["files"][0]["where"] == "archive"
    listed = stack.api("GET", "/api/runs", params={"job": "fetch-stock-level", "status": "succeeded"}).json()
    assert [r["run_id"] for r in listed["runs"]] == [run["run_id"]]
    assert stack.api("GET", "/api/runs", params={"status": "failed"}).json()["runs"] == []
    jobs = {j["job"]: j for j in stack.api("GET", "/api/jobs").json()["jobs"]}
    assert jobs["fetch-stock-level"]["last_run"]["run_id"] == run["run_id"]
    assert stack.api("GET", "/api/runs/20200101T000000000000Z-abcdef").status_code == 404


def test_a_finished_runs_page_is_static_a_starting_runs_page_polls(stack: ConsoleStack) -> None:
    import requests

    started = stack.api("POST", "/api/jobs/fetch-stock-level/run", json={"parameters": {}})
    run = _wait_for_run(stack, started.json()["run_id"])
    cookie = {"erpbridge_console": stack.token}
    finished = requests.get(f"{stack.url}/runs/{run['run_id']}", cookies=cookie, timeout=10).text
    assert "succeeded" in finished and "data-run-url" not in finished  # nothing left to poll, no reload loop
    unknown = "20200101T000000000000Z-abcdef"  # a run being started has no record yet
    starting = requests.get(f"{stack.url}/runs/{unknown}", cookies=cookie, timeout=10).text
    assert f'data-run-url="/api/runs/{unknown}" data-in-progress="running importing"' in starting


def test_mappings_list_tables_columns_by_kind_and_problems(stack: ConsoleStack) -> None:
    view = stack.api("GET", "/api/mappings/fetch-shop-data").json()
    tables = {t["source"]: t for t in view["tables"]}
    currency = {c["destination"]: c for c in tables["EcomCurrencies"]["columns"]}
    assert currency["CurrencyLanguageId"]["kind"] == "constant"
    assert tables["EcomProducts"]["removal"].startswith("deactivate missing")
    assert all(not t["problems"] for t in view["tables"]), view
    assert stack.api("GET", "/api/mappings/no-such-job").status_code == 404


def test_failed_files_are_listed_with_their_report_and_redriven(stack: ConsoleStack) -> None:
    from erpbridge.settings import get_settings
    from erpbridge.wiring.batch import runtime_from_settings

    store = runtime_from_settings(get_settings()).store()
    store.put_bytes("failed/fetch-stock-level/R1/page-0001.xml", b"<broken", content_type="application/xml")
    store.put_bytes("failed/fetch-stock-level/R1/page-0001.xml.error.json", b'{"message": "not XML"}')
    files = stack.api("GET", "/api/failed-files").json()["files"]
    assert [(f["key"], f["report"]["message"]) for f in files] == [
        ("failed/fetch-stock-level/R1/page-0001.xml", "not XML")
    ]
    redriven = stack.api("POST", "/api/failed-files/redrive", json={"key": files[0]["key"]})
    assert (
        redriven.status_code == 202
        and redriven.json()["staged"] == "staging/fetch-stock-level/R1/page-0001.xml"
    )
    deadline = time.monotonic() + 20
    while stack.api("GET", "/api/failed-files").json()["files"] == [] and time.monotonic() < deadline:
        time.sleep(0.2)  # the import of the put-back file runs, fails again (still not XML)
    again = stack.api("GET", "/api/failed-files").json()["files"]
    assert [f["key"] for f in again] == ["failed/fetch-stock-level/R1/page-0001.xml"]


@pytest.fixture
def queued_order(stack: ConsoleStack) -> str:
    stack.emulator.go_down()
    try:
        assert stack.place_order("WEB-ADMIN-1").json()["status"] == "queued"
    finally:
        stack.emulator.come_up()
    return "WEB-ADMIN-1"


def test_orders_by_state_timeline_xml_and_resend_recorded(stack: ConsoleStack, queued_order: str) -> None:
    queued = stack.api("GET", "/api/orders", params={"state": "queued"}).json()["orders"]
    assert [o["order_id"] for o in queued] == [queued_order]
    assert stack.api("GET", "/api/orders", params={"state": "created"}).json()["orders"] == []
    assert (
        stack.api("GET", "/api/orders", params={"state": "queued", "older_than_s": 3600}).json()["orders"]
        == []
    )
    detail = stack.api("GET", f"/api/orders/{queued_order}").json()
    key = detail["timeline"][0]["request_xml"]
    xml = stack.api("GET", f"/api/orders/{queued_order}/xml", params={"key": key})
    assert (
        xml.status_code == 200
        and b"<tables" in xml.content
        and "attachment" in xml.headers["Content-Disposition"]
    )
    assert (
        stack.api("GET", f"/api/orders/{queued_order}/xml", params={"key": "../../etc/passwd"}).status_code
        == 404
    )
    resent = stack.api("POST", f"/api/orders/{queued_order}/resend").json()
    assert resent["status"] == "created" and resent["erp_order_id"]
    timeline = stack.api("GET", f"/api/orders/{queued_order}").json()["timeline"]
    assert [(e["trigger"], e["outcome"]) for e in timeline][-2:] == [
        ("operator", "resend_requested"),
        ("resend", "created"),
    ]
    assert timeline[-2]["erp_message"] == f"re-send requested by {OPERATOR}"
    # Re-sent again: never created twice (BC holds one sales order for it).
    again = stack.api("POST", "/api/orders/resend", json={"order_ids": [queued_order, "WEB-NOPE"]}).json()
    assert again["results"][0]["status"] == "created" and "WEB-NOPE" in again["errors"]
    assert (
        len([o for o in stack.emulator.control.sales_orders() if o["external_document_no"] == queued_order])
        == 1
    )


def test_health_pings_and_reports_breaker_and_latency(stack: ConsoleStack, queued_order: str) -> None:
    stack.api("POST", f"/api/orders/{queued_order}/resend")  # one timed ERP call
    health = stack.api("GET", "/api/health").json()
    assert health["erp_reachable"] is True and health["breaker_state"] == "closed"
    assert health["latency_last_hour"]["calls"] >= 1 and health["latency_last_hour"]["p50_ms"] > 0
    stack.emulator.go_down()
    try:
        assert stack.api("GET", "/api/health").json()["erp_reachable"] is False
    finally:
        stack.emulator.come_up()


def test_with_two_erp_endpoints_the_console_shows_each_and_resends_to_the_orders_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, emulator: Any, emulator_factory: Any, sqlite_url: str
) -> None:
    import json

    import requests
    from console_support import console_stack

    nordic = emulator_factory(auth="basic")
    entry = {"shops": ["NORDIC"], "url": nordic.soap_url, "auth": "basic", "user": nordic.config.user}
    endpoints = {"nordic": {**entry, "password": nordic.config.password}}
    monkeypatch.setenv("ERPBRIDGE_ERP_ENDPOINTS", json.dumps(endpoints))
    with console_stack(monkeypatch, tmp_path, emulator, sqlite_url) as stack:
        nordic.go_down()
        order = {"order_id": "WEB-N-9", "customer_number": "10000", "shop_id": "NORDIC"}
        order["lines"] = [{"product_id": "P000002", "quantity": 1}]
        queued = requests.post(
            f"{stack.live_url}/v1/orders", json=order, headers={"Idempotency-Key": "key-WEB-N-9"}, timeout=30
        )
        assert queued.status_code == 202
        page = requests.get(f"{stack.url}/", cookies={"erpbridge_console": stack.token}, timeout=10).text
        assert "ERP default" in page and "ERP nordic" in page and 'id="erp-health-nordic"' in page
        nordic.come_up()
        assert stack.api("POST", "/api/orders/WEB-N-9/resend").status_code == 200
        assert [o["shop_order_id"] for o in nordic.control.sales_orders()] == ["WEB-N-9"]
        assert emulator.control.sales_orders() == []


def test_iam_mode_takes_the_operator_from_the_signed_principal(monkeypatch: pytest.MonkeyPatch) -> None:
    from erpbridge.admin.auth import identify
    from erpbridge.live.errors import ForbiddenError, UnauthorizedError
    from erpbridge.settings import AdminSettings

    settings = AdminSettings(
        admin_auth="iam", admin_operators=("arn:aws:sts::123456789012:assumed-role/Ops/*",)
    )
    alice = {"identity": {"userArn": "arn:aws:sts::123456789012:assumed-role/Ops/alice"}}
    assert identify(settings, {}, alice).name.endswith("/Ops/alice")
    with pytest.raises(UnauthorizedError):
        identify(settings, {}, {"identity": {"sourceIp": "1.2.3.4"}})
    with pytest.raises(ForbiddenError):
        identify(settings, {}, {"identity": {"userArn": "arn:aws:iam::123456789012:user/mallory"}})
    # A token is worth nothing in IAM mode.
    with pytest.raises(UnauthorizedError):
        identify(settings, {"Authorization": "Bearer x" * 3}, {})


def test_the_price_audits_last_run_is_shown_beside_the_jobs(
    stack: ConsoleStack, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import requests
    import sqlalchemy as sa
    from typer.testing import CliRunner

    from erpbridge.batch.models import Trigger
    from erpbridge.settings import get_settings
    from erpbridge.shopdb.schema import table
    from erpbridge.wiring.price_audit import price_auditor
    from erpbridge_cli.main import app

    # GIVEN no audit yet: the admin API and `erpbridge jobs list` say so
    assert stack.api("GET", "/api/jobs").json()["price_audit"]["summary"] == "no run yet"
    # WHEN an audit of one product in one currency (anonymous) has run
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(table("EcomCurrencies")).values(CurrencyCode="EUR", CurrencyLanguageId="LANG1")
        )
        conn.execute(
            sa.insert(table("EcomProducts")).values(
                ProductID="P000001", ProductLanguageID="LANG1", ProductVariantID=""
            )
        )
    engine.dispose()
    run = price_auditor(get_settings(), services=stack.services).run(sample=5, trigger=Trigger.MANUAL, seed=1)
    assert run.error is None
    # THEN the admin API's jobs carry its last run, with a one-line summary
    audit = stack.api("GET", "/api/jobs").json()["price_audit"]
    assert audit["job"] == "price-audit" and audit["schedule"] == "cron(0 5 * * ? *)"
    assert audit["last_run"]["run_id"] == run.run_id and audit["last_run"]["status"] == "succeeded"
    assert audit["summary"] == f"last run {run.run_id} succeeded: 0 of 1 served prices differ (0 %)"
    # AND the console's overview links it
    page = requests.get(f"{stack.url}/", cookies={"erpbridge_console": stack.token}, timeout=10).text
    assert 'id="price-audit"' in page and f'href="/runs/{run.run_id}"' in page
    # AND `erpbridge jobs list` ends with it (local mode: the same runs table)
    monkeypatch.delenv("ERPBRIDGE_ADMIN_URL", raising=False)
    listed = CliRunner().invoke(app, ["jobs", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    last = json.loads(listed.stdout)[-1]
    assert last["job"] == "price-audit" and last["last_run"]["run_id"] == run.run_id
    assert audit["summary"] in last["description"]
