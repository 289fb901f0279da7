"""What the commands share: command groups, settings with or without the ERP, the shop database
(migrated when it is the project's own), job ids checked with a "did you mean", JSON and tables
that fold at 80 columns, the batch runtime (AWS or local, from the settings) and run tables.

Exit codes: 0 done; 1 the operation ran and failed; 2 bad arguments or settings, nothing was done.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from erpbridge.batch.models import RunRecord, RunStatus
from erpbridge.batch.ports import RunRecorder
from erpbridge.errors import ConfigurationError, ErpBridgeError
from erpbridge.settings import Settings, load_settings
from erpbridge.wiring.batch import BatchRuntime, runtime_from_settings

console = Console()
error_console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
EXPORT_FAILED_ORDERS = "export-failed-orders"  # the live area's task, listed and run with the jobs


def command_group(help: str, **options: Any) -> typer.Typer:
    """A command group as every erpbridge group is: help without arguments, plain help text (flags
    read ``--wait / --no-wait``, not ``--wait <bool>``), no tracebacks for expected errors."""
    options.setdefault("add_completion", False)
    return typer.Typer(
        help=help, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False, **options
    )


def table(title: str | None = None, **options: Any) -> Table:
    """A table that wraps long cells instead of cutting them (readable at 80 columns)."""
    return Table(title=title, title_justify="left", **options)


def column(table_: Table, name: str, **options: Any) -> None:
    options.setdefault("overflow", "fold")
    table_.add_column(name, **options)


def print_json(value: Any) -> None:
    """JSON on stdout, plain (no colours, no wrapping), so it can be piped into jq."""
    typer.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


STATUS_STYLE = {
    RunStatus.SUCCEEDED: "green",
    RunStatus.FAILED: "red",
    RunStatus.RUNNING: "yellow",
    RunStatus.IMPORTING: "yellow",
    RunStatus.NOT_FINALISED: "yellow",
    RunStatus.FINALISED: "green",
}


def fail(message: str, code: int = 1) -> typer.Exit:
    error_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def run_recorder() -> RunRecorder:
    """The runs table alone: in AWS only ``ERPBRIDGE_RUNS_TABLE`` is needed to read runs."""
    table = os.environ.get("ERPBRIDGE_RUNS_TABLE")
    if table:
        from erpbridge.adapters.aws.dynamodb_runs import DynamoDbRunRecorder

        return DynamoDbRunRecorder(table)
    return runtime().runs


def settings(*, needs_erp: bool = False, what: str = "this command") -> Settings:
    """The settings; commands that never call the ERP (runs, orders show, mappings, import) work
    without ERP settings, and one that does names every ERP setting that is missing."""
    problems = []
    try:
        try:
            loaded = load_settings()
        except ConfigurationError as error:
            problems.append(str(error))
            loaded = load_settings(erp_auth="none")
    except ErpBridgeError as error:
        raise fail(str(error), 2) from None
    if needs_erp:
        if loaded.erp_url is None:
            problems.insert(0, "ERPBRIDGE_ERP_URL (the SOAP URL) is not set")
        if problems:
            raise fail(
                f"{what} calls the ERP: {'; '.join(problems)} (for the BC emulator, "
                "`erpbridge emulator` prints the lines to export)",
                2,
            )
    return loaded


def mappings_folder(mappings: Path | None = None) -> Path:
    """The job files folder: --mappings, else $ERPBRIDGE_MAPPINGS_DIR (the project's mappings/)."""
    from erpbridge.mapping.jobfile import mappings_directory

    folder = mappings or mappings_directory()
    if not folder.is_dir():
        raise fail(
            f"no job files folder {folder}: cd into the project (the folder with mappings/) "
            "or set ERPBRIDGE_HOME",
            2,
        )
    return folder


def complete_job(incomplete: str) -> list[str]:
    """Shell completion of a job id: the project's jobs (and the export task) starting so."""
    from erpbridge.mapping.jobfile import list_job_ids
    from erpbridge_cli.project import Project, find_project

    try:
        ids = [*list_job_ids(Project(find_project()).mappings_dir), EXPORT_FAILED_ORDERS]
    except ErpBridgeError:
        return []
    return [job for job in ids if job.startswith(incomplete)]


JobArgument = Annotated[str, typer.Argument(help="job id, e.g. fetch-shop-data", autocompletion=complete_job)]


def known_job(job: str, mappings: Path | None = None, *, extra: tuple[str, ...] = ()) -> str:
    """``job`` when a job file (or one of ``extra``) has that id; else exit 2 with a "did you mean"."""
    from erpbridge.mapping.jobfile import list_job_ids
    from erpbridge_cli.project import did_you_mean

    known = [*list_job_ids(mappings_folder(mappings)), *extra]
    if job not in known:
        raise fail(f"no job {job!r}: {did_you_mean(job, known)} (see `erpbridge jobs list`)", 2)
    return job


def shop_database(database_url: str | None = None) -> str:
    """The shop database URL, migrated when it is the project's own SQLite file (created on first
    use); any other database that needs migrating stops the command, naming what to run."""
    from erpbridge.shopdb.migrate import pending_revisions, upgrade
    from erpbridge_cli.project import DATABASE_URL_VARIABLE, STATE_FOLDER

    url = database_url or settings().database_url
    file = sqlite_file(url)
    own = file is not None and file.parent.name == STATE_FOLDER
    try:
        if file is not None and own:
            file.parent.mkdir(parents=True, exist_ok=True)
        pending = pending_revisions(url)
        if pending and own:
            upgrade(url)
        elif pending:
            named = "" if os.environ.get(DATABASE_URL_VARIABLE) == url else " --database-url URL"
            raise fail(
                f"the shop database {safe_url(url)} needs {len(pending)} migration(s) "
                f"({pending[0]} …): run `erpbridge db upgrade{named}`",
            )
    except ErpBridgeError as error:
        raise fail(f"the shop database {safe_url(url)}: {error}") from None
    return url


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite URL (None for any other database, or SQLite in memory)."""
    import sqlalchemy as sa

    try:
        url = sa.make_url(database_url)
    except sa.exc.ArgumentError:
        return None
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def safe_url(database_url: str) -> str:
    """The URL without its password."""
    import sqlalchemy as sa

    try:
        return sa.make_url(database_url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<invalid database URL>"


def invoke_function(function: str, job: str, event: dict[str, Any], *, wait: bool) -> dict[str, Any] | None:
    """Invoke a deployed function with ``event``: queued (None) or waited for (its answer)."""
    import boto3

    client = boto3.client("lambda")
    payload = json.dumps(event).encode()
    if not wait:
        client.invoke(FunctionName=function, InvocationType="Event", Payload=payload)
        return None
    answer = client.invoke(FunctionName=function, InvocationType="RequestResponse", Payload=payload)
    body: dict[str, Any] = json.loads(answer["Payload"].read() or b"{}")
    if answer.get("FunctionError"):
        raise fail(f"{job} failed: {body.get('errorType', 'error')}: {body.get('errorMessage', body)}")
    return body


def runtime(
    mappings: Path | None = None, *, needs_erp: bool = False, what: str = "this command"
) -> BatchRuntime:
    """The batch runtime of these settings (the job files of the project, or ``mappings``)."""
    loaded = settings(needs_erp=needs_erp, what=what)
    try:
        return runtime_from_settings(loaded, mappings_dir=mappings_folder(mappings))
    except ErpBridgeError as error:
        raise fail(str(error), 2) from None


def runs_table(records: list[RunRecord], title: str) -> Table:
    """The runs, readable at 80 columns: the run id (it starts with its UTC start time) above the
    job, the rows inserted/updated/deleted/skipped, the error wrapped (`runs show RUN` has all)."""
    listed = table(title)
    for name in ("run / job", "status", "ins/upd/del/skip"):
        column(listed, name, no_wrap=True)
    column(listed, "error", min_width=8, ratio=1)
    for record in records:
        status = record.status
        counts = record.counts
        listed.add_row(
            f"{record.run_id}\n{record.job}",
            f"[{STATUS_STYLE[status]}]{status}[/]",
            f"{counts.inserted:,}/{counts.updated:,}/{counts.deleted:,}/{counts.skipped:,}",
            record.error or (record.import_errors[-1] if record.import_errors else ""),
        )
    return listed
