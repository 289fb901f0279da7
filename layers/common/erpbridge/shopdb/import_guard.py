"""The import transaction's guard: bounded server work and a lock a second import can see.

A killed importer must cost nothing. On PostgreSQL the server does not notice on its own that a
client died while a statement runs: the backend finishes the statement (or waits for its row
locks for ever) and keeps every lock it took, so a re-run queues behind it. Each import
transaction therefore starts with, transaction-local (``set_config(..., true)``, so the live API
sharing the engine and its pooled connection keeps the server defaults):

- ``statement_timeout`` and ``idle_in_transaction_session_timeout`` =
  ``ERPBRIDGE_IMPORT_STATEMENT_TIMEOUT_S`` (below the import function's 900 s timeout): the upper
  bound for an orphan whatever happened to the network;
- ``client_connection_check_interval`` (PostgreSQL 14+) = 2 s: while a statement runs (or waits
  for a lock) the backend checks the socket and ends itself once the client is gone — a killed
  process's kernel closes the socket, so its orphan ends within seconds;
- ``tcp_keepalives_idle/interval/count`` = 30/10/3 s: a client that vanished without closing the
  socket (host gone) is declared dead within about a minute, which the check above then sees;
- ``application_name`` = ``erpbridge import <job>``, so ``pg_stat_activity`` shows who it is.

Then the import takes a transaction-level advisory lock (``pg_try_advisory_xact_lock``, no
waiting): exclusive on the job for a whole export (it may remove rows), shared on the job plus
exclusive on the file for one page of a paged export (pages of one run import side by side, the
same page twice does not). When it is held, :class:`ImportLockedError` names the job and the
holder's database session, and nothing has been written. The lock ends with the transaction,
so a dead holder frees it as soon as its backend ends.

SQLite: a killed process holds nothing (the operating system drops its file locks; the WAL's
uncommitted frames are ignored on the next open). The equivalent of the try-lock is taking the
database's single write lock at the start of the transaction, waiting at most
:data:`SQLITE_LOCK_WAIT_S` (short live-API writes) instead of the engine's 30 s busy timeout; a
second import then fails fast with :class:`ImportLockedError` instead of failing after 30 s
half-way through.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from erpbridge.errors import DatabaseUnavailableError, ImportLockedError
from erpbridge.shopdb.dialects.shop_database import SqlShopDatabase
from erpbridge.shopdb.dialects.sql import SqlBulkWriter
from erpbridge.shopdb.ports import BulkWriter

CLIENT_CHECK_INTERVAL_S = 2
TCP_KEEPALIVES = {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}
SQLITE_LOCK_WAIT_S = 2.0
SQLITE_BUSY_TIMEOUT_MS = 30_000  # the engine's (erpbridge.shopdb.engine), restored after the lock
_NAMESPACE = zlib.crc32(b"erpbridge-import") & 0x7FFFFFFF  # first half of every import lock key


def _key(text: str) -> int:
    return zlib.crc32(text.encode()) & 0x7FFFFFFF


@dataclass(frozen=True)
class ImportScope:
    """What one import transaction locks: ``job`` always; ``source`` (the staged key or the file)
    only for one page of several (``whole_export`` False)."""

    job: str
    whole_export: bool
    source: str | None = None


class GuardedShopDatabase:
    """``ShopDatabase`` whose every transaction starts with :func:`guard_import`."""

    def __init__(self, engine: Engine, scope: ImportScope, *, statement_timeout_s: float) -> None:
        self._database = SqlShopDatabase(engine)
        self._scope = scope
        self._statement_timeout_s = statement_timeout_s

    @property
    def engine(self) -> Engine:
        return self._database.engine

    @contextmanager
    def transaction(self) -> Iterator[BulkWriter]:
        with self._database.transaction() as writer:
            assert isinstance(writer, SqlBulkWriter)  # the SQL adapter: it has a connection
            guard_import(writer.connection, self._scope, statement_timeout_s=self._statement_timeout_s)
            yield writer


def application_name(job: str) -> str:
    """What ``pg_stat_activity.application_name`` shows while an import of ``job`` runs."""
    return f"erpbridge import {job}"[:63]


def guard_import(connection: Connection, scope: ImportScope, *, statement_timeout_s: float) -> None:
    """Bound this transaction's server work and take the import lock (see the module docstring).
    Raises :class:`ImportLockedError` when another import holds it; nothing is written then."""
    if connection.dialect.name == "postgresql":
        _postgres_limits(connection, scope, statement_timeout_s)
        _postgres_lock(connection, scope)
    elif connection.dialect.name == "sqlite":
        _sqlite_lock(connection, scope)


def _postgres_limits(connection: Connection, scope: ImportScope, statement_timeout_s: float) -> None:
    timeout_ms = str(max(1, round(statement_timeout_s * 1000)))
    values = {
        "application_name": application_name(scope.job),
        "statement_timeout": timeout_ms,
        "idle_in_transaction_session_timeout": timeout_ms,
        **{name: str(value) for name, value in TCP_KEEPALIVES.items()},
    }
    if (connection.dialect.server_version_info or (0,)) >= (14,):
        values["client_connection_check_interval"] = str(CLIENT_CHECK_INTERVAL_S * 1000)
    calls = ", ".join(f"set_config('{name}', :v{number}, true)" for number, name in enumerate(values))
    connection.execute(
        sa.text(f"SELECT {calls}"),  # names are our constants, values are bound
        {f"v{number}": value for number, value in enumerate(values.values())},
    )


def _postgres_lock(connection: Connection, scope: ImportScope) -> None:
    job_key = _key(f"job:{scope.job}")
    if scope.whole_export:
        locks = [(job_key, True)]
    else:
        locks = [(job_key, False)]
        if scope.source:
            locks.append((_key(f"file:{scope.job}:{scope.source}"), True))
    for key, exclusive in locks:
        function = "pg_try_advisory_xact_lock" if exclusive else "pg_try_advisory_xact_lock_shared"
        taken = connection.execute(
            sa.text(f"SELECT {function}(:namespace, :key)"), {"namespace": _NAMESPACE, "key": key}
        ).scalar_one()
        if not taken:
            pid = connection.execute(
                sa.text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = :namespace"
                    " AND objid = :key AND objsubid = 2 AND granted AND pid <> pg_backend_pid()"
                    " ORDER BY pid LIMIT 1"
                ),
                {"namespace": _NAMESPACE, "key": key},
            ).scalar()
            what = f"file {scope.source} of {scope.job}" if key != job_key else scope.job
            holder = f"database session pid {pid}" if pid is not None else "database session unknown"
            raise ImportLockedError(
                f"another import of {what} is running ({holder}); retry later (a session left"
                f" by a killed import ends by itself within seconds;"
                f" SELECT pg_terminate_backend({pid if pid is not None else 'PID'}) ends it now)",
                job=scope.job,
                holder_pid=pid,
            )


def _sqlite_lock(connection: Connection, scope: ImportScope) -> None:
    # A write the transaction would make anyway takes SQLite's one write lock now, not at the
    # first merge; "WHERE 0" changes nothing but still needs the lock.
    connection.exec_driver_sql(f"PRAGMA busy_timeout = {round(SQLITE_LOCK_WAIT_S * 1000)}")
    try:
        connection.exec_driver_sql("UPDATE erpbridge_migrations SET revision = revision WHERE 0")
    except (sa.exc.OperationalError, DatabaseUnavailableError) as error:
        driver_error = error if isinstance(error, sa.exc.OperationalError) else error.__cause__
        if "locked" not in str(getattr(driver_error, "orig", driver_error)).lower():
            raise
        raise ImportLockedError(
            f"another import (or writer) holds the shop database's write lock, so {scope.job} cannot"
            f" start (SQLite allows one writer at a time); retry later",
            job=scope.job,
        ) from None
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
