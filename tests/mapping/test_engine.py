"""The mapping rules one by one, against real SQLite and PostgreSQL databases."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from mapping_support import Shop, products

from erpbridge.errors import ImportRejectedError, MappingError

PRODUCTS = """
mappings:
  - source: EcomProducts
    destination: EcomProducts
"""


def product(pid: str, **columns: str | None) -> dict[str, str | None]:
    return {"ProductID": pid, "ProductLanguageID": "LANG1", **columns}


def names(shop: Shop) -> dict[str, str]:
    return dict(shop.rows('SELECT "ProductID", "ProductName" FROM "EcomProducts" ORDER BY "ProductID"'))


def test_matching_names_map_themselves_case_insensitively_and_values_are_typed(shop: Shop) -> None:
    row = product(
        "P1",
        productname="Bike",
        PRODUCTPRICE="1234.5",
        ProductActive="False",
        ProductType="2",
        ProductCreated="2020-01-01T00:00:00",
    )
    report = shop.run(PRODUCTS, products(row))
    assert report.ok, report.errors
    assert report.tables["EcomProducts"].inserted == 1
    [(name, price, active, kind, created)] = shop.rows(
        'SELECT "ProductName", "ProductPrice", "ProductActive", "ProductType", "ProductCreated" '
        'FROM "EcomProducts"'
    )
    assert (name, Decimal(str(price)), bool(active), kind) == ("Bike", Decimal("1234.5"), False, 2)
    assert created is not None and str(created)[:4] != "2020"  # stamped by the importer, not the feed


def test_text_with_tabs_line_breaks_and_backslashes_and_nulls_arrives_unchanged(shop: Shop) -> None:
    # PostgreSQL receives rows as COPY text lines: these characters must be escaped, \\N and
    # "\\." stay text, and a NULL (isNull) or empty number is NULL, not text.
    awkward = "tab\there\nnew line\r\nCRLF \\ backslash \\N \\. end"
    rows = products(
        product(
            "P1",
            ProductName=awkward,
            ProductShortDescription=None,
            ProductPrice="",
            ProductActive="TRUE",
            ProductCost=None,
            ProductStock=None,
        ),
        product(
            "P2", ProductName="\\N", ProductShortDescription="", ProductPrice=" 7.25 ", ProductActive="false"
        ),
        product(
            "P3", ProductName="plain", ProductShortDescription="x", ProductPrice="1e2", ProductActive=" True "
        ),
        # plain digits go as they are; a sign or other digits through Decimal
        product(
            "P4",
            ProductName="n",
            ProductShortDescription=None,
            ProductActive="True",
            ProductPrice="0012.50",
            ProductCost="-3.5",
            ProductStock="\u0661\u0662",
        ),
    )
    report = shop.run(PRODUCTS, rows)
    assert report.ok, report.errors
    found = shop.rows(
        'SELECT "ProductID", "ProductName", "ProductShortDescription", "ProductPrice", "ProductActive" '
        'FROM "EcomProducts" ORDER BY "ProductID"'
    )
    numbers = shop.rows('SELECT "ProductCost", "ProductStock" FROM "EcomProducts" WHERE "ProductID" = \'P4\'')
    assert [tuple(Decimal(str(v)) for v in row) for row in numbers] == [(Decimal("-3.5"), Decimal("12"))]
    assert [(i, n, d, None if p is None else Decimal(str(p)), bool(a)) for i, n, d, p, a in found] == [
        ("P1", awkward, None, None, True),
        ("P2", "\\N", "", Decimal("7.25"), False),
        ("P3", "plain", "x", Decimal("100"), True),
        ("P4", "n", None, Decimal("12.5"), True),
    ]


def test_second_import_counts_updates_and_unchanged_rows(shop: Shop) -> None:
    shop.run(PRODUCTS, products(product("P1", ProductName="A"), product("P2", ProductName="B")))
    report = shop.run(PRODUCTS, products(product("P1", ProductName="A"), product("P2", ProductName="B2")))
    counts = report.tables["EcomProducts"]
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 1, 1)
    assert names(shop) == {"P1": "A", "P2": "B2"}


def test_explicit_constant_append_prepend_substring_and_concatenation(shop: Shop) -> None:
    definition = """
