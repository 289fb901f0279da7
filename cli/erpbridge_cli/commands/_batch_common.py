"""What the batch commands share: the runtime (AWS or local, from the settings), run tables."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from erpbridge.batch.models import RunRecord, RunStatus
from erpbridge.batch.ports import RunRecorder
from erpbridge.errors import ConfigurationError, ErpBridgeError
from erpbridge.settings import load_settings
from erpbridge.wiring.batch import BatchRuntime, runtime_from_settings

console = Console()
error_console = Console(stderr=True)

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
        from erpbridge.adapters.aws.dynamodb_batch_state import DynamoDbRunRecorder

        return DynamoDbRunRecorder(table)
    return runtime().runs


def runtime(mappings: Path | None = None, *, needs_erp: bool = False) -> BatchRuntime:
    """The batch runtime of these settings. Commands that never call the ERP (runs, import) work
    without ERP settings."""
    folder = mappings
    if folder is None and os.environ.get("ERPBRIDGE_MAPPINGS_DIR"):
        folder = Path(os.environ["ERPBRIDGE_MAPPINGS_DIR"])
    try:
        try:
            settings = load_settings()
        except ConfigurationError:
            if needs_erp:
                raise
            settings = load_settings(erp_auth="none")
        return runtime_from_settings(settings, mappings_dir=folder)
    except ErpBridgeError as error:
        raise fail(str(error), 2) from None


def runs_table(records: list[RunRecord], title: str) -> Table:
    table = Table(title=title)
    table.add_column("run", no_wrap=True)
    table.add_column("job", no_wrap=True)
    for column in ("trigger", "status", "started", "pages", "bytes"):
        table.add_column(column, justify="right" if column in ("pages", "bytes") else "left", no_wrap=True)
    for column in ("inserted", "updated", "deleted", "skipped"):
        table.add_column(column, justify="right")
    table.add_column("error")
    for record in records:
        status = record.status
        error = record.error or (record.import_errors[-1] if record.import_errors else "")
        table.add_row(
            record.run_id,
            record.job,
            str(record.trigger),
            f"[{STATUS_STYLE[status]}]{status}[/]",
            record.started_at.strftime("%m-%d %H:%M:%S"),
            str(record.pages),
            f"{record.bytes:,}",
            f"{record.counts.inserted:,}",
            f"{record.counts.updated:,}",
            f"{record.counts.deleted:,}",
            f"{record.counts.skipped:,}",
            (error[:60] + "…") if len(error) > 60 else error,
        )
    return table
