"""A small ordered-migrations runner for the shop database.

Why not alembic: the Lambda layer stays free of alembic/Mako, and migrations are recorded as a set
of applied names rather than a single-head chain, so helpers working in parallel can each add a
file (``migrations/mNNNN_<what>.py``) without editing anyone else's and without merge heads.
Each pending migration runs in its own transaction (PostgreSQL and SQLite both have transactional
DDL) under a lock (PostgreSQL: an advisory lock; SQLite: the write lock, taken by ``BEGIN
IMMEDIATE``), so two concurrent ``upgrade`` calls apply each migration once.
"""

from __future__ import annotations

import importlib
import pkgutil
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from erpbridge.errors import ConfigurationError
from erpbridge.shopdb import migrations
from erpbridge.shopdb.engine import begin_write, engine_for

VERSION_TABLE = "erpbridge_migrations"
_version_metadata = sa.MetaData()
_versions = sa.Table(
    VERSION_TABLE,
    _version_metadata,
    sa.Column("revision", sa.String(200), primary_key=True),
    sa.Column("applied_at", sa.DateTime(), nullable=False),
)
_LOCK_ID = zlib.crc32(VERSION_TABLE.encode())


def available_revisions() -> list[str]:
    """Every migration module name, in the order they apply."""
    return sorted(m.name for m in pkgutil.iter_modules(migrations.__path__) if m.name.startswith("m"))


def _upgrade_function(revision: str) -> Callable[[Connection], None]:
    module: ModuleType = importlib.import_module(f"{migrations.__name__}.{revision}")
    function = getattr(module, "upgrade", None)
    if not callable(function):
        raise ConfigurationError(f"migration {revision} has no upgrade(connection) function")
    return function  # type: ignore[no-any-return]


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})


def applied_revisions(database_url: str) -> list[str]:
    engine = engine_for(database_url)
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table(VERSION_TABLE):
            return []
        return sorted(connection.execute(sa.select(_versions.c.revision)).scalars())


def current_revision(database_url: str) -> str | None:
    """The last applied migration (by name), or None on an empty database."""
    applied = applied_revisions(database_url)
    return applied[-1] if applied else None


def pending_revisions(database_url: str) -> list[str]:
    applied = set(applied_revisions(database_url))
    return [revision for revision in available_revisions() if revision not in applied]


def upgrade(database_url: str) -> list[str]:
    """Apply every pending migration; returns the ones applied now (empty when up to date)."""
    engine = engine_for(database_url)
    with begin_write(engine) as connection:
        _lock(connection)
        _version_metadata.create_all(connection, checkfirst=True)
    applied_now: list[str] = []
    for revision in available_revisions():
        with begin_write(engine) as connection:
            _lock(connection)
            done = connection.execute(
                sa.select(_versions.c.revision).where(_versions.c.revision == revision)
            ).first()
            if done is not None:
                continue
            _upgrade_function(revision)(connection)
            connection.execute(sa.insert(_versions).values(revision=revision, applied_at=datetime.now(UTC)))
            applied_now.append(revision)
    return applied_now