mappings:
  - source: Items
    destination: EcomProducts
    auto_map: false
    columns:
      - {destination: ProductID, source: Id}
      - {destination: ProductLanguageID, constant: LANG1}
      - {destination: ProductName, source: [First, Last]}
      - destination: ProductNumber
        source: Code
        prepend: "NO-"
        append: "-X"
        substring: {start: 1, length: 3}
      - {destination: ProductType, constant: "1"}
"""
    report = shop.run(
        definition, [("Items", {"Id": "P1", "First": "Red ", "Last": "Bike", "Code": "abcdef"})]
    )
    assert report.ok, report.errors
    assert shop.rows('SELECT "ProductName", "ProductNumber", "ProductType" FROM "EcomProducts"') == [
        ("Red Bike", "NO-bcd-X", 1)
    ]


def test_insert_only_columns_are_written_on_insert_and_kept_on_update(shop: Shop) -> None:
    definition = PRODUCTS + "    columns:\n      - {destination: ProductName, insert_only: true}\n"
    shop.run(definition, products(product("P1", ProductName="First", ProductNumber="1")))
    shop.run(definition, products(product("P1", ProductName="Second", ProductNumber="2")))
    assert shop.rows('SELECT "ProductName", "ProductNumber" FROM "EcomProducts"') == [("First", "2")]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("on_null: default", [("P1", Decimal(0)), ("P2", Decimal(5))]),
        ('on_null: constant\n        null_value: "7.5"', [("P1", Decimal("7.5")), ("P2", Decimal(5))]),
        ("on_null: skip-row", [("P2", Decimal(5))]),
        ("on_null: none", [("P1", None), ("P2", Decimal(5))]),
    ],
)
def test_null_handling_per_column(shop: Shop, rule: str, expected: list[tuple[str, Decimal | None]]) -> None:
    definition = PRODUCTS + f"    columns:\n      - destination: ProductStock\n        {rule}\n"
    report = shop.run(definition, products(product("P1", ProductStock=None), product("P2", ProductStock="5")))
    assert report.ok, report.errors
    rows = shop.rows('SELECT "ProductID", "ProductStock" FROM "EcomProducts" ORDER BY "ProductID"')
    assert [(pid, None if v is None else Decimal(str(v))) for pid, v in rows] == expected
    if "skip-row" in rule:
        assert report.tables["EcomProducts"].skipped == 1


def test_a_bad_value_mid_file_rejects_the_whole_file_with_row_level_errors(shop: Shop) -> None:
    shop.run(PRODUCTS, products(product("P0", ProductName="before")))
    good = {"ProductName": "ok", "ProductPrice": "1", "ProductActive": "True", "ProductType": "0"}
    rows = products(
        product("P1", **good),
        product("P2", **{**good, "ProductPrice": "12,5"}),
        product("P3", **{**good, "ProductActive": "1"}),
        product("P4", **{**good, "ProductType": "two", "ProductName": "x" * 300}),
    )
    report = shop.run(PRODUCTS, rows)
    assert not report.ok and not report.committed
    found = {(e.table, e.row, e.column, e.value) for e in report.errors}
    assert ("EcomProducts", 2, "ProductPrice", "12,5") in found
    assert ("EcomProducts", 3, "ProductActive", "1") in found
    assert any(e.row == 4 and e.column == "ProductName" and "255" in e.reason for e in report.errors)
    assert ("EcomProducts", 4, "ProductType", "two") in found
    assert names(shop) == {"P0": "before"}  # nothing of the file was written
    assert report.tables["EcomProducts"].inserted == 0
    with pytest.raises(ImportRejectedError, match="row 2 column ProductPrice"):
        report.raise_for_errors()


def test_duplicate_keys_in_a_file_are_reported_not_merged(shop: Shop) -> None:
    rows = products(product("P1", ProductName="a"), product("P2"), product("P1", ProductName="b"))
    report = shop.run(PRODUCTS, rows)
    assert not report.committed
    [error] = report.errors
    assert "duplicate key" in error.reason and "1, 3" in error.reason
    assert error.value == "P1, LANG1"
    assert names(shop) == {}


def test_conditions_with_and_or_groups_filter_source_rows(shop: Shop) -> None:
    definition = (
        PRODUCTS
        + """    conditions:
      - {column: ProductType, operator: NotIn, value: ["3"]}
      - any:
          - {column: ProductStock, operator: GreaterThan, value: "10"}
          - {column: ProductName, operator: StartsWith, value: "Keep"}
