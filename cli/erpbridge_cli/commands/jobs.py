"""`erpbridge jobs list`, `erpbridge jobs run JOB [--wait]` and `erpbridge jobs schedule JOB --on|--off`.

In AWS mode (:mod:`erpbridge_cli.admin_client`: ``--admin-url``, ``$ERPBRIDGE_ADMIN_URL`` or a
stack) the jobs come from the admin API (enabled: their schedule's State), a run is its Run now
(a ``long_running`` job starts the long-run workflow there) and ``--wait`` follows the run
through the API; ``schedule`` switches a job's EventBridge Scheduler schedule.

In AWS (``ERPBRIDGE_FETCH_FUNCTION`` or ``--function`` names the deployed fetch function) a run
invokes that function through the Lambda API. Without it the job runs here, against the local
stack: the fetch, then the import of every staged page (what the S3 event does in AWS), so a
local run is always waited for. A ``long_running`` job runs the long-run workflow's steps in
order (:func:`erpbridge.batch.workflow.run_workflow`), as Step Functions does in AWS.

``export-failed-orders`` is the live area's Export Failed Orders task, listed and run here too:
in AWS it invokes its own function (``ERPBRIDGE_EXPORT_FUNCTION`` or ``--export-function``),
locally it runs the use case in this process, as ``erpbridge orders export`` does.

``price-audit`` (the golden-price audit, no job file either) is listed last with its last run;
it is run with ``erpbridge audit prices``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from erpbridge.batch.fetch import FetchResult
from erpbridge.batch.jobs import BatchJob, list_batch_jobs, load_batch_job
from erpbridge.batch.models import RunRecord, RunStatus, Trigger
from erpbridge.batch.price_audit import JOB as PRICE_AUDIT
from erpbridge.batch.price_audit import SCHEDULE as AUDIT_SCHEDULE
from erpbridge.batch.price_audit import last_run_summary
from erpbridge.batch.workflow import run_workflow
from erpbridge.errors import ConfigurationError, ErpBridgeError
from erpbridge.wiring.batch import BatchRuntime
from erpbridge_cli.admin_client import AdminApiClient, admin_api
from erpbridge_cli.commands._batch_common import (
    EXPORT_FAILED_ORDERS,
    JobArgument,
    JsonOption,
    column,
    command_group,
    console,
    fail,
    invoke_function,
    known_job,
    mappings_folder,
    print_json,
    run_recorder,
    runs_table,
    runtime,
    shop_database,
    table,
)

jobs_app = command_group("Batch jobs (the project's mappings/*.yaml): list them, run one now.")

EXPORT_SCHEDULE = "rate(5 minutes)"  # template.yaml ExportFailedOrdersFunction (a test keeps them equal)
EXPORT_PARAMETERS: dict[str, type[float] | type[int]] = {"older_than_s": float, "limit": int}

_FINAL_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FINALISED, RunStatus.FAILED)

MappingsOption = Annotated[
    Path | None,
    typer.Option(
        "--mappings", help="job files folder (default: the project's mappings/)", show_default=False
    ),
]


def _job_rows(jobs: list[BatchJob]) -> list[dict[str, Any]]:
    """One row per job and per extra schedule (the same job for another shop), then the export."""
    rows = []
    for job in jobs:
        erp = job.erp_endpoint
        rows.append(
            _job_row(
                job.id,
                job.description,
                job.fetch.schedule,
                job.fetch.schedule_timezone,
                dict(job.fetch.parameters),
                erp,
                enabled=bool(job.fetch.schedule),
            )
        )
        for extra in job.fetch.schedules:
            rows.append(
                {
                    "job": job.id,
                    "description": f"schedule {extra.name}",
                    "schedule": f"{extra.schedule} ({extra.schedule_timezone})",
                    "parameters": dict(job.parameters(extra.parameters)),
                    "erp": erp,
                    "enabled": True,
                }
            )
    return [*rows, _export_row()]


def _job_row(
    job: str,
    description: str,
    schedule: str | None,
    timezone: str,
    parameters: dict[str, str],
    erp: str,
    *,
    enabled: bool,
) -> dict[str, Any]:
    return {
        "job": job,
        "description": description,
        "schedule": f"{schedule} ({timezone})" if schedule else None,
        "parameters": parameters,
        "erp": erp,
        "enabled": enabled,
    }


def _export_row() -> dict[str, Any]:
    return {
        "job": EXPORT_FAILED_ORDERS,
        "description": "Export Failed Orders: send the orders the live API could not deliver (live area)",
        "schedule": f"{EXPORT_SCHEDULE} (UTC)",
        "parameters": {name: "(default from the settings)" for name in EXPORT_PARAMETERS},
        "erp": "live settings",
        "enabled": True,
    }


def _audit_row(remote: AdminApiClient | None) -> dict[str, Any]:
    """The price audit, with its last run (from the runs table, or the admin API's)."""
    try:
        runs = (
            remote.runs(job=PRICE_AUDIT, limit=1)
            if remote is not None
            else run_recorder().list_runs(job=PRICE_AUDIT, limit=1)
        )
    except ErpBridgeError as error:  # the jobs are listed all the same
        last, summary = None, f"last run unknown: {error}"
    else:
        last = runs[0] if runs else None
        summary = last_run_summary(last)
    return {
        "job": PRICE_AUDIT,
        "description": f"Golden-price audit (erpbridge audit prices); {summary}",
        "schedule": f"{AUDIT_SCHEDULE} (UTC)",
        "parameters": {"sample": "(ERPBRIDGE_PRICE_AUDIT_SAMPLE, per shop)", "shop": "(every shop)"},
        "erp": "each shop's endpoint",
        "enabled": True,
        "last_run": last.as_dict() if last is not None else None,
    }


def _remote_job_rows(remote: AdminApiClient) -> list[dict[str, Any]]:
    """The deployed jobs (admin API): enabled is their schedule's State."""
    rows = [
        _job_row(
            job["job"],
            job["description"],
            job["schedule"],
            job["schedule_timezone"],
            dict(job["parameters"]),
            job["erp"],
            enabled=bool(job["enabled"]),
        )
        for job in remote.jobs()
    ]
    return [*rows, _export_row()]


@jobs_app.command("list")
def list_jobs(mappings: MappingsOption = None, as_json: JsonOption = False) -> None:
    """Every job with its request parameters and schedule (in AWS mode: whether it is on)."""
    remote = admin_api()
    rows = _remote_job_rows(remote) if remote is not None else _local_job_rows(mappings)
    rows.append(_audit_row(remote))
    if as_json:
        print_json(rows)
        return
    listed = table("batch jobs")
    column(listed, "job", no_wrap=True, min_width=max(len(row["job"]) for row in rows))
    for name in ("description", "schedule", "parameters", "ERP"):
        column(listed, name)
    for row in rows:
        listed.add_row(
            row["job"],
            row["description"],
            (row["schedule"] or "-") + ("" if row["enabled"] or not row["schedule"] else " — off"),
            ", ".join(f"{k}={v}" for k, v in row["parameters"].items()) or "-",
            row["erp"],
        )
    console.print(listed)


def _local_job_rows(mappings: Path | None) -> list[dict[str, Any]]:
    folder = mappings_folder(mappings)
    try:
        jobs = list_batch_jobs(folder)
    except ErpBridgeError as error:
        raise fail(str(error), 2) from None
    if not jobs:
        raise fail(f"no job files in {folder} (mappings/*.yaml with a fetch section)", 2)
    return _job_rows(jobs)


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
    job: JobArgument,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="in AWS: wait until the run is fetched and imported (a local run always is)",
        ),
    ] = False,
    param: Annotated[list[str], typer.Option("--param", help="override a request parameter NAME=VALUE")] = [],  # noqa: B006
    function: Annotated[
        str | None,
        typer.Option("--function", envvar="ERPBRIDGE_FETCH_FUNCTION", help="deployed fetch function"),
    ] = None,
    export_function: Annotated[
        str | None,
        typer.Option(
            "--export-function",
            envvar="ERPBRIDGE_EXPORT_FUNCTION",
            help="deployed Export Failed Orders function",
        ),
    ] = None,
    timeout: Annotated[int, typer.Option(help="seconds --wait waits at most")] = 1800,
    mappings: MappingsOption = None,
) -> None:
    """Run JOB now (AWS mode: the admin API's Run now; with --function: invoke the fetch function;
    locally: fetch and import here)."""
    parameters = _parse_parameters(param)
    remote = admin_api()
    if remote is not None and job != EXPORT_FAILED_ORDERS:
        _run_through_admin_api(remote, job, parameters, wait=wait, timeout=timeout)
        return
    if remote is not None and not export_function:
        raise fail(
            f"{EXPORT_FAILED_ORDERS} is not a job of the admin API: set ERPBRIDGE_EXPORT_FUNCTION "
            "(stack output ExportFailedOrdersFunctionName) or --export-function",
            2,
        )
    known_job(job, mappings, extra=(EXPORT_FAILED_ORDERS,))
    if job == EXPORT_FAILED_ORDERS:
        _export_failed_orders(parameters, export_function, in_aws=bool(function), wait=wait)
        return
    if function:
        _run_in_aws(function, job, parameters, wait=wait, timeout=timeout)
        return
    _run_locally(job, parameters, mappings)


