"""Engines for the shop database, one per URL per process (reused across warm Lambda invocations)."""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from erpbridge.errors import ConfigurationError

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


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


def dispose_engines() -> None:
    """Close every pooled connection (tests, and before a process forks)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _create(database_url: str) -> Engine:
    try:
        url = sa.make_url(database_url)
    except sa.exc.ArgumentError as error:
        raise ConfigurationError(f"ERPBRIDGE_DATABASE_URL is not a database URL: {error}") from error
    backend = url.get_backend_name()
    if backend == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        _sqlite_setup(engine)
        return engine
    if backend == "postgresql":
        options: dict[str, Any] = {"prepare_threshold": None} if url.get_driver_name() == "psycopg" else {}
        return sa.create_engine(
            url,
            pool_size=1,
            max_overflow=2,
            pool_pre_ping=True,
            pool_recycle=300,
            connect_args=options,
        )
    # SQL Server and others: the generic adapter may work; untested (see README).
    return sa.create_engine(url, pool_pre_ping=True)


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
        connection.exec_driver_sql("BEGIN")
