"""The one use case that imports a staged file: a ``tables`` document → the shop database.

The importer Lambda (through :class:`erpbridge.adapters.sql.shop_importer.ShopDbImporter`), the
``erpbridge import`` command and the benchmarks all call :func:`import_staged_file`.

The file is streamed (``StreamingTableReader``: memory flat) into
:func:`erpbridge.mapping.engine.import_rows`, which writes it in one transaction. Removal of
missing rows is allowed only for a file that is the whole export: not a later page
(``partial``), and not a first page whose root says ``ExportIsDone="false"``. A paged run removes
once, in its finalise step (:func:`import_run_keys`: the keys of all its pages,
:mod:`erpbridge.batch.finalise`).

An import that changed prices or stock (:func:`changes_live_figures`) then calls
``live_figures_changed``: the live API's cached ERP prices and stock are stale now
(docs/commerce-context.md). The import is committed by then; a failed invalidation is logged, never
turned into a failed import (the entries expire with their TTL).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import BinaryIO

from erpbridge.mapping.engine import ImportReport, import_rows
from erpbridge.mapping.model import JobDefinition, TableMapping
from erpbridge.protocol.streaming import StreamingTableReader
from erpbridge.protocol.table_document import Row
from erpbridge.shopdb.engine import engine_for
from erpbridge.shopdb.import_guard import GuardedShopDatabase, ImportScope

DEFAULT_STATEMENT_TIMEOUT_S = 300.0  # Settings.import_statement_timeout_s
# Shop tables whose rows are the live API's figures (prices, stock); EcomProducts only through
# these columns.
LIVE_FIGURE_TABLES = frozenset({"ecomprices", "ecomstockunit"})
LIVE_FIGURE_PRODUCT_COLUMNS = frozenset({"productprice", "productstock"})

log = logging.getLogger("erpbridge.batch.staged_file")


def _writes_live_figures(mapping: TableMapping) -> bool:
    table = mapping.destination.lower()
    return table in LIVE_FIGURE_TABLES or (
        table == "ecomproducts"
        and any(column.destination.lower() in LIVE_FIGURE_PRODUCT_COLUMNS for column in mapping.columns)
    )


def changes_live_figures(mappings: Iterable[TableMapping], report: ImportReport) -> bool:
    """Whether a committed import changed a row of a table holding prices or stock (rows read
    but unchanged do not count: a nightly import that changed nothing leaves the cache alone)."""
    if not report.committed:
        return False
    changed = {
        name.lower()
        for name, table in report.tables.items()
        if table.inserted or table.updated or table.deleted or table.deactivated
    }
    return any(m.active and m.destination.lower() in changed and _writes_live_figures(m) for m in mappings)


def _tell_live_cache(
    job: str, mappings: Iterable[TableMapping], report: ImportReport, changed: Callable[[], None] | None
) -> None:
    if changed is None or not changes_live_figures(mappings, report):
        return
    try:
        changed()
    except Exception:  # committed already: the cached figures expire with their TTL instead
        log.exception("import of %s: could not mark the live API's cached prices and stock stale", job)


def import_staged_file(
    job: JobDefinition,
    stream: BinaryIO,
    database_url: str,
    *,
    partial: bool = False,
    source: str | None = None,
    parameters: Mapping[str, str] | None = None,
    on_progress: Callable[[int], None] | None = None,
    statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S,
    live_figures_changed: Callable[[], None] | None = None,
) -> ImportReport:
    """Import ``stream`` through the job's mapping in one transaction and report it.

    Malformed XML raises MalformedXmlError/XmlSecurityError (nothing written); row errors and
    duplicate keys come back in the report (``report.ok`` False, nothing written;
    ``report.raise_for_errors()`` raises ImportRejectedError). Another import of the job (or, for
    a page, of the same ``source``) still running raises ImportLockedError (see
    :mod:`erpbridge.shopdb.import_guard`). ``parameters``: the run's (default: the job's), which
    fill ``{shopID}``-style placeholders of the import's scope."""
    definition = job.import_for(parameters)
    reader = StreamingTableReader(stream, what=f"staged file of {job.id}")
    rows = reader.rows()
    first = next(rows, None)  # the root's attributes are known from the first row on
    whole_export = not partial and reader.export_is_done
    all_rows = rows if first is None else itertools.chain((first,), rows)
    # Locked per job (and per file for a page): a second import of it fails fast with
    # ImportLockedError instead of queueing behind the first.
    database = GuardedShopDatabase(
        engine_for(database_url),
        ImportScope(job.id, whole_export=whole_export, source=source),
        statement_timeout_s=statement_timeout_s,
    )
    report = import_rows(definition, all_rows, database, allow_removal=whole_export, on_progress=on_progress)
    report.export_is_done = reader.export_is_done
    _tell_live_cache(job.id, definition.mappings, report, live_figures_changed)
    return report


def import_run_keys(
    job: JobDefinition,
    pages: Sequence[Callable[[], AbstractContextManager[BinaryIO]]],
    database_url: str,
    *,
    parameters: Mapping[str, str] | None = None,
    statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S,
    live_figures_changed: Callable[[], None] | None = None,
) -> ImportReport:
    """A paged run's finalise: every page's keys (read again, keys only) staged in one
    transaction, then the removal once, under the job's exclusive lock (like a whole export)."""
    database = GuardedShopDatabase(
        engine_for(database_url),
        ImportScope(job.id, whole_export=True),
        statement_timeout_s=statement_timeout_s,
    )
    definition = job.import_for(parameters)
    report = import_rows(definition, _pages_rows(job.id, pages), database, keys_only=True)
    _tell_live_cache(job.id, definition.mappings, report, live_figures_changed)
    return report


def _pages_rows(
    job: str, pages: Sequence[Callable[[], AbstractContextManager[BinaryIO]]]
) -> Iterator[tuple[str, Row]]:
    """The rows of every page, one page open at a time (memory stays flat)."""
    for number, open_page in enumerate(pages, start=1):
        with open_page() as stream:
            yield from StreamingTableReader(stream, what=f"page {number} of {job}").rows()