def _run_locally(job: str, parameters: dict[str, str], mappings: Path | None) -> None:
    try:  # a job with an endpoint of its own checks its settings when it runs
        own_endpoint = load_batch_job(job, mappings_folder(mappings)).fetch.erp is not None
    except ErpBridgeError as error:
        raise fail(str(error), 2) from None
    batch = runtime(mappings, needs_erp=not own_endpoint, what=f"jobs run {job}")
    shop_database(batch.settings.database_url)
    try:
        long_running = batch.job(job).long_running
    except ErpBridgeError as error:
        raise fail(f"{type(error).__name__}: {error}") from None
    if long_running:
        _run_workflow_locally(batch, job, parameters)
        return
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


def _run_workflow_locally(batch: BatchRuntime, job: str, parameters: dict[str, str]) -> None:
    """A ``long_running`` job: the Step Functions workflow's states, in order, in this process."""
    try:
        with console.status(f"{job}: workflow (fetch page by page, import, finalise) …"):
            result = run_workflow(batch, job, Trigger.LOCAL, parameters=parameters)
    except ErpBridgeError as error:
        raise fail(f"{type(error).__name__}: {error}") from None
    if result.finalised is None:  # skipped: locked or a duplicate
        raise fail(result.reason or result.result)
    console.print(f"{job}: {result.pages} page(s) → run {result.run_id}, {result.result}")
    record = batch.runs.get(result.run_id, job=job)
    if record is not None:
        console.print(runs_table([record], f"run {record.run_id}"))
        if record.status is RunStatus.FAILED:
            raise typer.Exit(1)


