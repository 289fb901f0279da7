"""`erpbridge runs list [--job JOB]` and `erpbridge runs show RUN`: the runs table (in AWS mode
the admin API's, else DynamoDB with ``ERPBRIDGE_RUNS_TABLE``, else the project's
``.erpbridge/batch.db``, where `make run` records its runs too)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from erpbridge.batch.models import RunRecord
from erpbridge.batch.price_audit import JOB as PRICE_AUDIT
from erpbridge_cli.admin_client import admin_api
from erpbridge_cli.commands._batch_common import (
    EXPORT_FAILED_ORDERS,
    STATUS_STYLE,
    JsonOption,
    column,
    command_group,
    console,
    fail,
    known_job,
    print_json,
    run_recorder,
    runs_table,
    table,
)

runs_app = command_group("Batch runs: what ran, when, with which counts and errors.")


@runs_app.command("list")
def list_runs(
    job: Annotated[str | None, typer.Option("--job", help="only this job's runs")] = None,
    limit: Annotated[int, typer.Option(min=1, help="newest N runs")] = 20,
    as_json: JsonOption = False,
) -> None:
    """The newest runs, newest first."""
    remote = admin_api()
    if remote is not None:
        records = remote.runs(job=job, limit=limit)
    else:
        if job is not None:
            known_job(job, extra=(EXPORT_FAILED_ORDERS, PRICE_AUDIT))
        records = run_recorder().list_runs(job=job, limit=limit)
    if as_json:
        print_json([record.as_dict() for record in records])
        return
    if not records:
        console.print("no runs yet" + (f" for {job}" if job else ""))
        return
    console.print(runs_table(records, f"runs{' of ' + job if job else ''}"))


@runs_app.command("show")
def show_run(
    run_id: Annotated[str, typer.Argument(help="run id (from `erpbridge runs list`)")],
    as_json: JsonOption = False,
) -> None:
    """One run in full: phases, counts, every error (exit 1 when the run failed)."""
    remote = admin_api()
    record = remote.find_run(run_id) if remote is not None else run_recorder().get(run_id)
    if record is None:
        raise fail(f"no run {run_id!r} (see `erpbridge runs list`)", 2)
    if as_json:
        print_json(record.as_dict())
        if record.status.value == "failed":
            raise typer.Exit(1)
        return
    shown = table(f"run {record.run_id}", show_header=False)
    column(shown, "field", style="bold")
    column(shown, "value")
    status = record.status
    ended = record.ended_at.isoformat(timespec="seconds") if record.ended_at else "-"
    for name, value in (
        ("job", record.job),
        ("status", f"[{STATUS_STYLE[status]}]{status}[/]"),
        ("trigger", str(record.trigger) + (f" by {record.requested_by}" if record.requested_by else "")),
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
        shown.add_row(name, value)
    if record.audit is not None:
        _add_audit_rows(shown, record.audit)
    for number, error in enumerate(record.import_errors, 1):
        shown.add_row(f"import error {number}", error)
    for number, warning in enumerate(record.warnings, 1):
        shown.add_row(f"warning {number}", warning)
    for number, action in enumerate(record.actions, 1):
        when = action.at.isoformat(timespec="seconds")
        shown.add_row(
            f"operator action {number}", f"{action.action} by {action.by} at {when}: {action.detail}"
        )
    for number, row_error in enumerate(record.row_errors, 1):
        where = f"{row_error.get('table')} row {row_error.get('row')} column {row_error.get('column')}"
        shown.add_row(
            f"row left out {number}", f"{where} value {row_error.get('value')!r}: {row_error.get('reason')}"
        )
    console.print(shown)
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


def _add_audit_rows(shown: Table, audit: dict[str, Any]) -> None:
    """A price audit's report (docs/price-audit.md): its counts, the largest difference, examples."""

    def tally(counts: dict[str, Any]) -> str:
        return (
            f"{counts['matches']} match, {counts['mismatches']} mismatch ({counts['mismatch_rate']:g} %), "
            f"{counts['missing']} missing, {counts['not_quoted']} not quoted"
        )

    for part in ("served", "batch"):
        shown.add_row(f"audit: {part}", tally(audit[part]))
    endpoints = audit.get("by_endpoint", {})  # audits recorded before the per-endpoint report lack it
    if len(endpoints) > 1:
        for name, found in endpoints.items():
            shown.add_row(f"audit: served at {name}", tally(found["served"]))
    for number, example in enumerate(audit["examples"], 1):
        amount = example["field"] or "price"
        where = f"shop {example['shop']} at {example['endpoint']}: " if example.get("shop") else ""
        shown.add_row(
            f"audit mismatch {number}",
            f"{where}{example['customer'] or 'anonymous'} {example['product_id']} × {example['quantity']} "
            f"{example['currency']} ({example['origin']}): {example['served'][amount]} served, "
            f"{example['quoted'][amount]} from BC ({example['difference']})",
        )


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
