"""`erpbridge runs list [--job JOB]` and `erpbridge runs show RUN`: the runs table (DynamoDB in
AWS, ``.erpbridge/batch.db`` locally)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from erpbridge.batch.models import RunRecord
from erpbridge_cli.commands._batch_common import STATUS_STYLE, console, fail, run_recorder, runs_table

runs_app = typer.Typer(help="Batch runs: what ran, when, with which counts and errors.", no_args_is_help=True)


@runs_app.command("list")
def list_runs(
    job: Annotated[str | None, typer.Option("--job", help="only this job's runs")] = None,
    limit: Annotated[int, typer.Option(help="newest N runs")] = 20,
) -> None:
    """The newest runs, newest first."""
    records = run_recorder().list_runs(job=job, limit=limit)
    if not records:
        console.print("no runs yet" + (f" for {job}" if job else ""))
        return
    console.print(runs_table(records, f"runs{' of ' + job if job else ''}"))


@runs_app.command("show")
def show_run(
    run_id: Annotated[str, typer.Argument(help="run id (from `erpbridge runs list`)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the record as JSON")] = False,
) -> None:
    """One run in full: phases, counts, every error."""
    record = run_recorder().get(run_id)
    if record is None:
        raise fail(f"no run {run_id!r} (see `erpbridge runs list`)")
    if as_json:
        console.print_json(json.dumps(record.as_dict()))
        return
    table = Table(title=f"run {record.run_id}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    status = record.status
    ended = record.ended_at.isoformat(timespec="seconds") if record.ended_at else "-"
    for name, value in (
        ("job", record.job),
        ("status", f"[{STATUS_STYLE[status]}]{status}[/]"),
        ("trigger", str(record.trigger)),
        ("started", record.started_at.isoformat(timespec="seconds")),
        ("fetch", f"{record.fetch_status}, ended {ended}"),
        ("pages / bytes", f"{record.pages} / {record.bytes:,}"),
        ("files imported / failed", f"{record.files_imported} / {record.files_failed}"),
        ("rows read", f"{record.counts.rows_read:,}"),
        ("inserted / updated", f"{record.counts.inserted:,} / {record.counts.updated:,}"),
        ("deleted / skipped", f"{record.counts.deleted:,} / {record.counts.skipped:,}"),
        ("rows left out (errors)", f"{record.counts.failed:,}"),
        ("parameters", ", ".join(f"{k}={v}" for k, v in record.parameters.items()) or "-"),
        ("fetch error", record.error or "-"),
        ("pages imported / failed", f"{len(record.pages_imported)} / {len(record.pages_failed)}"),
        ("finalise", _finalise_line(record)),
    ):
        table.add_row(name, value)
    for number, error in enumerate(record.import_errors, 1):
        table.add_row(f"import error {number}", error)
    for number, warning in enumerate(record.warnings, 1):
        table.add_row(f"warning {number}", warning)
    for number, row_error in enumerate(record.row_errors, 1):
        where = f"{row_error.get('table')} row {row_error.get('row')} column {row_error.get('column')}"
        table.add_row(
            f"row left out {number}", f"{where} value {row_error.get('value')!r}: {row_error.get('reason')}"
        )
    console.print(table)
    if status.value == "failed":
        raise typer.Exit(1)


def _finalise_line(record: RunRecord) -> str:
    """A paged run's remove/deactivate-missing step: not yet (and why), or what it did."""
    if record.single_page:
        return "- (one page: its import removed missing rows)"
    done = record.finalised
    if done is None:
        blocked = record.finalise_blocked()
        return f"imported, not finalised{f' ({blocked})' if blocked else ''}"
    return (
        f"finalised {done.at.isoformat(timespec='seconds')}: "
        f"{done.counts.deleted:,} removed/deactivated over {done.counts.rows_read:,} rows"
        + "".join(f"; {warning}" for warning in done.warnings)
    )


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
