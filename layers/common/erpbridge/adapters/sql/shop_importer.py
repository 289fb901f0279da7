"""``StagedFileImporter`` over the shop database: the job file read, the use case
(:func:`erpbridge.batch.staged_file.import_staged_file`, or for a paged run's finalise
:func:`~erpbridge.batch.staged_file.import_run_keys`) run, its report turned into the run's counts.

Errors keep their meaning for the caller: bad input stays an ``ErpBridgeError`` (the file goes to
``failed/``), while a database that cannot serve raises ``DatabaseUnavailableError`` and another import
of the same job still running raises ``ImportLockedError`` (both: retried later; nothing was
written).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict
from pathlib import Path
from typing import BinaryIO

from erpbridge.batch.models import ImportCounts, ImportedFile
from erpbridge.batch.staged_file import DEFAULT_STATEMENT_TIMEOUT_S, import_run_keys, import_staged_file
from erpbridge.mapping.engine import ImportReport
from erpbridge.mapping.jobfile import load_job
from erpbridge.mapping.model import TableMapping


def counts_of(report: ImportReport, mapped_tables: Iterable[str] = ()) -> ImportCounts:
    """The run's four counts. Tables the job maps count as they are; relation tables the engine
    derives (product ↔ group, …) are replaced per owner, so they count by their net change —
    otherwise a first import would already report thousands of "deleted" rows."""
    mapped = {name.lower() for name in mapped_tables}
    inserted = updated = deleted = skipped = failed = 0
    for name, table in report.tables.items():
        if not mapped or name.lower() in mapped:
            inserted += table.inserted
            updated += table.updated + table.unchanged  # rows whose key existed, changed or not
            deleted += table.deleted + table.deactivated  # a deactivated product left the shop
        else:
            net = table.inserted - table.deleted
            inserted += max(net, 0)
            deleted += max(-net, 0)
            updated += table.updated + table.unchanged
        skipped += table.skipped + table.discarded
        failed += table.failed if report.committed else 0
    return ImportCounts(
        inserted=inserted,
        updated=updated,
        deleted=deleted,
        skipped=skipped,
        rows_read=report.rows_read,
        failed=failed,
    )


def imported_file(report: ImportReport, mapped_tables: Iterable[str] = ()) -> ImportedFile:
    """The batch view of an import report: counts, warnings and the rows left out."""
    return ImportedFile(
        counts=counts_of(report, mapped_tables),
        warnings=tuple(report.warnings),
        row_errors=tuple(asdict(error) for error in report.failed_rows),
        failed_rows=tuple(
            {"table": table, "row": number, "values": values}
            for table, number, values in report.failed_sources
        ),
        shop=report.shop,
        export_is_done=report.export_is_done,
    )


class ShopDbImporter:
    def __init__(
        self,
        database_url: str,
        *,
        mappings_dir: Path | None = None,
        statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S,
        live_figures_changed: Callable[[], None] | None = None,
    ) -> None:
        self._live_figures_changed = live_figures_changed
        self._database_url = database_url
        self._mappings_dir = mappings_dir
        self._statement_timeout_s = statement_timeout_s
        self.last_report: ImportReport | None = None

    def import_file(
        self,
        job: str,
        stream: BinaryIO,
        *,
        partial: bool,
        source: str | None = None,
        parameters: Mapping[str, str] | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> ImportedFile:
        definition = load_job(job, self._mappings_dir)
        report = import_staged_file(
            definition,
            stream,
            self._database_url,
            partial=partial,
            source=source,
            parameters=parameters,
            on_progress=on_progress,
            statement_timeout_s=self._statement_timeout_s,
            live_figures_changed=self._live_figures_changed,
        )
        return self._imported(report, definition.import_for(parameters).mappings)

    def finalise(
        self,
        job: str,
        pages: Sequence[Callable[[], AbstractContextManager[BinaryIO]]],
        *,
        parameters: Mapping[str, str] | None = None,
    ) -> ImportedFile:
        definition = load_job(job, self._mappings_dir)
        report = import_run_keys(
            definition,
            pages,
            self._database_url,
            parameters=parameters,
            statement_timeout_s=self._statement_timeout_s,
            live_figures_changed=self._live_figures_changed,
        )
        return self._imported(report, definition.import_for(parameters).mappings)

    def _imported(self, report: ImportReport, mappings: Iterable[TableMapping]) -> ImportedFile:
        self.last_report = report
        report.raise_for_errors()
        return imported_file(report, (mapping.destination for mapping in mappings))
