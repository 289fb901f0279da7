"""`erpbridge jobs list` and `erpbridge jobs run JOB [--wait]`.

In AWS (``ERPBRIDGE_FETCH_FUNCTION`` or ``--function`` names the deployed fetch function) a run
invokes that function through the Lambda API, exactly as the schedule does. Without it the job
runs here, against the local stack: the fetch, then the import of every staged page (what the
S3 event does in AWS), so a local run is always waited for.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from erpbridge.batch.fetch import FetchResult
from erpbridge.batch.jobs import list_batch_jobs
from erpbridge.batch.models import RunStatus, Trigger
from erpbridge.errors import ErpBridgeError
from erpbridge_cli.commands._batch_common import console, fail, run_recorder, runs_table, runtime

jobs_app = typer.Typer(help="Batch jobs (mappings/*.yaml): list them, run one now.", no_args_is_help=True)

MappingsOption = Annotated[
    Path | None, typer.Option("--mappings", help="job files folder (default ./mappings)")
]


@jobs_app.command("list")
def list_jobs(mappings: MappingsOption = None) -> None:
    """Every job with its request parameters and schedule."""
    try:
        jobs = list_batch_jobs(mappings)
    except ErpBridgeError as error:
        raise fail(str(error), 2) from None
    table = Table(title="batch jobs")
    for column in ("job", "description", "schedule", "parameters", "ERP"):
        table.add_column(column)
    for job in jobs:
        table.add_row(
            job.id,
            job.description,
            f"{job.fetch.schedule} ({job.fetch.schedule_timezone})" if job.fetch.schedule else "-",
            ", ".join(f"{k}={v}" for k, v in job.fetch.parameters.items()) or "-",
            "own endpoint" if job.fetch.erp else "live settings",
        )
    console.print(table)


def _parse_parameters(values: list[str]) -> dict[str, str]:
    parameters = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise fail(f"--param {value!r}: use NAME=VALUE", 2)
        parameters[name] = text
    return parameters


@jobs_app.command("run")
def run_job(
    job: Annotated[str, typer.Argument(help="job id, e.g. fetch-shop-data")],
    wait: Annotated[bool, typer.Option("--wait", help="wait until the run is fetched and imported")] = False,
    param: Annotated[list[str], typer.Option("--param", help="override a request parameter NAME=VALUE")] = [],  # noqa: B006
    function: Annotated[
        str | None,
        typer.Option("--function", envvar="ERPBRIDGE_FETCH_FUNCTION", help="deployed fetch function"),
    ] = None,
    timeout: Annotated[int, typer.Option(help="seconds --wait waits at most")] = 1800,
    mappings: MappingsOption = None,
) -> None:
    """Run JOB now (in AWS: invoke the fetch function; locally: fetch and import here)."""
    parameters = _parse_parameters(param)
    if function:
        _run_in_aws(function, job, parameters, wait=wait, timeout=timeout)
        return
    _run_locally(job, parameters, mappings)


def _run_locally(job: str, parameters: dict[str, str], mappings: Path | None) -> None:
    batch = runtime(mappings, needs_erp=True)
    try:
        with console.status(f"fetching {job} …"):
            outcome = batch.fetch(job, Trigger.LOCAL, parameters=parameters)
        if outcome.result is not FetchResult.FETCHED:
            raise fail(outcome.reason or str(outcome.result))
        console.print(f"fetched {outcome.pages} page(s), {outcome.bytes:,} bytes → run {outcome.run_id}")
        store = batch.store()
        for key in outcome.keys:
            info = store.head(key)
            with console.status(f"importing {key} …"):
                result = batch.import_object(store.bucket, key, etag=info.etag if info else None)
            console.print(f"{key}: {result.result}" + (f" ({result.error})" if result.error else ""))
    except ErpBridgeError as error:
        raise fail(f"{type(error).__name__}: {error}") from None
    record = batch.runs.get(outcome.run_id, job=job)
    if record is not None:
        console.print(runs_table([record], f"run {record.run_id}"))
        if record.status is RunStatus.FAILED:
            raise typer.Exit(1)


def _run_in_aws(function: str, job: str, parameters: dict[str, str], *, wait: bool, timeout: int) -> None:
    import boto3

    client = boto3.client("lambda")
    payload = json.dumps({"job": job, "parameters": parameters, "trigger": str(Trigger.MANUAL)}).encode()
    if not wait:
        client.invoke(FunctionName=function, InvocationType="Event", Payload=payload)
        console.print(f"started {job} on {function}; follow it with `erpbridge runs list --job {job}`")
        return
    answer = client.invoke(FunctionName=function, InvocationType="RequestResponse", Payload=payload)
    body = json.loads(answer["Payload"].read() or b"{}")
    if answer.get("FunctionError"):
        raise fail(f"{job} failed: {body.get('errorType', 'error')}: {body.get('errorMessage', body)}")
    if body.get("result") != str(FetchResult.FETCHED):
        raise fail(body.get("reason") or f"{job}: {body.get('result')}")
    run_id = str(body["run_id"])
    runs = run_recorder()
    deadline = time.monotonic() + timeout
    with console.status(f"run {run_id}: waiting for the imports …"):
        while True:
            record = runs.get(run_id, job=job)
            if record is not None and record.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
                break
            if time.monotonic() > deadline:
                raise fail(f"run {run_id} still {record.status if record else 'unknown'} after {timeout}s")
            time.sleep(5)
    console.print(runs_table([record], f"run {run_id}"))
    if record.status is RunStatus.FAILED:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")