"""
    )
    rows = products(
        product("P1", ProductType="0", ProductStock="11", ProductName="a"),
        product("P2", ProductType="0", ProductStock="9", ProductName="Keep me"),
        product("P3", ProductType="0", ProductStock="9", ProductName="drop"),
        product("P4", ProductType="3", ProductStock="99", ProductName="Keep giftcard out"),
    )
    report = shop.run(definition, rows)
    assert sorted(names(shop)) == ["P1", "P2"]
    assert report.tables["EcomProducts"].skipped == 2


def test_key_columns_other_than_the_primary_key(shop: Shop) -> None:
    definition = """
mappings:
  - source: Customers
    destination: AccessUser
    keys: [AccessUserCustomerNumber]
"""
    shop.run(definition, [("Customers", {"AccessUserCustomerNumber": "C1", "AccessUserName": "Ann"})])
    report = shop.run(
        definition, [("Customers", {"AccessUserCustomerNumber": "C1", "AccessUserName": "Anna"})]
    )
    assert report.tables["AccessUser"].updated == 1
    assert shop.rows('SELECT "AccessUserCustomerNumber", "AccessUserName" FROM "AccessUser"') == [
        ("C1", "Anna")
    ]


def test_update_only_and_insert_only_modes(shop: Shop) -> None:
    shop.run(PRODUCTS, products(product("P1", ProductName="old")))
    update_only = PRODUCTS + "    mode: update-only\n"
    report = shop.run(update_only, products(product("P1", ProductName="new"), product("P9", ProductName="x")))
    assert names(shop) == {"P1": "new"}
    assert report.tables["EcomProducts"].skipped == 1
    insert_only = PRODUCTS + "    mode: insert-only\n"
    report = shop.run(
        insert_only, products(product("P1", ProductName="newer"), product("P2", ProductName="y"))
    )
    assert names(shop) == {"P1": "new", "P2": "y"}
    assert (report.tables["EcomProducts"].inserted, report.tables["EcomProducts"].skipped) == (1, 1)


def test_remove_missing_is_scoped_by_language_and_conditions(shop: Shop) -> None:
    seed = [product(f"P{i}", ProductName="n", ProductType="0") for i in range(1, 5)]
    seed.append({"ProductID": "P1", "ProductLanguageID": "LANG2", "ProductName": "other language"})
    seed.append(product("G1", ProductName="giftcard", ProductType="3"))
    shop.run(PRODUCTS, products(*seed))
    definition = (
        PRODUCTS
        + """    remove_missing: true
    conditions:
      - {column: ProductType, operator: EqualTo, value: "0"}
"""
    )
    report = shop.run(definition, products(*(product(f"P{i}", ProductType="0") for i in (1, 2, 3))))
    assert report.tables["EcomProducts"].deleted == 1
    remaining = shop.rows('SELECT "ProductID", "ProductLanguageID" FROM "EcomProducts" ORDER BY 1, 2')
    assert remaining == [("G1", "LANG1"), ("P1", "LANG1"), ("P1", "LANG2"), ("P2", "LANG1"), ("P3", "LANG1")]


def test_an_empty_file_with_remove_missing_deletes_nothing(shop: Shop) -> None:
    shop.run(PRODUCTS, products(product("P1"), product("P2")))
    report = shop.run(PRODUCTS + "    remove_missing: true\n", [])
    assert report.committed
    assert sorted(names(shop)) == ["P1", "P2"]
    assert any("no rows" in w for w in report.warnings)


def test_removal_is_refused_below_the_share_threshold(shop: Shop) -> None:
    shop.run(PRODUCTS, products(*(product(f"P{i}") for i in range(10))))
    definition = PRODUCTS + "    remove_missing: true\n    min_share_for_removal: 0.5\n"
    report = shop.run(definition, products(product("P1"), product("P2")))
    assert len(names(shop)) == 10
    assert any("fewer than 50%" in w for w in report.warnings)
    report = shop.run(definition, products(*(product(f"P{i}") for i in range(5))))
    assert report.tables["EcomProducts"].deleted == 5 and len(names(shop)) == 5


def test_a_paged_file_never_removes(shop: Shop) -> None:
    shop.run(PRODUCTS, products(product("P1"), product("P2")))
    report = shop.run(PRODUCTS + "    remove_missing: true\n", products(product("P1")), allow_removal=False)
    assert len(names(shop)) == 2 and any("page" in w for w in report.warnings)


def test_deactivate_missing_products_in_the_job_shop(shop: Shop) -> None:
    definition = """