def _export_failed_orders(
    parameters: dict[str, str], function: str | None, *, in_aws: bool, wait: bool
) -> None:
    event: dict[str, Any] = {}
    for name, text in parameters.items():
        if name not in EXPORT_PARAMETERS:
            raise fail(f"--param {name}: {EXPORT_FAILED_ORDERS} takes {', '.join(EXPORT_PARAMETERS)}", 2)
        try:
            event[name] = EXPORT_PARAMETERS[name](text)
        except ValueError:
            raise fail(f"--param {name}={text!r}: not a number", 2) from None
    if function:
        body = invoke_function(function, EXPORT_FAILED_ORDERS, event, wait=wait)
        if body is None:
            console.print(f"started {EXPORT_FAILED_ORDERS} on {function}")
        else:
            console.print(
                f"picked {body.get('picked')}: created {body.get('created')}, queued {body.get('queued')}, "
                f"unknown {body.get('unknown')}, dead-lettered {body.get('dead_lettered')}, "
                f"rejected {body.get('rejected')}"
            )
        return
    if in_aws:  # the fetch function is named but this task runs in a function of its own
        raise fail(
            f"{EXPORT_FAILED_ORDERS} runs in its own function: set ERPBRIDGE_EXPORT_FUNCTION "
            "(stack output ExportFailedOrdersFunctionName) or --export-function",
            2,
        )
    from erpbridge_cli.commands.live import export_failed_orders_here

    try:
        with console.status(f"{EXPORT_FAILED_ORDERS} …"):
            export_failed_orders_here(**event)
    except ConfigurationError as error:
        raise fail(str(error), 2) from None
    except ErpBridgeError as error:
        raise fail(f"{type(error).__name__}: {error}") from None


