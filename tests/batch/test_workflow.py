"""The long-run workflow: its definition in template.yaml (offline), each state's handler called
directly as Step Functions calls it (emulator over HTTP, S3 + DynamoDB on moto, SQLite and
PostgreSQL), and the local runner `erpbridge jobs run` and `make run` use."""

from __future__ import annotations

from typing import Any

import pytest
from batch_support import ROOT, template_resources
from test_end_to_end import Batch
from test_end_to_end import batch as end_to_end_batch
from test_paged_finalise import GONE, PAGED, _active, _drop_from_erp

from erpbridge.batch.jobs import list_batch_jobs
from erpbridge.batch.models import FetchStatus, RunStatus, Trigger
from erpbridge.batch.workflow import RunBlockedError, run_workflow

batch = end_to_end_batch  # the end-to-end fixture, under its name


def _definition() -> dict[str, Any]:
    return dict(template_resources()["LongRunWorkflow"]["Properties"]["Definition"])


def _path(definition: dict[str, Any]) -> list[str]:
    """The states from StartAt along the success path (Choice: its default; a loop ends it)."""
    states, name, seen = definition["States"], definition["StartAt"], []
    while name and name not in seen:
        seen.append(name)
        state = states[name]
        if state["Type"] == "Choice":
            name = state["Choices"][0]["Next"] if name == "IsExportDone" else state["Default"]
        else:
            name = state.get("Next")
    return seen


def test_the_workflow_fetches_page_by_page_then_imports_then_finalises() -> None:
    definition = _definition()
    assert _path(definition) == [
        "Start", "WasStarted", "Started", "FetchPage", "IsExportDone", "ImportPages", "Finalise",
        "EndRun", "Done",
    ]  # fmt: skip
    states = definition["States"]
    # the loop: until the page says ExportIsDone, the next page
    assert states["IsExportDone"]["Default"] == "FetchPage"
    assert states["IsExportDone"]["Choices"][0]["Variable"] == "$.run.done"
    assert 1 <= states["ImportPages"]["MaxConcurrency"] <= 2
    assert states["ImportPages"]["ItemsPath"] == "$.run.keys"
    # every step that works retries with backoff and, failing, marks the run failed
    for name in ("FetchPage", "ImportPages", "Finalise"):
        assert states[name]["Catch"][0]["Next"] == "MarkFailed", name
    for name in ("Start", "FetchPage", "Finalise", "EndRun", "MarkFailed"):
        assert all(retry["BackoffRate"] > 1 for retry in states[name]["Retry"]), name
    inner = states["ImportPages"]["ItemProcessor"]["States"]["ImportPage"]
    assert "ImportLockedError" in inner["Retry"][0]["ErrorEquals"]
    assert any("RunNotReadyError" in retry["ErrorEquals"] for retry in states["Finalise"]["Retry"])
    assert states["MarkFailed"]["Parameters"]["Payload"]["step"] == "fail"
    assert states["MarkFailed"]["Next"] == "Failed" and states["Failed"]["Type"] == "Fail"


def test_the_workflow_is_standard_alarmed_and_started_by_the_long_jobs_schedules() -> None:
    resources = template_resources()
    machine = resources["LongRunWorkflow"]["Properties"]
    assert machine["Type"] == "STANDARD"
    alarm = resources["LongRunWorkflowFailedAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/States", "ExecutionsFailed")
    assert alarm["Dimensions"][0]["Value"] == {"Ref": "LongRunWorkflow"}
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    long_jobs = {job.id for job in list_batch_jobs(ROOT / "mappings") if job.long_running}
    assert "fetch-shop-data" in long_jobs
    on_workflow = {event["Properties"]["Description"].split()[0] for event in machine["Events"].values()}
    direct = {
        event["Properties"]["Description"].split()[0]
        for event in resources["FetchJobFunction"]["Properties"]["Events"].values()
    }
    assert on_workflow == long_jobs and not direct & long_jobs


def _steps(batch: Batch, job: str, parameters: dict[str, str]) -> dict[str, Any]:
    """What Step Functions does, state by state, through the functions' own handlers."""
    fetch, importer, context = batch.fetch_handler, batch.import_handler, batch.context
    started = fetch({"step": "start", "job": job, "parameters": parameters}, context)
    assert started["skipped"] is False, started
    state = {"run": started["run"]}
    fetched = 0
    while True:
        state = fetch({"step": "fetch_page", "run": state["run"]}, context)
        fetched += 1
        record = batch.run_record(state["run"]["run_id"])
        assert record.pages == fetched  # the checkpoint, page by page
        if state["run"]["done"]:
            break
        assert record.fetch_status is FetchStatus.RUNNING
    for key in state["run"]["keys"]:
        assert importer({"step": "import_page", "key": key}, context)["result"] == "imported"
    finalised = importer({"step": "finalise", "run": state["run"]}, context)
    fetch({"step": "end", "run": state["run"]}, context)
    return {"run": state["run"], "finalised": finalised}


