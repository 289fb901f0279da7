"""`erpbridge console --admin-url`: a deployed stack's console in a browser, through a signing proxy.

The admin function runs in IAM mode behind ``iam_gateway`` (SigV4 checked, stage ``/prod``), over
the BC emulator and SQLite (``aws_deployed``). The console is a subprocess whose environment holds
the API's URL and fake AWS credentials only. Over HTTP, as a browser would: the proxy refuses
whatever lacks its token or a POST's CSRF value before signing anything (the gateway never sees
it), serves pages, assets and the JSON API signed, and the actions are recorded under the IAM
principal.
"""

from __future__ import annotations

import os
import re

import requests
from aws_deployed import ALICE, Deployed, Proxy, operator_env, start_console
from iam_gateway import FakeKey

from erpbridge.admin.auth import csrf_value


def test_without_the_token_nothing_is_forwarded(proxy: Proxy) -> None:
    before = len(proxy.deployed.seen)
    page = requests.get(f"{proxy.base}/", timeout=30)
    assert page.status_code == 401 and "text/html" in page.headers["Content-Type"]
    assert requests.get(f"{proxy.base}/api/jobs", timeout=30).status_code == 401
    wrong = requests.get(f"{proxy.base}/api/jobs", headers={"Authorization": "Bearer nope"}, timeout=30)
    assert wrong.status_code == 403
    run = requests.post(f"{proxy.base}/jobs/fetch-stock-level/run", data={"csrf": "x"}, timeout=30)
    assert run.status_code == 401
    assert requests.get(f"{proxy.base}/login?token=wrong", timeout=30).status_code == 403
    assert len(proxy.deployed.seen) == before  # the gateway saw none of them


def test_the_overview_its_assets_and_the_api_are_served_signed(proxy: Proxy) -> None:
    browser = proxy.browser()
    overview = browser.get(f"{proxy.base}/", timeout=60)
    assert overview.status_code == 200, overview.text
    assert "fetch-stock-level" in overview.text and "Run now" in overview.text
    assert f'name="csrf" value="{csrf_value(proxy.token)}"' in overview.text  # the forms work here
    assert 'href="/static/console.css"' in overview.text  # root-relative: below the stage, through us
    css = browser.get(f"{proxy.base}/static/console.css", timeout=30)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    jobs = requests.get(
        f"{proxy.base}/api/jobs", headers={"Authorization": f"Bearer {proxy.token}"}, timeout=60
    )
    assert jobs.status_code == 200 and "fetch-stock-level" in {j["job"] for j in jobs.json()["jobs"]}
    missing = browser.get(f"{proxy.base}/orders/WEB-NO-SUCH", timeout=30)
    assert missing.status_code == 404  # the API's status, passed through

    sent = proxy.deployed.seen[-1]
    assert sent["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ALICE.access_key}/")
    assert not {name.lower() for name in sent} & {"cookie", "x-forwarded-for", "x-csrf-token"}
    assert proxy.token not in str(proxy.deployed.seen)  # the local token never leaves the machine


def test_only_the_admin_apis_own_paths_and_methods_are_forwarded(proxy: Proxy) -> None:
    browser = proxy.browser()
    before = len(proxy.deployed.seen)
    assert browser.get(f"{proxy.base}/v1/orders", timeout=30).status_code == 404
    assert browser.get(f"{proxy.base}/static/%2e%2e/console.css", timeout=30).status_code == 404
    assert browser.delete(f"{proxy.base}/api/jobs", timeout=30).status_code == 405
    assert browser.post(f"{proxy.base}/api/jobs", timeout=30).status_code == 405
    assert len(proxy.deployed.seen) == before


def test_an_action_needs_the_pages_csrf_value_and_is_recorded_under_the_iam_principal(proxy: Proxy) -> None:
    stack = proxy.deployed.stack
    stack.emulator.go_down()
    try:
        assert stack.place_order("WEB-PROXY-0001").json()["status"] == "queued"
    finally:
        stack.emulator.come_up()
    browser = proxy.browser()
    before = len(proxy.deployed.seen)
    forged = browser.post(f"{proxy.base}/orders/WEB-PROXY-0001/resend", data={"csrf": "forged"}, timeout=30)
    assert forged.status_code == 403 and "CSRF" in forged.text
    bare = browser.post(f"{proxy.base}/jobs/fetch-stock-level/run", timeout=30)
    assert bare.status_code == 403
    assert len(proxy.deployed.seen) == before  # refused here: never signed, never sent

    page = browser.get(f"{proxy.base}/orders/WEB-PROXY-0001", timeout=30)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert csrf, page.text
    resent = browser.post(
        f"{proxy.base}/orders/WEB-PROXY-0001/resend",
        data={"csrf": csrf[1]},
        allow_redirects=False,
        timeout=60,
    )
    assert resent.status_code == 303 and resent.headers["Location"].startswith("/orders/WEB-PROXY-0001?")
    shown = browser.get(f"{proxy.base}{resent.headers['Location']}", timeout=30)
    assert shown.status_code == 200 and "created" in shown.text
    timeline = browser.get(f"{proxy.base}/api/orders/WEB-PROXY-0001", timeout=30).json()["timeline"]
    assert any(e["trigger"] == "operator" and ALICE.principal in (e["erp_message"] or "") for e in timeline)

    run = browser.post(
        f"{proxy.base}/jobs/fetch-stock-level/run", data={"csrf": csrf[1]}, allow_redirects=False, timeout=60
    )
    assert run.status_code == 303 and run.headers["Location"].startswith("/runs/")
    run_id = run.headers["Location"].rpartition("/")[2]
    assert stack_run_requested_by(browser, proxy, run_id) == ALICE.principal


def stack_run_requested_by(browser: requests.Session, proxy: Proxy, run_id: str) -> str:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = browser.get(f"{proxy.base}/api/runs/{run_id}", timeout=30)
        if answer.status_code == 200:
            return str(answer.json()["requested_by"])
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} was never recorded")


def test_missing_or_refused_credentials_exit_2_with_what_to_run(deployed: Deployed) -> None:
    env = operator_env(deployed)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        del env[name]
    missing = start_console(deployed, env)
    out, err = missing.communicate(timeout=120)
    assert missing.returncode == 2 and "aws sso login" in err and "operator console" not in out

    expired = FakeKey(ALICE.access_key, ALICE.secret_key, "an-expired-session-token", ALICE.principal)
    refused = start_console(deployed, operator_env(deployed, expired))
    out, err = refused.communicate(timeout=120)
    assert (
        refused.returncode == 2 and "403" in err and "aws sso login" in err and "operator console" not in out
    )
    assert os.listdir(deployed.project) == []