def _run_through_admin_api(
    remote: AdminApiClient, job: str, parameters: dict[str, str], *, wait: bool, timeout: int
) -> None:
    started = remote.run_now(job, parameters)
    run_id = str(started["run_id"])
    console.print(f"started {job}: run {run_id}, requested by {started.get('requested_by')}", soft_wrap=True)
    if not wait:
        console.print(f"follow it with `erpbridge runs show {run_id}`")
        return
    _wait_for(run_id, lambda: remote.find_run(run_id), timeout=timeout, poll_s=2)


def _wait_for(run_id: str, find: Callable[[], RunRecord | None], *, timeout: int, poll_s: float = 5) -> None:
    """Poll the run until it is final, print it; exit 1 when it failed."""
    deadline = time.monotonic() + timeout
    with console.status(f"run {run_id}: waiting for the fetch and the imports …"):
        while True:
            record = find()
            if record is not None and record.status in _FINAL_STATUSES:
                break
            if time.monotonic() > deadline:
                raise fail(f"run {run_id} still {record.status if record else 'unknown'} after {timeout}s")
            time.sleep(poll_s)
    console.print(runs_table([record], f"run {run_id}"))
    if record.status is RunStatus.FAILED:
        raise typer.Exit(1)


def _run_in_aws(function: str, job: str, parameters: dict[str, str], *, wait: bool, timeout: int) -> None:
    event = {"job": job, "parameters": parameters, "trigger": str(Trigger.MANUAL)}
    body = invoke_function(function, job, event, wait=wait)
    if body is None:
        console.print(f"started {job} on {function}; follow it with `erpbridge runs list --job {job}`")
        return
    if body.get("result") != str(FetchResult.FETCHED):
        raise fail(body.get("reason") or f"{job}: {body.get('result')}")
    run_id = str(body["run_id"])
    runs = run_recorder()
    _wait_for(run_id, lambda: runs.get(run_id, job=job), timeout=timeout)


@jobs_app.command("schedule")
def schedule(
    job: JobArgument,
    on: Annotated[bool, typer.Option("--on/--off", help="switch the job's schedule on or off")],
    as_json: JsonOption = False,
) -> None:
    """Switch JOB's schedule on or off (AWS mode: its EventBridge Scheduler schedule, recorded with
    who did it; locally a job's schedule is its job file's)."""
    remote = admin_api()
    if remote is None:
        raise fail(
            "schedules are switched in AWS: name the stack (--admin-url, ERPBRIDGE_ADMIN_URL or "
            "--stack); locally, edit the schedule in the job file",
            2,
        )
    answer = remote.set_schedule(job, on)
    if as_json:
        print_json(answer)
        return
    console.print(f"{job}: schedule {'on' if answer['enabled'] else 'off'}")


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")
