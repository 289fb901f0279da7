"""``StagedFileImporter`` over the mapping engine and the shop database.

A staged file is streamed (``StreamingTableReader``: memory flat) into
:func:`erpbridge.mapping.engine.import_rows`, which writes it in one transaction. Removal of
missing rows is allowed only for a file that is the whole export: not a later page, and not a first
page whose root says ``ExportIsDone="false"``. A paged run removes once, in its finalise step
(:meth:`ShopDbImporter.finalise`: the keys of all its pages, :mod:`erpbridge.batch.finalise`).

Errors keep their meaning for the caller: bad input stays an ``ErpBridgeError`` (the file goes to
``failed/``), while a database that cannot serve raises ``DatabaseUnavailableError`` and another import
of the same job still running raises ``ImportLockedError`` (both: retried later; nothing was
written).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, BinaryIO

from erpbridge.batch.models import ImportCounts, ImportedFile
from erpbridge.mapping.engine import ImportReport, import_rows
from erpbridge.mapping.jobfile import load_job
from erpbridge.mapping.model import ImportDefinition
from erpbridge.protocol.streaming import StreamingTableReader
from erpbridge.protocol.tables import Row
from erpbridge.shopdb.engine import engine_for
from erpbridge.shopdb.import_guard import GuardedShopDatabase, ImportScope


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
    )


DEFAULT_STATEMENT_TIMEOUT_S = 300.0  # Settings.import_statement_timeout_s


class ShopDbImporter:
    def __init__(
        self,
        database_url: str,
        *,
        mappings_dir: Path | None = None,
        statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S,
    ) -> None:
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
        # The run's parameters (its shopID, language) are the import's scope.
        definition = load_job(job, self._mappings_dir).import_for(parameters)
        reader = StreamingTableReader(stream, what=f"staged file of {job}")
        rows = reader.rows()
        first = next(rows, None)  # the root's attributes are known from the first row on
        whole_export = not partial and reader.export_is_done
        all_rows = rows if first is None else itertools.chain((first,), rows)
        # Locked per job (and per file for a page): a second import of it fails fast with
        # ImportLockedError instead of queueing behind the first (erpbridge.shopdb.import_guard).
        imported = self._import(
            definition,
            all_rows,
            ImportScope(job, whole_export=whole_export, source=source),
            allow_removal=whole_export,
            on_progress=on_progress,
        )
        return replace(imported, export_is_done=reader.export_is_done)

    def finalise(
        self,
        job: str,
        pages: Sequence[Callable[[], AbstractContextManager[BinaryIO]]],
        *,
        parameters: Mapping[str, str] | None = None,
    ) -> ImportedFile:
        """Every page's keys (read again, keys only) staged in one transaction, then the removal
        once, under the job's exclusive lock (like a whole export)."""
        definition = load_job(job, self._mappings_dir).import_for(parameters)
        scope = ImportScope(job, whole_export=True)
        return self._import(definition, _pages_rows(job, pages), scope, keys_only=True)

    def _import(
        self,
        definition: ImportDefinition,
        rows: Iterable[tuple[str, Row]],
        scope: ImportScope,
        **options: Any,
    ) -> ImportedFile:
        """One import transaction under ``scope``'s lock; ``options`` go to ``import_rows``."""
        database = GuardedShopDatabase(
            engine_for(self._database_url), scope, statement_timeout_s=self._statement_timeout_s
        )
        report = import_rows(definition, rows, database, **options)
        self.last_report = report
        report.raise_for_errors()
        return imported_file(report, (mapping.destination for mapping in definition.mappings))


def _pages_rows(
    job: str, pages: Sequence[Callable[[], AbstractContextManager[BinaryIO]]]
) -> Iterator[tuple[str, Row]]:
    """The rows of every page, one page open at a time (memory stays flat)."""
    for number, open_page in enumerate(pages, start=1):
        with open_page() as stream:
            yield from StreamingTableReader(stream, what=f"page {number} of {job}").rows()
