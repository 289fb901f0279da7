"""`erpbridge import FILE --job JOB`: apply a job's mapping to a local staged-format file.

The file is streamed (a progress bar follows the bytes read) into the job's mapping in one
database transaction (``ERPBRIDGE_DATABASE_URL``); nothing is written when the file is bad.
Afterwards it prints the counts, every warning of the import (source tables and columns no
mapping knows, refused removals, discarded duplicates) and the rows left out because of errors
(``on_row_error: skip_row``). ``--param shopID=SHOP2`` imports with that run parameter's scope.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from erpbridge.errors import DatabaseUnavailableError, ErpBridgeError
from erpbridge_cli.commands._batch_common import (
    complete_job,
    console,
    fail,
    known_job,
    runtime,
    shop_database,
)

_WARNINGS_SHOWN = 20


class _ProgressReader(io.RawIOBase):
    """A read-only file that reports how far it has been read (wrap it in ``io.BufferedReader``)."""

    def __init__(self, handle: io.BufferedReader, advance: Callable[[int], object]) -> None:
        self._handle = handle
        self._advance = advance

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        count = self._handle.readinto(buffer)
        self._advance(count)
        return count


def import_file(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="tables/table/item XML")
    ],
    job: Annotated[
        str,
        typer.Option(
            "--job", help="whose mapping to apply, e.g. fetch-shop-data", autocompletion=complete_job
        ),
    ],
    partial: Annotated[
        bool, typer.Option("--partial", help="one page of several: never remove or deactivate missing rows")
    ] = False,
    mappings: Annotated[
        Path | None,
        typer.Option(
            "--mappings", help="job files folder (default: the project's mappings/)", show_default=False
        ),
    ] = None,
    param: Annotated[
        list[str], typer.Option("--param", help="a run parameter NAME=VALUE, e.g. shopID=SHOP2 (the scope)")
    ] = [],  # noqa: B006
) -> None:
    """Import FILE into the shop database with JOB's mapping."""
    parameters: dict[str, str] = {}
    for value in param:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise fail(f"--param {value!r}: use NAME=VALUE", 2)
        parameters[name] = text
    known_job(job, mappings)
    batch = runtime(mappings)
    shop_database(batch.settings.database_url)
    try:
        batch.job(job).parameters(parameters)  # clear errors (unknown job/parameter) before reading
        importer = batch.importer()
        with (
            file.open("rb") as handle,
            Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress,
        ):
            task = progress.add_task(file.name, total=file.stat().st_size)
            reader = io.BufferedReader(_ProgressReader(handle, lambda n: progress.advance(task, n)))
            source = str(file.resolve())  # the same file twice at once: the second fails fast
            imported = importer.import_file(
                job, reader, partial=partial, source=source, parameters=parameters
            )
    except DatabaseUnavailableError as error:  # the shop database could not be reached or dropped us
        raise fail(f"{file}: {error} — nothing was written; retry later") from None
    except ErpBridgeError as error:
        raise fail(f"{file}: {type(error).__name__}: {error} — nothing was written") from None
    counts = imported.counts
    scope = f" (shop {imported.shop})" if imported.shop else ""
    table = Table(title=f"{file.name} → {job}{scope}")
    for column in ("rows read", "inserted", "updated", "deleted", "skipped", "failed"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{counts.rows_read:,}",
        f"{counts.inserted:,}",
        f"{counts.updated:,}",
        f"{counts.deleted:,}",
        f"{counts.skipped:,}",
        f"{counts.failed:,}",
    )
    console.print(table)
    # What the import left out (unmapped tables, unknown columns): the first warnings, and the
    # last (it sums up what was cut).
    warnings = list(imported.warnings)
    if len(warnings) > _WARNINGS_SHOWN:
        skipped = len(warnings) - _WARNINGS_SHOWN
        warnings = [*warnings[: _WARNINGS_SHOWN - 1], f"… {skipped:,} more warnings …", warnings[-1]]
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}", markup=True, highlight=False, soft_wrap=True)
    if counts.failed:
        console.print(f"[red]{counts.failed:,} rows left out because of errors[/] (on_row_error: skip_row):")
        for row_error in imported.row_errors:
            value = "" if row_error.get("value") is None else f" value {row_error['value']!r}"
            column = f" column {row_error['column']}" if row_error.get("column") else ""
            console.print(
                f"  {row_error['table']} row {row_error['row']}{column}{value}: {row_error['reason']}",
                markup=False,
                highlight=False,
            )


def register(app: typer.Typer) -> None:
    app.command("import")(import_file)
