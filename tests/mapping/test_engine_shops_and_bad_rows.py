"""Several shops on one catalogue, and files with bad or repeated rows (issue 9 §4, §6), against
real SQLite and PostgreSQL databases."""

from __future__ import annotations

from typing import Any

import pytest
from mapping_support import Shop

from erpbridge.errors import ConfigurationError
from erpbridge.mapping.jobfile import parse_job
from erpbridge.protocol.tables import Row

# The shape of fetch-shop-data: groups with their shops, products with their groups, products
# deactivated (and hidden) when their shop's export leaves them out; the shop comes from the run.
CATALOGUE_JOB = """
id: catalogue
fetch:
  request: <GetEcomData shopID="{shopID}"><tables><Products type="all"/></tables></GetEcomData>
  parameters: {shopID: SHOP1}
import:
  shop: "{shopID}"
  mappings:
    - {source: EcomGroups, destination: EcomGroups}
    - source: EcomProducts
      destination: EcomProducts
      deactivate_missing: true
      hide_deactivated: true
      min_share_for_removal: 0.0
      columns:
        - {destination: ProductActive, on_null: constant, null_value: "True"}
"""


def _catalogue(shop_id: str, products: dict[str, str], *, groups: tuple[str, ...]) -> list[tuple[str, Row]]:
    """A shop's export as the ERP sends it: every row names the requested shop."""
    rows: list[tuple[str, Row]] = [
        ("EcomGroups", {"GroupID": group, "GroupLanguageID": "LANG1", "GroupName": group, "Shops": shop_id})
        for group in groups
    ]
    for product_id, product_groups in products.items():
        rows.append(
            (
                "EcomProducts",
                {
                    "ProductID": product_id,
                    "ProductLanguageID": "LANG1",
                    "ProductName": f"product {product_id}",
                    "ProductDefaultShopId": shop_id,
                    "Groups": product_groups,
                },
            )
        )
    return rows


def _import(shop: Shop, job_text: str, shop_id: str, rows: list[tuple[str, Row]], **options: Any) -> Any:
    definition = parse_job(job_text).import_for({"shopID": shop_id})
    report = shop.run(definition.model_dump(by_alias=True, exclude_none=True), rows, **options)
    assert report.ok, report.errors
    return report


def _products(shop: Shop) -> dict[str, tuple[str, bool, bool]]:
    rows = shop.rows(
        'SELECT "ProductID", "ProductDefaultShopId", "ProductActive", "ProductHidden" FROM "EcomProducts"'
    )
    return {pid: (default, bool(active), bool(hidden)) for pid, default, active, hidden in rows}


def _shop_groups(shop: Shop) -> set[tuple[str, str]]:
    return set(shop.rows('SELECT "ShopGroupShopID", "ShopGroupGroupID" FROM "EcomShopGroupRelation"'))


def _product_groups(shop: Shop) -> set[tuple[str, str]]:
    columns = '"GroupProductRelationProductID", "GroupProductRelationGroupID"'
    query = f'SELECT {columns} FROM "EcomGroupProductRelation"'  # noqa: S608
    return set(shop.rows(query))


