"""Errors the database driver raises on its own cursor (PostgreSQL's COPY stage) keep their
meaning: a value the database refuses is a ``ShopDatabaseError`` (bad input: the file goes to
``failed/``), a connection lost mid-write is a ``DatabaseUnavailableError`` (the import is retried)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from erpbridge.adapters.sql.shop_importer import ShopDbImporter
from erpbridge.errors import DatabaseUnavailableError, ShopDatabaseError
from erpbridge.protocol.tables import build_tables
from erpbridge.shopdb import dispose_engines, engine_for, upgrade
from erpbridge.shopdb.dialects.postgresql import PostgresStage
from erpbridge.shopdb.dialects.shop_database import SqlShopDatabase
from erpbridge.shopdb.ports import MergeMode, MergeSpec, StageSpec

TOO_BIG = "100000000000000000000"  # 10^20: beyond NUMERIC(19, 4)


@pytest.fixture
def url(postgres_url: str) -> Iterator[str]:
    upgrade(postgres_url)
    yield postgres_url
    dispose_engines()


def _prices(url: str) -> int:
    with engine_for(url).connect() as connection:
        return int(connection.execute(sa.text('SELECT count(*) FROM "EcomPrices"')).scalar_one())


@pytest.mark.parametrize("as_lines", [False, True], ids=["rows", "copy-text-lines"])
def test_a_value_the_database_refuses_in_copy_is_a_typed_error(url: str, as_lines: bool) -> None:
    database = SqlShopDatabase(engine_for(url))
    with (
        pytest.raises(ShopDatabaseError, match="numeric field overflow") as caught,
        database.transaction() as writer,
    ):
        prices = writer.read_schema().tables["EcomPrices"]
        stage = writer.open_stage(
            StageSpec(table=prices, columns=("PriceID", "PriceAmount"), keys=("PriceID",))
        )
        if as_lines:
            assert isinstance(stage, PostgresStage)
            stage.write_lines([f"1\tP1\t{TOO_BIG}"])
        else:
            stage.write([(1, "P1", Decimal(TOO_BIG))])
        stage.merge(MergeSpec(mode=MergeMode.UPSERT, update_columns=("PriceAmount",)))
    assert isinstance(caught.value.__cause__, sa.exc.DataError)
    assert not isinstance(caught.value, DatabaseUnavailableError)  # bad data: not retried
    assert _prices(url) == 0


def test_a_connection_lost_during_copy_stays_retryable(url: str, postgres_server_url: str) -> None:
    database = SqlShopDatabase(engine_for(url))
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    try:
        with pytest.raises(ShopDatabaseError) as caught, database.transaction() as writer:
            prices = writer.read_schema().tables["EcomPrices"]
            spec = StageSpec(table=prices, columns=("PriceID", "PriceAmount"), keys=("PriceID",))
            stage = writer.open_stage(spec)
            pid = writer.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with admin.connect() as connection:
                connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            stage.write([(1, "P1", Decimal("1.5"))])
    finally:
        admin.dispose()
    assert isinstance(caught.value, DatabaseUnavailableError)


JOB = """\
id: price-list
import:
  mappings:
    - source: EcomPrices
      destination: EcomPrices
"""


def test_a_staged_file_the_database_refuses_is_bad_input_not_an_outage(url: str, tmp_path: Path) -> None:
    (tmp_path / "price-list.yaml").write_text(JOB)
    data = build_tables({"EcomPrices": [{"PriceID": "P1", "PriceAmount": TOO_BIG}]})
    importer = ShopDbImporter(url, mappings_dir=tmp_path)
    with pytest.raises(ShopDatabaseError, match="numeric field overflow") as caught:
        importer.import_file("price-list", io.BytesIO(data), partial=False)
    assert not isinstance(caught.value, DatabaseUnavailableError)
    assert _prices(url) == 0