shop: SHOP1
mappings:
  - source: EcomProducts
    destination: EcomProducts
    deactivate_missing: true
    hide_deactivated: true
    min_share_for_removal: 0.1
"""
    shop.run(definition, products(product("P1"), product("P2"), product("P3")))
    shop.execute("""INSERT INTO "EcomProducts" ("ProductID", "ProductLanguageID", "ProductDefaultShopId")
                    VALUES ('OTHER', 'LANG1', 'SHOP2')""")
    report = shop.run(definition, products(product("P1"), product("P2")))
    assert report.tables["EcomProducts"].deactivated == 1
    flags = shop.rows('SELECT "ProductID", "ProductActive", "ProductHidden" FROM "EcomProducts" ORDER BY 1')
    assert [(p, bool(a), bool(h)) for p, a, h in flags] == [
        ("OTHER", True, False),
        ("P1", True, False),
        ("P2", True, False),
        ("P3", False, True),
    ]


def product_groups(shop: Shop) -> list[tuple[str, str, int | None, bool]]:
    """(product, group, sorting, is primary) of every product-group relation."""
    relations = shop.rows(
        'SELECT "GroupProductRelationProductID", "GroupProductRelationGroupID", '
        '"GroupProductRelationSorting", "GroupProductRelationIsPrimary" '
        'FROM "EcomGroupProductRelation" ORDER BY 1, 2'
    )
    return [(p, g, s, bool(f)) for p, g, s, f in relations]


def test_derived_relations_from_virtual_columns(shop: Shop) -> None:
    definition = """
mappings:
  - {source: EcomGroups, destination: EcomGroups}
  - {source: EcomProducts, destination: EcomProducts}
