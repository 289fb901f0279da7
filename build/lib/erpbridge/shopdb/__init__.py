"""The shop database: schema (Dynamicweb names), migrations, engines, introspection, bulk writers."""

from erpbridge.shopdb.engine import dispose_engines, engine_for
from erpbridge.shopdb.introspect import read_schema
from erpbridge.shopdb.migrate import current_revision, upgrade

__all__ = ["current_revision", "dispose_engines", "engine_for", "read_schema", "upgrade"]