def test_a_second_shop_leaves_the_first_shops_products_relations_and_flags_alone(shop: Shop) -> None:
    # SHOP1 sells A, B, C; SHOP2 sells B, C (overlap) and D, E (its own). Both list group G1.
    _import(
        shop, CATALOGUE_JOB, "SHOP1", _catalogue("SHOP1", {"A": "G1", "B": "G1", "C": "G1"}, groups=("G1",))
    )
    before = (_products(shop), _shop_groups(shop), _product_groups(shop))
    report = _import(
        shop,
        CATALOGUE_JOB,
        "SHOP2",
        _catalogue("SHOP2", {"B": "G1,G2", "C": "G1", "D": "G2", "E": "G2"}, groups=("G1", "G2")),
    )
    products = _products(shop)
    # SHOP1's products keep their default shop and stay active; A (not in SHOP2's export) too.
    assert {pid: products[pid] for pid in "ABC"} == before[0]
    assert products["D"] == products["E"] == ("SHOP2", True, False)
    assert report.tables["EcomProducts"].deactivated == 0
    # SHOP1's group relation survives; SHOP2 adds its own.
    assert _shop_groups(shop) == before[1] | {("SHOP2", "G1"), ("SHOP2", "G2")}
    assert _product_groups(shop) >= before[2]

    # SHOP1 drops A (only SHOP1 has it) and C (SHOP2 still sells it): only A goes.
    report = _import(shop, CATALOGUE_JOB, "SHOP1", _catalogue("SHOP1", {"B": "G1"}, groups=("G1",)))
    products = _products(shop)
    assert report.tables["EcomProducts"].deactivated == 1
    assert products["A"] == ("SHOP1", False, True)
    assert products["C"] == ("SHOP1", True, False)
    assert products["D"] == products["E"] == ("SHOP2", True, False)

    # SHOP2 drops D (its own) and C (SHOP1 no longer sells it): both go, SHOP1's B stays.
    report = _import(
        shop, CATALOGUE_JOB, "SHOP2", _catalogue("SHOP2", {"B": "G2", "E": "G2"}, groups=("G2",))
    )
    products = _products(shop)
    assert report.tables["EcomProducts"].deactivated == 2
    assert products["C"][1:] == products["D"][1:] == (False, True)
    assert products["B"] == ("SHOP1", True, False) and products["E"] == ("SHOP2", True, False)
    assert ("SHOP1", "G1") in _shop_groups(shop)


REMOVING_JOB = """
shop: SHOP1
mappings:
  - {source: EcomGroups, destination: EcomGroups}
  - {source: EcomProducts, destination: EcomProducts, remove_missing: true, min_share_for_removal: 0.0}
"""


def test_remove_missing_deletes_only_the_shops_own_products_and_group_relations(shop: Shop) -> None:
    shop1 = REMOVING_JOB
    shop2 = REMOVING_JOB.replace("shop: SHOP1", "shop: SHOP2")
    shop.run(shop1, _catalogue("SHOP1", {"A": "G1", "B": "G1"}, groups=("G1",)))
    shop.run(shop2, _catalogue("SHOP2", {"B": "G2", "C": "G2"}, groups=("G2",)))
    # B's relation to SHOP1's group G1 is SHOP1's: SHOP2's export (B in G2 only) leaves it.
    assert _product_groups(shop) == {("A", "G1"), ("B", "G1"), ("B", "G2"), ("C", "G2")}
    report = shop.run(shop2, _catalogue("SHOP2", {"B": "G2"}, groups=("G2",)))
    assert report.ok and report.tables["EcomProducts"].deleted == 1  # C; never SHOP1's A
    assert set(_products(shop)) == {"A", "B"}
    # SHOP1 drops B: SHOP2 still sells it, so it stays; B leaves SHOP1's group only.
    report = shop.run(shop1, _catalogue("SHOP1", {"A": "G1"}, groups=("G1",)))
    assert report.tables["EcomProducts"].deleted == 0
    assert set(_products(shop)) == {"A", "B"}


def test_the_import_scope_comes_from_the_runs_parameters() -> None:
    job = parse_job(CATALOGUE_JOB)
    assert job.import_for().shop == "SHOP1"  # the job's default parameter
    assert job.import_for({"shopID": "SHOP2"}).shop == "SHOP2"
    with pytest.raises(ConfigurationError, match=r"fetch\.parameters does not define"):
        parse_job(CATALOGUE_JOB.replace('shop: "{shopID}"', 'shop: "{shop}"'))


# -- bad rows ---------------------------------------------------------------------------------

PRICES = """
mappings:
  - source: EcomProducts
    destination: EcomProducts
    on_row_error: skip_row
    deactivate_missing: true
    max_skipped_share: 0.25
    min_share_for_removal: 0.0
"""


def _product(pid: str, price: str = "1.5") -> tuple[str, Row]:
    return ("EcomProducts", {"ProductID": pid, "ProductLanguageID": "LANG1", "ProductPrice": price})


def _active(shop: Shop) -> dict[str, bool]:
    return {pid: bool(a) for pid, a in shop.rows('SELECT "ProductID", "ProductActive" FROM "EcomProducts"')}