"""
    shop.execute("""INSERT INTO "EcomShops" ("ShopID", "ShopDefault") VALUES ('SHOP1', true)""")
    groups = [
        ("EcomGroups", {"GroupID": "G1", "GroupLanguageID": "LANG1", "Shops": "", "ParentGroups": ""}),
        ("EcomGroups", {"GroupID": "G2", "GroupLanguageID": "LANG1", "Shops": "SHOP1", "ParentGroups": "G1"}),
    ]
    rows = [
        *groups,
        *products(
            product(
                "P1",
                Groups="G1, 'G2'",
                GroupSorting="5,6",
                PrimaryGroup="G2",
                VariantGroups="SIZE",
                VariantOptions="",
            ),
            {**product("P1"), "ProductLanguageID": "LANG2", "Groups": "G1,G2", "PrimaryGroup": "G2"},
            product("P2", Groups="G1", VariantOptions="S,M", VariantGroups=""),
        ),
    ]
    report = shop.run(definition, rows)
    assert report.ok, report.errors
    assert product_groups(shop) == [
        ("P1", "G1", 5, False),
        ("P1", "G2", 6, True),
        ("P2", "G1", None, False),
    ]
    assert shop.rows(
        'SELECT "ShopGroupShopID", "ShopGroupGroupID" FROM "EcomShopGroupRelation" ORDER BY 2'
    ) == [
        ("SHOP1", "G1"),  # empty Shops = the default shop
        ("SHOP1", "G2"),
    ]
    assert shop.rows(
        'SELECT "GroupRelationsGroupID", "GroupRelationsParentID" FROM "EcomGroupRelations"'
    ) == [("G2", "G1")]
    assert shop.rows(
        'SELECT "VariantgroupProductRelationProductID", "VariantgroupProductRelationVariantGroupID" '
        'FROM "EcomVariantgroupProductRelation"'
    ) == [("P1", "SIZE")]
    assert shop.rows(
        'SELECT "VariantOptionsProductRelationVariantID" FROM "EcomVariantOptionsProductRelation" ORDER BY 1'
    ) == [("M",), ("S",)]
    group_pairs = (
        'SELECT "GroupProductRelationProductID", "GroupProductRelationGroupID" '
        'FROM "EcomGroupProductRelation" ORDER BY 1, 2'
    )
    # Product groups are pruned only with remove_missing (as Dynamicweb): without it the pair stays.
    moved = products(product("P1", Groups="G2", PrimaryGroup="G2"), product("P2", Groups="G1"))
    report = shop.run(definition, moved)
    assert report.tables["EcomGroupProductRelation"].deleted == 0
    assert shop.rows(group_pairs) == [("P1", "G1"), ("P1", "G2"), ("P2", "G1")]
    pruning = definition.replace(
        "{source: EcomProducts, destination: EcomProducts}",
        "{source: EcomProducts, destination: EcomProducts, remove_missing: true}",
    )
    report = shop.run(pruning, moved)
    assert report.tables["EcomGroupProductRelation"].deleted == 1
    assert shop.rows(group_pairs) == [("P1", "G2"), ("P2", "G1")]
    # Parent groups are replaced for every imported group: G2 loses its parent.
    report = shop.run(
        definition, [("EcomGroups", {"GroupID": "G2", "GroupLanguageID": "LANG1", "ParentGroups": ""})]
    )
    assert report.tables["EcomGroupRelations"].deleted == 1
    assert shop.rows('SELECT count(*) FROM "EcomGroupRelations"') == [(0,)]


def test_relation_lists_in_every_shape_stage_positions_sorting_and_primary(shop: Shop) -> None:
    rows = products(
        # plain lists: each shape is built in one step
        product(
            "P1",
            Groups="G1,G2",
            GroupSorting="20,10",
            PrimaryGroup="G2",
            VariantGroups="SIZE,COLOR",
            VariantOptions="",
        ),
        # fewer sort values than groups, and spaces: the general steps (the first row names every
        # column, so P1 carries VariantOptions)
        product("P2", Groups=" G1 , G2 ", GroupSorting="7", PrimaryGroup="G9", VariantOptions="S, M"),
    )
    report = shop.run(PRODUCTS, rows)
    assert report.ok, report.errors
    assert product_groups(shop) == [
        ("P1", "G1", 20, False),
        ("P1", "G2", 10, True),
        ("P2", "G1", 7, False),
        ("P2", "G2", 2, False),
    ]
    assert shop.rows(
        'SELECT "VariantgroupProductRelationVariantGroupID", "VariantGroupProductRelationSorting", '
        '"VariantgroupProductRelationID" FROM "EcomVariantgroupProductRelation" ORDER BY 2'
    ) == [("SIZE", 1, "P1.SIZE"), ("COLOR", 2, "P1.COLOR")]
    assert shop.rows(
        'SELECT "VariantOptionsProductRelationVariantID" FROM "EcomVariantOptionsProductRelation" ORDER BY 1'
    ) == [("M",), ("S",)]
    # A sorting that is not a whole number rejects the file, naming the value.
    report = shop.run(PRODUCTS, products(product("P3", Groups="G1,G2", GroupSorting="1,x")))
    assert not report.ok
    assert [(e.column, e.value) for e in report.errors] == [("GroupSorting", "x")]


def test_a_mapping_that_does_not_fit_the_schema_names_every_problem(shop: Shop) -> None:
    definition = """
mappings:
  - source: EcomProducts
    destination: EcomProducts
    keys: [NoSuchKey]
    columns:
      - {destination: NoSuchColumn, source: X}
      - {destination: ProductPrice, constant: "cheap"}
"""
    with pytest.raises(MappingError) as caught:
        shop.run(definition, products(product("P1")))
    message = str(caught.value)
    assert "NoSuchKey" in message and "NoSuchColumn" in message and "cheap" in message


def test_job_language_and_shop_fill_empty_columns(shop: Shop) -> None:
    definition = "shop: SHOP1\nlanguage: LANG9\n" + PRODUCTS
    report = shop.run(definition, products({"ProductID": "P1", "ProductLanguageID": ""}))
    assert report.ok, report.errors
    assert shop.rows('SELECT "ProductLanguageID", "ProductDefaultShopId" FROM "EcomProducts"') == [
        ("LANG9", "SHOP1")
    ]


def test_datetime_text_format(shop: Shop) -> None:
    definition = """
