"""Fixtures for the mapping engine tests: a migrated shop database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mapping_support import Shop

from erpbridge.shopdb import dispose_engines, engine_for, upgrade


@pytest.fixture
def shop(database_url: str) -> Iterator[Shop]:
    upgrade(database_url)
    yield Shop(database_url, engine_for(database_url))
    dispose_engines()