def test_skip_row_lands_the_good_rows_and_reports_the_bad_ones(shop: Shop) -> None:
    shop.run(PRICES, [_product(f"P{i}") for i in range(1, 6)])
    rows = [_product("P1"), _product("P2", "12,5"), _product("P3"), _product("P4"), _product("P5", "2")]
    report = shop.run(PRICES.replace("0.25", "0.2"), rows, now=None)
    assert report.ok and report.committed
    table = report.tables["EcomProducts"]
    assert (table.failed, table.staged) == (1, 4)
    [error] = report.failed_rows
    assert (error.table, error.row, error.column, error.value) == ("EcomProducts", 2, "ProductPrice", "12,5")
    assert "not a number" in error.reason
    assert report.failed_sources == [("EcomProducts", 2, dict(rows[1][1]))]
    prices = dict(shop.rows('SELECT "ProductID", "ProductPrice" FROM "EcomProducts"'))
    assert float(prices["P5"]) == 2.0 and float(prices["P2"]) == 1.5  # P2 keeps its old price
    # P2 was left out for a bad value, not dropped by the ERP: it is not deactivated.
    assert _active(shop) == dict.fromkeys(["P1", "P2", "P3", "P4", "P5"], True)
    assert table.deactivated == 0


def test_deactivation_is_refused_when_too_many_rows_were_skipped(shop: Shop) -> None:
    shop.run(PRICES, [_product(f"P{i}") for i in range(1, 6)])
    # 2 of 4 rows bad (50 % > 25 %); P5 missing would otherwise be deactivated.
    rows = [_product("P1"), _product("P2", "x"), _product("P3", "y"), _product("P4")]
    report = shop.run(PRICES, rows)
    assert report.ok and report.tables["EcomProducts"].failed == 2
    assert report.tables["EcomProducts"].deactivated == 0
    assert any("max_skipped_share" in w for w in report.warnings), report.warnings
    assert _active(shop)["P5"] is True
    # Under the share, deactivation runs: P5 missing, one bad row in five.
    report = shop.run(PRICES, [_product("P1"), _product("P2", "x"), _product("P3"), _product("P4")])
    assert report.tables["EcomProducts"].deactivated == 1 and _active(shop)["P5"] is False


def test_without_skip_row_one_bad_value_still_rejects_the_file(shop: Shop) -> None:
    report = shop.run(PRICES.replace("on_row_error: skip_row", "on_row_error: reject_file"),
                      [_product("P1"), _product("P2", "x")])  # fmt: skip
    assert not report.committed and report.errors and not report.failed_rows
    assert shop.rows('SELECT COUNT(*) FROM "EcomProducts"') == [(0,)]


@pytest.mark.parametrize(("keep", "expected"), [("keep_first", "1"), ("keep_last", "3")])
@pytest.mark.parametrize("batch_rows", [10, 1])  # repeated within a batch, and across batches
def test_duplicate_keys_can_be_discarded_keeping_the_first_or_the_last(
    shop: Shop, keep: str, expected: str, batch_rows: int
) -> None:
    job = f"""
batch_rows: {batch_rows}
mappings:
  - {{source: EcomProducts, destination: EcomProducts, on_duplicate: {keep}}}
"""
    rows = [_product("P1", "1"), _product("P2", "5"), _product("P1", "2"), _product("P1", "3")]
    report = shop.run(job, rows)
    assert report.ok, report.errors
    table = report.tables["EcomProducts"]
    assert (table.discarded, table.staged) == (2, 2)
    assert any("2 rows discarded as duplicate keys" in w for w in report.warnings)
    prices = {pid: float(p) for pid, p in shop.rows('SELECT "ProductID", "ProductPrice" FROM "EcomProducts"')}
    assert prices == {"P1": float(expected), "P2": 5.0}


def test_unknown_tables_and_columns_warn_and_strict_makes_them_errors(shop: Shop) -> None:
    rows: list[tuple[str, Row]] = [
        ("EcomProducts", {"ProductID": "P1", "ProductLanguageID": "LANG1", "ProductColour": "red"}),
        ("EcomGadgets", {"GadgetID": "G1"}),
    ]
    job = "mappings:\n  - {source: EcomProducts, destination: EcomProducts}\n"
    report = shop.run(job, rows)
    assert report.ok
    assert "source table EcomGadgets: no mapping, 1 rows ignored" in report.warnings
    assert any("source columns not mapped: ProductColour" in w for w in report.warnings)
    report = shop.run("strict: true\n" + job, rows)
    assert not report.committed
    assert {(e.table, e.column) for e in report.errors} == {
        ("EcomProducts", "ProductColour"),
        ("EcomGadgets", None),
    }