mappings:
  - {source: EcomPrices, destination: EcomPrices}
"""
    row = {
        "PriceID": "1",
        "PriceValidFrom": "2024-03-01T12:30:00",
        "PriceAmount": "-1.25",
        "PriceIsWithVat": "TRUE",
    }
    report = shop.run(definition, [("EcomPrices", row)])
    assert report.ok, report.errors
    [(valid_from, amount, with_vat)] = shop.rows(
        'SELECT "PriceValidFrom", "PriceAmount", "PriceIsWithVat" FROM "EcomPrices"'
    )
    as_datetime = valid_from if isinstance(valid_from, datetime) else datetime.fromisoformat(str(valid_from))
    assert as_datetime == datetime(2024, 3, 1, 12, 30)
    assert Decimal(str(amount)) == Decimal("-1.25") and bool(with_vat)


def test_a_lookup_resolves_a_value_through_another_table(shop: Shop) -> None:
    shop.run(
        "mappings:\n  - {source: Customers, destination: AccessUser, keys: [AccessUserCustomerNumber]}\n",
        [("Customers", {"AccessUserCustomerNumber": c, "AccessUserName": c}) for c in ("C1", "C2")],
    )
    definition = """
mappings:
  - source: Addresses
    destination: AccessUserAddress
    keys: [AccessUserAddressExternalId]
    columns:
      - destination: AccessUserAddressUserID
        source: Customer
        lookup: {table: AccessUser, match: AccessUserCustomerNumber, value: AccessUserID}
"""
    rows = [
        (
            "Addresses",
            {"AccessUserAddressExternalId": "A1", "Customer": "C2", "AccessUserAddressCity": "Oslo"},
        ),
        (
            "Addresses",
            {"AccessUserAddressExternalId": "A2", "Customer": "C9", "AccessUserAddressCity": "Rome"},
        ),
    ]
    report = shop.run(definition, rows)
    assert report.ok, report.errors
    counts = report.tables["AccessUserAddress"]
    assert (counts.inserted, counts.skipped) == (1, 1)
    assert any("found no match" in w for w in report.warnings)
    assert shop.rows(
        'SELECT a."AccessUserAddressCity", u."AccessUserCustomerNumber" FROM "AccessUserAddress" a '
        'JOIN "AccessUser" u ON u."AccessUserID" = a."AccessUserAddressUserID"'
    ) == [("Oslo", "C2")]


def test_a_lookup_in_a_primary_key_column(shop: Shop) -> None:
    shop.execute(
        'INSERT INTO "EcomStockLocation" ("StockLocationID", "StockLocationName") '
        "VALUES (7, 'Main'), (8, 'Back')"
    )
    definition = """
mappings:
  - source: Stock
    destination: EcomStockUnit
    columns:
      - destination: StockUnitStockLocationId
        source: Location
        lookup: {table: EcomStockLocation, match: StockLocationName, value: StockLocationID}
"""
    stock = [
        (
            "Stock",
            {"StockUnitProductID": "P1", "StockUnitID": "PCS", "Location": "Back", "StockUnitQuantity": "3"},
        ),
        (
            "Stock",
            {"StockUnitProductID": "P1", "StockUnitID": "PCS", "Location": "Main", "StockUnitQuantity": "5"},
        ),
    ]
    assert shop.run(definition, stock).tables["EcomStockUnit"].inserted == 2
    stock[0][1]["StockUnitQuantity"] = "4"
    counts = shop.run(definition, stock).tables["EcomStockUnit"]
    assert (counts.updated, counts.unchanged) == (1, 1)
    rows = shop.rows('SELECT "StockUnitStockLocationId", "StockUnitQuantity" FROM "EcomStockUnit" ORDER BY 1')
    assert [(location, Decimal(str(quantity))) for location, quantity in rows] == [(7, 5), (8, 4)]
