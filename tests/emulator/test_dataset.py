"""The emulator's generated data set and its batch export rows."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from bc_emulator.business_central import BATCH_FAMILIES, BusinessCentral
from bc_emulator.dataset import BcError, Dataset
from bc_emulator.pricing import PriceQuery
from erpbridge.shopdb.schema import metadata

# Provider-only columns Dynamicweb resolves into relation tables (batch-integration-anchor §4.1).
VIRTUAL_COLUMNS = {
    "EcomProducts": {"Groups", "PrimaryGroup", "GroupSorting", "VariantGroups", "VariantOptions"},
    "EcomGroups": {"Shops", "ShopSorting", "ParentGroups", "ParentGroupsSorting"},
}
# Dynamicweb tables the reference names that the shop schema does not (yet) hold.
TABLES_OUTSIDE_SHOP_SCHEMA = {"EcomProductsRelatedGroups"}


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return Dataset.generate(seed=11, products=300, customers=12)


@pytest.fixture(scope="module")
def bc(ds: Dataset) -> BusinessCentral:
    return BusinessCentral(ds)


# --- generation ------------------------------------------------------------------------------------


def _fingerprint(ds: Dataset) -> tuple[object, ...]:
    return (
        [(i.no, i.names["ENU"], i.unit_price, i.units, i.variant_ids, i.category_ids) for i in ds.items],
        [(c.no, c.name, c.price_group, c.currency_code, c.contacts, c.ship_to) for c in ds.customers],
        sorted(
            (no, [(p.id, p.sales_type, p.sales_code, p.unit_price) for p in lines])
            for no, lines in ds.sales_prices.items()
        ),
        [ds.stock(i) for i in ds.items[:50]],
    )


def test_same_seed_gives_the_same_data_and_another_seed_does_not() -> None:
    one = Dataset.generate(seed=5, products=200, customers=10)
    two = Dataset.generate(seed=5, products=200, customers=10)
    assert _fingerprint(one) == _fingerprint(two)
    assert list(BusinessCentral(one).batch_rows("Products")) == list(
        BusinessCentral(two).batch_rows("Products")
    )
    assert _fingerprint(Dataset.generate(seed=6, products=200, customers=10)) != _fingerprint(one)


def test_requested_sizes_and_unique_keys(ds: Dataset) -> None:
    assert len(ds.items) == 300 and len(ds.customers) == 12
    assert len({i.no for i in ds.items}) == 300
    assert len({c.no for c in ds.customers}) == 12
    assert all(i.no.isalnum() for i in ds.items)  # Dynamicweb: imported ids only A-Z, a-z, 0-9


def test_variants_are_option_ids_joined_by_dots(ds: Dataset) -> None:
    with_variants = [i for i in ds.items if i.variant_ids]
    assert len(with_variants) > 30
    for item in with_variants:
        for variant in item.variant_ids:
            options = variant.split(".")
            assert len(options) == len(item.variant_group_ids)
            groups = [ds.variant_options[o].group_id for o in options]
            assert groups == list(item.variant_group_ids)
        assert len(set(item.variant_ids)) == len(item.variant_ids)


def test_units_of_measure_have_quantities_per_unit(ds: Dataset) -> None:
    for item in ds.items:
        assert item.units[0].code == item.base_unit and item.units[0].qty_per_unit == 1
        assert all(u.code in ds.units and u.qty_per_unit >= 1 for u in item.units)
    assert any(len(i.units) > 1 for i in ds.items)


def test_categories_form_a_tree_and_items_sit_in_it(ds: Dataset) -> None:
    by_id = {c.id: c for c in ds.categories}

    def depth(cat_id: str) -> int:
        parent = by_id[cat_id].parent_id
        return 1 if not parent else 1 + depth(parent)

    assert max(depth(c) for c in by_id) == 3
    assert all(not c.parent_id or c.parent_id in by_id for c in ds.categories)
    assert all(c in by_id for i in ds.items for c in i.category_ids)


def test_customers_reference_existing_master_data(ds: Dataset) -> None:
    for c in ds.customers:
        assert c.country_code in ds.countries
        assert not c.currency_code or c.currency_code in ds.currencies
        assert c.contacts and all(ct.customer_no == c.no for ct in c.contacts)
        assert all(a.external_id == f"{c.no}-{a.code}" for a in c.ship_to)
    assert {c.price_group for c in ds.customers} - {""}  # some customers are in price groups
    assert ds.currencies[ds.lcy_code].per_lcy == 1
    assert {c.vat_bus_posting_group for c in ds.countries.values()} == {"DOMESTIC", "EU", "EXPORT"}


def test_price_lines_cover_every_kind_of_sales_price() -> None:
    ds = Dataset.generate(seed=1, products=1000, customers=50)
    lines = [p for ps in ds.sales_prices.values() for p in ps]
    assert {p.sales_type for p in lines} == {"Customer", "Customer Price Group", "All Customers"}
    assert any(p.minimum_quantity > 1 for p in lines)
    assert any(p.unit_code for p in lines)
    assert any(p.currency_code for p in lines)
    assert any(p.starting_date for p in lines) and any(p.ending_date for p in lines)
    assert any(p.price_includes_vat for p in lines)
    assert any(p.variant_id for p in lines)
    assert ds.item_line_discounts and ds.group_line_discounts and ds.invoice_discounts


def test_default_data_set_prices_every_product(bc: BusinessCentral, ds: Dataset) -> None:
    customer = ds.customers[0].no
    answers = bc.product_info(customer, [PriceQuery(i.no) for i in ds.items if not i.blocked])
    assert all(a is not None and a.price > 0 and a.price_with_vat >= a.price for a in answers)


# --- batch rows --------------------------------------------------------------------------------------


def _tables(bc: BusinessCentral, family: str, **kw: str) -> dict[str, list[dict[str, str | None]]]:
    result: dict[str, list[dict[str, str | None]]] = defaultdict(list)
    for table, row in bc.batch_rows(family, **kw):
        result[table].append(row)
    return result


@pytest.mark.parametrize("family", BATCH_FAMILIES)
def test_batch_rows_use_the_shop_schemas_table_and_column_names(bc: BusinessCentral, family: str) -> None:
    tables = _tables(bc, family, shop_id="SHOP1")
    assert tables, family
    for table, rows in tables.items():
        if table in TABLES_OUTSIDE_SHOP_SCHEMA:
            continue
        assert table in metadata.tables, table
        schema_columns = set(metadata.tables[table].c.keys()) | VIRTUAL_COLUMNS.get(table, set())
        keys = {c.name for c in metadata.tables[table].primary_key if c.autoincrement is not True}
        for row in rows:
            assert set(row) <= schema_columns, (table, set(row) - schema_columns)
            if table not in ("AccessUser", "AccessUserAddress"):
                assert keys <= set(row), (table, keys - set(row))
        assert len({tuple(sorted(row.items(), key=lambda kv: kv[0])) for row in rows}) == len(rows)


def test_product_rows_carry_groups_and_variants(bc: BusinessCentral, ds: Dataset) -> None:
    tables = _tables(bc, "Products", shop_id="SHOP1", language="ENU")
    products = tables["EcomProducts"]
    item = next(i for i in ds.items if i.variant_ids)
    master = next(r for r in products if r["ProductID"] == item.no and r["ProductVariantID"] == "")
    assert master["Groups"] == ",".join(item.category_ids)
    assert master["PrimaryGroup"] == item.category_ids[0]
    assert master["VariantGroups"] == ",".join(item.variant_group_ids)
    assert set((master["VariantOptions"] or "").split(",")) == {
        o for v in item.variant_ids for o in v.split(".")
    }
    assert master["ProductDefaultShopId"] == "SHOP1"
    variants = [
        r["ProductVariantID"] for r in products if r["ProductID"] == item.no and r["ProductVariantID"]
    ]
    assert variants == list(item.variant_ids)
    relations = {
        r["VariantOptionsProductRelationVariantID"]
        for r in tables["EcomVariantOptionsProductRelation"]
        if r["VariantOptionsProductRelationProductID"] == item.no
    }
    assert relations == set(item.variant_ids)
    assert {r["VariantOptionID"] for r in tables["EcomVariantsOptions"]} == set(ds.variant_options)
    assert {r["ProductLanguageID"] for r in products} == {"ENU"}
    assert len(products) == sum(1 + len(i.variant_ids) for i in ds.items)


def test_language_filter_and_unknown_names(bc: BusinessCentral) -> None:
    assert {r["GroupLanguageID"] for r in _tables(bc, "ProductGroups", language="dan")["EcomGroups"]} == {
        "DAN"
    }
    assert {r["GroupLanguageID"] for r in _tables(bc, "ProductGroups")["EcomGroups"]} == {"ENU", "DAN", "DEU"}
    with pytest.raises(BcError, match="Language"):
        bc.batch_rows("Products", language="XX")
    with pytest.raises(BcError, match="Unknown table"):
        bc.batch_rows("Vendors")


def test_group_rows_reflect_the_shop_and_the_tree(bc: BusinessCentral, ds: Dataset) -> None:
    groups = _tables(bc, "ProductGroups", shop_id="SHOP9", language="ENU")["EcomGroups"]
    assert {r["Shops"] for r in groups} == {"SHOP9"}
    parents = {r["GroupID"]: r["ParentGroups"] for r in groups}
    assert parents == {c.id: c.parent_id for c in ds.categories}


def test_customer_rows_link_contacts_and_addresses(bc: BusinessCentral, ds: Dataset) -> None:
    tables = _tables(bc, "Customers", shop_id="SHOP1")
    users = tables["AccessUser"]
    assert len(users) == sum(1 + len(c.contacts) for c in ds.customers)
    customer = ds.customers[0]
    linked = [u for u in users if u["AccessUserCustomerNumber"] == customer.no]
    assert {u["AccessUserExternalID"] for u in linked} == {customer.no, *(ct.no for ct in customer.contacts)}
    external_ids = [a["AccessUserAddressExternalId"] for a in tables.get("AccessUserAddress", [])]
    assert len(external_ids) == len(set(external_ids)) == sum(len(c.ship_to) for c in ds.customers)
    owners = {a["AccessUserAddressUserID"] for a in tables.get("AccessUserAddress", [])}
    assert owners <= {u["AccessUserExternalID"] for u in users}


def test_price_rows_have_the_full_identity(bc: BusinessCentral, ds: Dataset) -> None:
    rows = _tables(bc, "Prices", shop_id="SHOP1")["EcomPrices"]
    assert len(rows) == sum(len(v) for v in ds.sales_prices.values())
    identity = [
        "PriceProductId",
        "PriceProductVariantId",
        "PriceProductLanguageId",
        "PriceCurrency",
        "PriceQuantity",
        "PriceUserGroupId",
        "PriceUserCustomerNumber",
        "PriceIsInformative",
        "PriceShopId",
        "PriceValidFrom",
        "PriceValidTo",
        "PriceUnitId",
    ]
    assert all(set(identity) <= row.keys() for row in rows)
    assert len({row["PriceID"] for row in rows}) == len(rows)
    assert {row["PriceShopId"] for row in rows} == {"SHOP1"}


def test_stock_rows_add_up_to_the_live_stock(bc: BusinessCentral, ds: Dataset) -> None:
    tables = _tables(bc, "Stock")
    assert len(tables["EcomStockLocation"]) == len(ds.locations)
    totals: Counter[str] = Counter()
    for row in tables["EcomStockUnit"]:
        totals[row["StockUnitProductID"] or ""] += int(row["StockUnitQuantity"] or 0)
    assert totals
    compared = 0
    for item in ds.items[:40]:
        if item.item_type == 0:
            (answer,) = bc.product_info(None, [PriceQuery(item.no)])
            if answer is not None:
                assert answer.stock == Decimal(totals[item.no])
                compared += 1
    assert compared >= 20, compared  # the stock comparison above really ran, on many items


@pytest.mark.parametrize("family", ["Products", "Customers", "Stock", "Prices", "RelatedProducts"])
def test_batch_rows_can_start_at_any_offset(bc: BusinessCentral, family: str) -> None:
    rows = bc.batch_rows(family, shop_id="S")
    everything = list(rows)
    assert len(rows) == len(everything)
    for offset in (0, 1, 5, 17, 18, 19, len(everything) // 2, len(everything) - 1, len(everything)):
        assert list(rows.iter_from(offset)) == everything[offset:]
        assert rows[offset : offset + 7] == everything[offset : offset + 7]


def test_shop_data_rows_carry_rates_vat_and_translations(bc: BusinessCentral) -> None:
    currencies = {r["CurrencyCode"]: r for r in _tables(bc, "Currencies", language="ENU")["EcomCurrencies"]}
    assert (currencies["EUR"]["CurrencyRate"], currencies["EUR"]["CurrencyIsDefault"]) == ("100", "True")
    assert currencies["USD"]["CurrencyRate"] == "92.165899"  # 100 USD in EUR at 1.085 USD per EUR
    assert currencies["USD"]["CurrencyIsDefault"] == "False"
    countries = _tables(bc, "Countries")
    vat = {r["CountryCode2"]: r["CountryVAT"] for r in countries["EcomCountries"]}
    assert (vat["DE"], vat["DK"], vat["US"]) == ("19", "25", "0")
    assert len(countries["EcomCountryText"]) == 3 * len(vat)
    units = _tables(bc, "Units")
    names = {
        (r["UnitTranslationUnitId"], r["UnitTranslationLanguageId"]): r["UnitTranslationName"]
        for r in units["EcomUnitTranslations"]
    }
    assert names[("PCS", "DEU")] == "Stück"
    assert [r["LanguageID"] for r in _tables(bc, "Languages")["EcomLanguages"]] == ["ENU", "DAN", "DEU"]
