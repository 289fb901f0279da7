"""Engines for the shop database, one per URL per process (reused across warm Lambda invocations)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from erpbridge.db_credentials import DatabaseCredentials, credentials_for
from erpbridge.errors import ConfigurationError, DatabaseUnavailableError

_engines: dict[str, Engine] = {}
_lock = threading.Lock()
_WRITE_LOCK = "erpbridge_write_lock"  # execution option read by the SQLite "begin" listener


def engine_for(database_url: str) -> Engine:
    """The process-wide engine for ``database_url``.

    SQLite: WAL journal, foreign keys on, a busy timeout, and real transactions around DDL too
    (pysqlite otherwise commits implicitly). PostgreSQL: a pool of one connection (a Lambda
    environment serves one request at a time) with pre-ping for connections dropped while frozen,
    recycled after 5 minutes, and no server-side prepared statements (they pin RDS Proxy sessions).
    """
    with _lock:
        engine = _engines.get(database_url)
        if engine is None:
            engine = _create(database_url)
            _engines[database_url] = engine
        return engine


@contextmanager
def begin_write(engine: Engine) -> Iterator[sa.Connection]:
    """A transaction that takes the database's write lock with its first statement.

    SQLite: ``BEGIN IMMEDIATE``, which waits (busy timeout) for another writer to finish. A
    deferred transaction that reads first and writes later fails at once with "database is
    locked" when another connection wrote in between, so read-then-write transactions that may
    run side by side (migrations) use this. Other databases: an ordinary transaction.
    """
    with engine.connect() as connection:
        connection.execution_options(**{_WRITE_LOCK: True})
        with connection.begin():
            yield connection


def dispose_engines() -> None:
    """Close every pooled connection (tests, and before a process forks)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


# Failures of the database rather than of the data: connection refused or lost, locks and
# timeouts, a schema that is not what the statement expects. IntegrityError and DataError are about
# the rows and stay with the caller (a claim that lost a race, a value the column cannot hold).
_UNAVAILABLE: tuple[type[sa.exc.DBAPIError], ...] = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.ProgrammingError,
    sa.exc.InternalError,
)


def unavailable(error: sa.exc.DBAPIError) -> DatabaseUnavailableError | None:
    """The :class:`DatabaseUnavailableError` a driver error means, or None (a data problem)."""
    if error.connection_invalidated or isinstance(error, _UNAVAILABLE):
        # The driver's message names the table or constraint; the statement itself is not echoed.
        return DatabaseUnavailableError(f"the shop database is unavailable: {error.orig}")
    return None


def _translate_errors(engine: Engine) -> None:
    """The one boundary where a database failure becomes :class:`DatabaseUnavailableError`."""

    @event.listens_for(engine, "handle_error")
    def _on_error(context: sa.engine.ExceptionContext) -> None:
        error = context.sqlalchemy_exception
        if context.is_pre_ping or not isinstance(error, sa.exc.DBAPIError):
            return  # a stale pooled connection found by pre-ping is replaced, not an error
        translated = unavailable(error)
        if translated is not None:
            raise translated from error


def _create(database_url: str) -> Engine:
    engine = _create_engine(database_url)
    _translate_errors(engine)
    return engine


def _create_engine(database_url: str) -> Engine:
    try:
        url = sa.make_url(database_url)
    except sa.exc.ArgumentError as error:
        raise ConfigurationError(f"ERPBRIDGE_DATABASE_URL is not a database URL: {error}") from error
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database and url.database != ":memory:":  # a new database's folder is made, too
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        _sqlite_setup(engine)
        return engine
    if backend == "postgresql":
        options: dict[str, Any] = {"prepare_threshold": None} if url.get_driver_name() == "psycopg" else {}
        engine = sa.create_engine(
            url,
            pool_size=1,
            max_overflow=2,
            pool_pre_ping=True,
            pool_recycle=300,
            connect_args=options,
        )
        credentials = credentials_for(database_url)
        if credentials is not None:
            _rotating_credentials(engine, credentials)
        return engine
    # SQL Server and others: the generic adapter may work; untested (see README).
    return sa.create_engine(url, pool_pre_ping=True)


def _rotating_credentials(engine: Engine, credentials: DatabaseCredentials) -> None:
    """Every new connection logs in with the current credentials; refused ones are re-read once."""

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        current = credentials.current()
        cparams.update(user=current.user, password=current.password)
        try:
            return dialect.connect(*cargs, **cparams)
        except dialect.loaded_dbapi.OperationalError as error:
            if not _refused_login(error):
                raise
        # Rotated since we read it (or the alternating user took over): read the secret again.
        fresh = credentials.refresh()
        cparams.update(user=fresh.user, password=fresh.password)
        return dialect.connect(*cargs, **cparams)


def _refused_login(error: BaseException) -> bool:
    """PostgreSQL class 28 (invalid authorization: wrong password, unknown or disallowed role)."""
    state = getattr(error, "sqlstate", None)
    if isinstance(state, str):
        return state.startswith("28")
    # psycopg gives no SQLSTATE for a refused connection: the server's messages are stable.
    text = str(error)
    return any(
        phrase in text
        for phrase in (
            "password authentication failed",
            "PAM authentication failed",
            "not permitted to log in",
        )
    ) or ("role" in text and "does not exist" in text)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (not pysqlite) decide where transactions begin, so DDL is transactional.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL", "busy_timeout=30000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get(_WRITE_LOCK)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
