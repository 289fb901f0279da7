"""``ShopDatabase`` over a SQLAlchemy engine: each transaction gets the bulk writer of its dialect."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from erpbridge.errors import ShopDatabaseError
from erpbridge.shopdb.dialects.writers import writer_class_for
from erpbridge.shopdb.engine import unavailable
from erpbridge.shopdb.ports import BulkWriter


class SqlShopDatabase:
    """``ShopDatabase`` over a SQLAlchemy engine: one transaction per ``transaction()`` block."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[BulkWriter]:
        writer_class = writer_class_for(self.engine.dialect.name)
        driver_error: type[Exception] = self.engine.dialect.loaded_dbapi.Error
        try:
            with self.engine.begin() as connection:
                writer = writer_class(connection)
                yield writer
                writer.close()
        except sa.exc.DBAPIError as error:
            # The driver's message names the constraint/column; the statement itself is not echoed.
            raise ShopDatabaseError(f"the shop database refused the import: {error.orig}") from error
        except driver_error as error:
            # Stages write through the driver's own cursor (COPY, executemany), which SQLAlchemy does
            # not wrap: wrap it as SQLAlchemy would (DataError, OperationalError, …), so callers
            # tell bad data from an unreachable database the same way on every path.
            wrapped = _as_dbapi_error(error, driver_error, self.engine.dialect)
            if isinstance(wrapped, sa.exc.DBAPIError) and (down := unavailable(wrapped)) is not None:
                raise down from wrapped
            raise ShopDatabaseError(f"the shop database refused the import: {error}") from wrapped


def _as_dbapi_error(error: Exception, driver_error: type[Exception], dialect: sa.Dialect) -> BaseException:
    wrapped = sa.exc.DBAPIError.instance(None, None, error, driver_error, dialect=dialect)
    return wrapped.with_traceback(error.__traceback__) if isinstance(wrapped, BaseException) else error
