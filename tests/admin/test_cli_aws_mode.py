"""The CLI's AWS mode: `erpbridge … ` against a deployed stack's admin API, with AWS credentials only.

The admin function runs in IAM mode behind a stand-in for API Gateway's AWS_IAM authoriser
(``iam_gateway``: it recomputes each request's SigV4 signature with the fake key's secret and
hands the principal to the handler), over the BC emulator and SQLite, in this process. The CLI
runs in a process of its own whose environment holds nothing but the API's URL and fake AWS
credentials: no database, ERP, secrets or job files. Its project folder stays empty (no shop
database or runs file was ever created), and every action is recorded under the signing principal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from aws_deployed import ALICE, Deployed, operator_cli
from iam_gateway import FakeKey


def test_the_client_signs_with_sigv4_for_execute_api_and_sends_the_session_token() -> None:
    from botocore.credentials import Credentials

    from erpbridge_cli.admin_client import AdminApiClient

    client = AdminApiClient(
        "https://abc123defg.execute-api.eu-central-1.amazonaws.com/prod/",
        credentials=Credentials("AKIDEXAMPLE", "secret-example", "token-example"),
    )
    request = client.signed("POST", "/api/orders/WEB-1/resend", body={})
    headers = dict(request.headers.items())
    today = datetime.now(UTC).strftime("%Y%m%d")
    assert headers["Authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{today}/eu-central-1/execute-api/aws4_request, "
    )
    signed = headers["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-amz-date", "x-amz-security-token"} <= set(signed)
    assert headers["X-Amz-Date"].startswith(today) and headers["X-Amz-Security-Token"] == "token-example"
    assert (
        request.url
        == "https://abc123defg.execute-api.eu-central-1.amazonaws.com/prod/api/orders/WEB-1/resend"
    )


def test_orders_are_listed_shown_and_resent_with_aws_credentials_only(deployed: Deployed) -> None:
    stack = deployed.stack
    stack.emulator.go_down()
    try:
        assert stack.place_order("WEB-AWS-0001").json()["status"] == "queued"
    finally:
        stack.emulator.come_up()

    listed = operator_cli(deployed, "orders", "list", "--state", "queued", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [o["order_id"] for o in json.loads(listed.stdout)] == ["WEB-AWS-0001"]

    resent = operator_cli(deployed, "orders", "resend", "WEB-AWS-0001")
    assert resent.returncode == 0, resent.stderr
    assert "order WEB-AWS-0001: created" in resent.stdout

    shown = operator_cli(deployed, "orders", "show", "WEB-AWS-0001", "--json")
    timeline = json.loads(shown.stdout)["timeline"]
    assert any(
        e["trigger"] == "operator" and ALICE.principal in (e["erp_message"] or "") for e in timeline
    ), timeline
    assert json.loads(shown.stdout)["status"] == "created"

    missing = operator_cli(deployed, "orders", "show", "WEB-NO-SUCH")
    assert missing.returncode == 2 and "404" in missing.stderr

    every = deployed.seen
    assert every and all(h["Authorization"].startswith("AWS4-HMAC-SHA256 ") for h in every)
    assert {h["X-Amz-Security-Token"] for h in every} == {ALICE.session_token}
    assert list(deployed.project.iterdir()) == []  # no shop database, no runs file, no state


def test_jobs_run_wait_runs_and_mappings_and_health_through_the_api(deployed: Deployed) -> None:
    jobs = operator_cli(deployed, "jobs", "list", "--json")
    assert jobs.returncode == 0, jobs.stderr
    rows = {row["job"]: row for row in json.loads(jobs.stdout)}
    assert rows["fetch-stock-level"]["enabled"] is True and "export-failed-orders" in rows

    run = operator_cli(deployed, "jobs", "run", "fetch-stock-level", "--wait", "--timeout", "60")
    assert run.returncode == 0, run.stderr
    assert f"requested by {ALICE.principal}" in run.stdout and "succeeded" in run.stdout

    runs = operator_cli(deployed, "runs", "list", "--job", "fetch-stock-level", "--json")
    [record] = json.loads(runs.stdout)
    assert record["requested_by"] == ALICE.principal and record["status"] == "succeeded"
    shown = operator_cli(deployed, "runs", "show", record["run_id"])
    assert shown.returncode == 0 and "manual by" in shown.stdout and "Operators/alice" in shown.stdout

    unknown = operator_cli(deployed, "jobs", "run", "fetch-stock-level", "--param", "nope=1")
    assert unknown.returncode == 2 and "nope" in unknown.stderr

    mapping = operator_cli(deployed, "mappings", "show", "fetch-shop-data", "--json")
    assert mapping.returncode == 0, mapping.stderr
    tables = {m["source"]: m for m in json.loads(mapping.stdout)["mappings"]}
    currency = {c["destination"]: c for c in tables["EcomCurrencies"]["columns"]}
    assert currency["CurrencyLanguageId"]["how"] in ("constant", "language")
    checked = operator_cli(deployed, "mappings", "check", "fetch-shop-data")
    assert checked.returncode == 0 and "fetch-shop-data: no problems" in checked.stdout

    health = operator_cli(deployed, "health", "--json")
    assert health.returncode == 0, health.stderr
    answer = json.loads(health.stdout)
    assert answer["erp_reachable"] is True and answer["latency_last_hour"]["source"] == "this process"
    assert list(deployed.project.iterdir()) == []


def test_a_wrong_secret_or_no_operator_is_refused_and_exits_2(deployed: Deployed) -> None:
    forged = FakeKey(ALICE.access_key, "not-alices-secret", ALICE.session_token, ALICE.principal)
    refused = operator_cli(deployed, "runs", "list", key=forged)
    assert refused.returncode == 2 and "403" in refused.stderr and "signature" in refused.stderr
    local = subprocess.run(
        [sys.executable, "-m", "erpbridge_cli.main", "jobs", "schedule", "fetch-stock-level", "--off"],
        cwd=deployed.project,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(deployed.project)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert local.returncode == 2 and "schedules are switched in AWS" in local.stderr


def test_a_stack_name_resolves_to_its_admin_api_url_and_region(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    import typer
    from moto import mock_aws

    from erpbridge_cli.admin_client import admin_api, region_of, stack_admin_url

    url = "https://abc123defg.execute-api.eu-central-1.amazonaws.com/prod/"
    template = {
        "Resources": {"Alarms": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"AdminApiUrl": {"Value": url}},
    }
    monkeypatch.delenv("ERPBRIDGE_ADMIN_URL", raising=False)
    monkeypatch.setenv("ERPBRIDGE_STACK", "erpbridge-prod")
    with mock_aws():
        boto3.client("cloudformation").create_stack(
            StackName="erpbridge-prod", TemplateBody=json.dumps(template)
        )
        client = admin_api()
        assert client is not None and client.base_url == url.rstrip("/")
        assert region_of(client.base_url) == "eu-central-1"
        with pytest.raises(typer.Exit) as missing:
            stack_admin_url("no-such-stack")
    assert missing.value.exit_code == 2
    monkeypatch.delenv("ERPBRIDGE_STACK")
    assert admin_api() is None  # nothing named: local mode
