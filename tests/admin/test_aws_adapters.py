"""The admin API's AWS side (moto): Run now of a long_running job starts the long-run workflow, the
jobs' enabled is their Scheduler schedule's State (and can be switched, with who did it), the ERP
latency of the last hour is the live function's CloudWatch metric, a redrive is in its run."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from console_support import OPERATOR, ConsoleStack
from moto import mock_aws

from erpbridge.adapters.aws.cloudwatch_latency import CloudWatchLatencyLog
from erpbridge.adapters.aws.scheduler_states import SchedulerStates
from erpbridge.live.errors import NotFoundError

ROLE = "arn:aws:iam::123456789012:role/erpbridge-test-FetchJobFunctionFetchStockLevelRole-X"
ALICE = "arn:aws:sts::123456789012:assumed-role/Operators/alice"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def _workflow() -> str:
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    machine = boto3.client("stepfunctions").create_state_machine(
        name="LongRunWorkflow", definition=json.dumps(definition), roleArn=ROLE
    )
    return str(machine["stateMachineArn"])


def _schedule(name: str, state: str = "ENABLED") -> None:
    boto3.client("scheduler").create_schedule(
        Name=name,
        ScheduleExpression="rate(15 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": "arn:aws:lambda:eu-west-1:123456789012:function:fetch",
            "RoleArn": ROLE,
            "Input": "{}",
        },
        State=state,
        Description="fetch-stock-level (mappings/fetch-stock-level.yaml)",
    )


def test_run_now_of_a_long_running_job_starts_the_workflow_not_the_fetch_function(
    stack: ConsoleStack, aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from erpbridge.settings import get_settings
    from erpbridge.wiring.admin import build_admin

    arn = _workflow()
    # No such function in this account: invoking it would fail the Run now.
    monkeypatch.setenv("ERPBRIDGE_FETCH_FUNCTION", "erpbridge-test-FetchJobFunction-none")
    monkeypatch.setenv("ERPBRIDGE_ADMIN_WORKFLOW_ARN", arn)
    get_settings.cache_clear()
    try:
        admin = build_admin(stack.services)
        run_id = admin.run_now("fetch-shop-data", {}, operator=ALICE)
    finally:
        get_settings.cache_clear()
    sfn = boto3.client("stepfunctions")
    [execution] = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert execution["name"] == run_id
    started = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert started == {
        "job": "fetch-shop-data",
        "parameters": {},
        "trigger": "manual",
        "run_id": run_id,
        "requested_by": ALICE,
    }


def test_enabled_is_the_schedule_state_and_switching_it_records_who(
    stack: ConsoleStack, aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from erpbridge.settings import get_settings
    from erpbridge.wiring.admin import build_admin

    _schedule("erpbridge-test-fetch-stock-level")
    _schedule("erpbridge-test-fetch-prices", state="DISABLED")
    monkeypatch.setenv("ERPBRIDGE_ADMIN_SCHEDULE_PREFIX", "erpbridge-test-")
    get_settings.cache_clear()
    try:
        admin = build_admin(stack.services)
        enabled = {view.job.id: view.enabled for view in admin.jobs()}
        assert enabled["fetch-stock-level"] is True and enabled["fetch-prices"] is False
        assert enabled["fetch-shop-data"] is False  # no schedule of that name in this account
        assert admin.job("fetch-prices").next_run is None  # a switched-off schedule fires never
        after = admin.set_enabled("fetch-stock-level", False, operator=ALICE)
        import admin_routes

        admin_routes.use_admin(admin)  # the console's jobs page over these schedules
        page = stack.api("GET", "/jobs").text
    finally:
        get_settings.cache_clear()
    assert after.enabled is False
    row = page.split('data-job="fetch-stock-level"')[1].split("</tr>")[0]
    assert "rate(15 minutes)" in row and "switched off" in row
    schedule = boto3.client("scheduler").get_schedule(Name="erpbridge-test-fetch-stock-level")
    assert schedule["State"] == "DISABLED" and schedule["ScheduleExpression"] == "rate(15 minutes)"
    assert schedule["Target"]["RoleArn"] == ROLE  # the rest of the schedule is as it was
    assert f"disabled by {ALICE} at " in schedule["Description"]
    assert schedule["Description"].startswith("fetch-stock-level (mappings/")
    with pytest.raises(NotFoundError):
        SchedulerStates("erpbridge-test-").set_enabled("fetch-shop-data", True, operator=ALICE)


def test_locally_a_schedule_is_the_job_files_and_cannot_be_switched(stack: ConsoleStack) -> None:
    jobs = {j["job"]: j for j in stack.api("GET", "/api/jobs").json()["jobs"]}
    assert jobs["fetch-stock-level"]["enabled"] is True
    refused = stack.api("POST", "/api/jobs/fetch-stock-level/schedule", json={"enabled": False})
    assert refused.status_code == 409 and "job file" in refused.json()["message"]


def test_erp_latency_of_the_last_hour_is_the_live_functions_metric_of_this_stage(aws: None) -> None:
    cloudwatch = boto3.client("cloudwatch")
    now = datetime.now(UTC)

    def publish(namespace: str, value: float, at: datetime, service: str = "erpbridge") -> None:
        cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": "ErpLatency",
                    "Dimensions": [{"Name": "service", "Value": service}],
                    "Value": value,
                    "Unit": "Milliseconds",
                    "Timestamp": at,
                }
            ],
        )

    for value in (120.0, 480.0, 95.0):
        publish("erpbridge/prod", value, now - timedelta(minutes=10))
    # (moto drops the namespace filter once dimensions are given: another stage's figures are
    # left out by the namespace in AWS, untestable here; another service's by the dimension.)
    publish("erpbridge/prod", 9000.0, now - timedelta(minutes=5), service="another")
    publish("erpbridge/prod", 7000.0, now - timedelta(hours=3))  # too old
    # moto computes no percentiles (p50, p95 are asked for in AWS): count and maximum only here.
    summary = CloudWatchLatencyLog("erpbridge/prod", percentiles=()).summary(since=now - timedelta(hours=1))
    assert summary.calls == 3 and summary.max_ms == 480.0
    assert summary.source == "CloudWatch erpbridge/prod ErpLatency"
    quiet = CloudWatchLatencyLog("erpbridge/prod", "quiet", percentiles=()).summary(
        since=now - timedelta(hours=1)
    )
    assert quiet.calls == 0 and quiet.max_ms is None


def test_a_redrive_is_recorded_in_its_run_with_who_and_when(stack: ConsoleStack) -> None:
    from erpbridge.batch.models import RunRecord, Trigger
    from erpbridge.settings import get_settings
    from erpbridge.wiring.batch import runtime_from_settings

    runtime = runtime_from_settings(get_settings())
    run = RunRecord(
        job="fetch-stock-level",
        run_id="20261202T0900Z-r1",
        trigger=Trigger.SCHEDULE,
        started_at=datetime.now(UTC),
    )
    runtime.runs.create(run, stale_before=datetime.now(UTC))
    key = f"failed/fetch-stock-level/{run.run_id}/page-0001.xml"
    runtime.store().put_bytes(key, b"<broken", content_type="application/xml")
    before = datetime.now(UTC).replace(microsecond=0)
    assert stack.api("POST", "/api/failed-files/redrive", json={"key": key}).status_code == 202
    deadline = time.monotonic() + 20
    shown: dict[str, Any] = {}
    while time.monotonic() < deadline and not shown.get("actions"):
        shown = stack.api("GET", f"/api/runs/{run.run_id}").json()
        time.sleep(0.2)
    [action] = shown["actions"]
    assert action["action"] == "redrive" and action["by"] == OPERATOR
    assert datetime.fromisoformat(action["at"]) >= before and key in action["detail"]
    page = stack.api("GET", f"/runs/{run.run_id}").text  # the run page lists it too
    assert f"redrive by {OPERATOR}" in page.split('id="actions"')[1]
