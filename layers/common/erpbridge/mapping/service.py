"""The use case the batch importer and ``erpbridge import`` call: a staged file → the shop database."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import BinaryIO

from erpbridge.mapping.engine import ImportReport, import_rows
from erpbridge.mapping.model import JobDefinition
from erpbridge.protocol.streaming import StreamingTableReader
from erpbridge.shopdb.engine import engine_for
from erpbridge.shopdb.import_guard import GuardedShopDatabase, ImportScope


def import_file(
    job: JobDefinition,
    stream: BinaryIO,
    database_url: str,
    *,
    allow_removal: bool = True,
    on_progress: Callable[[int], None] | None = None,
    statement_timeout_s: float = 300.0,
    parameters: Mapping[str, str] | None = None,
) -> ImportReport:
    """Stream ``stream`` (a staged ``tables`` document) through the job's mapping into the shop
    database in one transaction. Malformed XML raises MalformedXmlError/XmlSecurityError (nothing
    written); row errors and duplicate keys come back in the report (``report.ok`` False, nothing
    written; ``report.raise_for_errors()`` raises ImportRejectedError). Another import of the job
    still running raises ImportLockedError (see :mod:`erpbridge.shopdb.import_guard`).
    ``parameters``: the run's (default: the job's), which fill ``{shopID}``-style placeholders of
    the import's scope."""
    definition = job.import_for(parameters)
    reader = StreamingTableReader(stream, what=f"staged file of {job.id}")
    return import_rows(
        definition,
        reader.rows(),
        GuardedShopDatabase(
            engine_for(database_url),
            ImportScope(job.id, whole_export=allow_removal),
            statement_timeout_s=statement_timeout_s,
        ),
        allow_removal=allow_removal,
        on_progress=on_progress,
    )
