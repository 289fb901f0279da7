"""Shop database: migrations, live schema introspection and the bulk writers (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa

from erpbridge.errors import ShopDatabaseError
from erpbridge.shopdb import current_revision, dispose_engines, engine_for, read_schema, upgrade
from erpbridge.shopdb.dialects.shop_database import SqlShopDatabase
from erpbridge.shopdb.migrate import available_revisions, pending_revisions
from erpbridge.shopdb.model import ValueKind
from erpbridge.shopdb.ports import Comparison, MergeMode, MergeSpec, Predicate, StageSpec

TABLES = [
    "EcomProducts",
    "EcomGroups",
    "EcomGroupProductRelation",
    "EcomShopGroupRelation",
    "EcomGroupRelations",
    "EcomShops",
    "EcomLanguages",
    "EcomVariantGroups",
    "EcomVariantsOptions",
    "EcomVariantgroupProductRelation",
    "EcomVariantOptionsProductRelation",
    "EcomProductsRelated",
    "EcomManufacturers",
    "EcomPrices",
    "EcomCurrencies",
    "EcomCountries",
    "EcomUnits",
    "EcomStockLocation",
    "EcomStockUnit",
    "AccessUser",
    "AccessUserAddress",
    "EcomOrders",
    "EcomOrderLines",
]


@pytest.fixture
def url(database_url: str) -> Iterator[str]:
    yield database_url
    dispose_engines()


def test_upgrade_creates_the_shop_schema_once(url: str) -> None:
    assert current_revision(url) is None
    assert upgrade(url) == available_revisions()
    assert upgrade(url) == []  # idempotent
    assert pending_revisions(url) == []
    assert current_revision(url) == available_revisions()[-1]
    schema = read_schema(engine_for(url))
    assert set(TABLES) <= set(schema.tables)
    products = schema.tables["EcomProducts"]
    assert products.primary_key == ("ProductID", "ProductLanguageID", "ProductVariantID")
    assert products.column("productprice") is not None
    assert products.columns["ProductPrice"].kind is ValueKind.DECIMAL
    assert products.columns["ProductActive"].kind is ValueKind.BOOLEAN
    assert products.columns["ProductID"].length == 30
    assert schema.tables["AccessUser"].columns["AccessUserID"].has_default  # identity


def test_the_schema_is_read_live_not_from_a_snapshot(url: str) -> None:
    upgrade(url)
    with engine_for(url).begin() as connection:
        connection.execute(sa.text('ALTER TABLE "EcomProducts" ADD COLUMN "ProductColour" VARCHAR(20)'))
    column = read_schema(engine_for(url)).tables["EcomProducts"].column("ProductColour")
    assert column is not None and column.kind is ValueKind.TEXT and column.length == 20


def _stage_rows(
    url: str, rows: list[tuple[object, ...]], mode: MergeMode = MergeMode.UPSERT
) -> tuple[int, ...]:
    database = SqlShopDatabase(engine_for(url))
    with database.transaction() as writer:
        table = writer.read_schema().tables["EcomManufacturers"]
        stage = writer.open_stage(
            StageSpec(table=table, columns=("ManufacturerID", "ManufacturerName"), keys=("ManufacturerID",))
        )
        stage.write(rows)
        counts = stage.merge(MergeSpec(mode=mode, update_columns=("ManufacturerName",)))
    return counts.inserted, counts.updated, counts.unchanged, counts.skipped


def test_bulk_upsert_counts_inserted_updated_and_unchanged(url: str) -> None:
    upgrade(url)
    assert _stage_rows(url, [(1, "M1", "One"), (2, "M2", "Two")]) == (2, 0, 0, 0)
    assert _stage_rows(url, [(1, "M1", "One"), (2, "M2", "Deux"), (3, "M3", "Three")]) == (1, 1, 1, 0)
    assert _stage_rows(url, [(1, "M1", "Uno"), (2, "M9", "x")], MergeMode.UPDATE_ONLY) == (0, 1, 0, 1)
    assert _stage_rows(url, [(1, "M1", "y"), (2, "M8", "z")], MergeMode.INSERT_ONLY) == (1, 0, 0, 1)
    with engine_for(url).connect() as connection:
        rows = connection.execute(sa.text('SELECT * FROM "EcomManufacturers" ORDER BY 1')).all()
    assert [(r.ManufacturerID, r.ManufacturerName) for r in rows] == [
        ("M1", "Uno"),
        ("M2", "Deux"),
        ("M3", "Three"),
        ("M8", "z"),
    ]


def test_removal_statements_respect_the_scope(url: str) -> None:
    upgrade(url)
    _stage_rows(url, [(1, "M1", "a"), (2, "M2", "b"), (3, "X3", "c")])
    database = SqlShopDatabase(engine_for(url))
    with database.transaction() as writer:
        table = writer.read_schema().tables["EcomManufacturers"]
        stage = writer.open_stage(
            StageSpec(table=table, columns=("ManufacturerID",), keys=("ManufacturerID",))
        )
        stage.write([(1, "M1")])
        stage.merge(MergeSpec(mode=MergeMode.UPSERT, update_columns=()))
        scope = (Predicate("ManufacturerID", Comparison.LIKE, ("M%",)),)
        assert stage.count_destination(scope) == 2
        assert stage.delete_missing(scope) == 1  # M2 goes, X3 is outside the scope
    with engine_for(url).connect() as connection:
        assert connection.execute(sa.text('SELECT count(*) FROM "EcomManufacturers"')).scalar() == 2


def test_a_database_failure_rolls_back_and_raises_a_typed_error(url: str) -> None:
    upgrade(url)
    database = SqlShopDatabase(engine_for(url))
    with pytest.raises(ShopDatabaseError), database.transaction() as writer:
        prices = writer.read_schema().tables["EcomPrices"]
        spec = StageSpec(table=prices, columns=("PriceID", "PriceAmount"), keys=("PriceID",))
        stage = writer.open_stage(spec)
        stage.write([(1, "P1", Decimal("1.5"))])
        stage.merge(MergeSpec(mode=MergeMode.UPSERT, update_columns=("PriceAmount",)))
        lines = writer.read_schema().tables["EcomOrderLines"]
        columns = ("OrderLineID", "OrderLineOrderID")
        stage = writer.open_stage(StageSpec(table=lines, columns=columns, keys=("OrderLineID",)))
        stage.write([(1, "L1", None)])  # NOT NULL column: the database refuses it
        stage.merge(MergeSpec(mode=MergeMode.UPSERT, update_columns=("OrderLineOrderID",)))
    with engine_for(url).connect() as connection:
        assert connection.execute(sa.text('SELECT count(*) FROM "EcomPrices"')).scalar() == 0
