"""Helpers for the mapping engine tests: a migrated shop database and row builders."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import yaml

from erpbridge.mapping.engine import ImportReport, import_rows
from erpbridge.mapping.model import ImportDefinition
from erpbridge.protocol.tables import Row
from erpbridge.shopdb.dialects.shop_database import SqlShopDatabase


@dataclass
class Shop:
    url: str
    engine: sa.Engine

    def run(
        self, definition: str | dict[str, Any], rows: Iterable[tuple[str, Row]], **options: Any
    ) -> ImportReport:
        data = yaml.safe_load(definition) if isinstance(definition, str) else definition
        return import_rows(
            ImportDefinition.model_validate(data), rows, SqlShopDatabase(self.engine), **options
        )

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as connection:
            return [tuple(r) for r in connection.execute(sa.text(sql), params)]

    def execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.text(sql), params)


def products(*items: dict[str, str | None], table: str = "EcomProducts") -> list[tuple[str, Row]]:
    return [(table, dict(item)) for item in items]