def test_each_state_through_its_handler_deactivates_the_dropped_products_once(batch: Batch) -> None:
    batch.run("fetch-shop-data")
    _drop_from_erp(batch)
    done = _steps(batch, "fetch-shop-data", PAGED)
    assert done["run"]["pages"] > 2
    assert done["finalised"]["result"] == "finalised" and done["finalised"]["counts"]["deleted"] == len(GONE)
    assert _active(batch) == 0
    record = batch.run_record(done["run"]["run_id"])
    assert record.status is RunStatus.FINALISED and record.fetch_status is FetchStatus.FETCHED
    # finalising again (a Step Functions retry of the state) does nothing more
    again = batch.import_handler({"step": "finalise", "run": done["run"]}, batch.context)
    assert again["result"] == "already finalised"
    # the lock was released: the next run starts
    assert batch.fetch_handler({"step": "start", "job": "fetch-shop-data"}, batch.context)["skipped"] is False


def test_a_failing_page_goes_to_the_catch_which_fails_the_run_and_releases_the_lock(batch: Batch) -> None:
    from erpbridge.errors import ErpError

    fetch, context = batch.fetch_handler, batch.context
    started = fetch({"step": "start", "job": "fetch-shop-data", "parameters": PAGED}, context)
    state = fetch({"step": "fetch_page", "run": started["run"]}, context)
    batch.emulator.set_faults(truncated_rate=1.0, kinds=["batch_fetch"])
    with pytest.raises(ErpError) as raised:
        fetch({"step": "fetch_page", "run": state["run"]}, context)
    batch.emulator.set_faults(truncated_rate=0.0)
    # the Catch: {"Error": <the exception's type>, "Cause": …}
    error = {"Error": type(raised.value).__name__, "Cause": str(raised.value)}
    assert fetch({"step": "fail", "run": state["run"], "error": error}, context)["failed"] is True
    record = batch.run_record(state["run"]["run_id"])
    assert record.status is RunStatus.FAILED and type(raised.value).__name__ in (record.error or "")
    # a failed run is never finalised, and the lock is free for the next run
    with pytest.raises(RunBlockedError, match="fetch failed"):
        batch.import_handler({"step": "finalise", "run": state["run"]}, context)
    restarted = fetch({"step": "start", "job": "fetch-shop-data", "parameters": PAGED}, context)
    assert restarted["skipped"] is False


def test_a_step_a_function_does_not_run_is_refused(batch: Batch) -> None:
    from erpbridge.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="finalise"):
        batch.fetch_handler({"step": "finalise", "run": {}}, batch.context)


def test_the_local_runner_runs_the_same_steps_and_finalises(batch: Batch) -> None:
    from erpbridge.wiring.batch import batch_runtime

    batch.run("fetch-shop-data")
    _drop_from_erp(batch)
    result = run_workflow(batch_runtime(), "fetch-shop-data", Trigger.LOCAL, parameters=PAGED)
    assert result.pages > 2 and len(result.imports) == result.pages
    assert result.result == "finalised" and result.finalised is not None
    assert result.finalised.counts.deleted == len(GONE) and _active(batch) == 0
    assert batch.run_record(result.run_id).status is RunStatus.FINALISED
    # a second local run starts: the runner released the lock
    again = run_workflow(batch_runtime(), "fetch-shop-data", Trigger.LOCAL, parameters=PAGED)
    assert again.result == "finalised" and again.finalised is not None
    assert again.finalised.counts.deleted == 0  # nothing left to deactivate


def test_a_run_now_of_the_admin_api_starts_the_workflow_under_its_run_id_and_operator(batch: Batch) -> None:
    """The admin API answers Run now with a run id before the workflow starts: the start state
    records the run under that id, with the operator who asked."""
    operator = "arn:aws:sts::123456789012:assumed-role/Operators/alice"
    event = {
        "step": "start",
        "job": "fetch-shop-data",
        "trigger": "manual",
        "run_id": "20261202T101500000000Z-admin1",
        "requested_by": operator,
        "parameters": PAGED,
    }
    started = batch.fetch_handler(event, batch.context)
    assert started["skipped"] is False and started["run"]["run_id"] == "20261202T101500000000Z-admin1"
    batch.fetch_handler({"step": "end", "run": started["run"]}, batch.context)
    from erpbridge.adapters.aws.dynamodb_runs import DynamoDbRunRecorder

    record = DynamoDbRunRecorder(batch.aws.runs_table).get("20261202T101500000000Z-admin1")
    assert record is not None and record.requested_by == operator and str(record.trigger) == "manual"
