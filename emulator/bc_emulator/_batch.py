"""Batch export rows (``GetEcomData`` with ``type="all"`` children), with Dynamicweb's table and
column names (batch-integration-anchor §2.3 and §4), so a shop database auto-matches them.

Rows come out lazily from ``BatchRows``, which knows its length and can start at any row offset
without producing the rows before it: the server pages a 100,000-product export with a checkpoint
per caller and every page costs only its own rows.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bc_emulator._model import (
    SALES_TYPE_CUSTOMER,
    SALES_TYPE_PRICE_GROUP,
    BcError,
    Customer,
    Item,
    Language,
    Row,
    fmt_bool,
    fmt_date,
    fmt_number,
)

if TYPE_CHECKING:
    from bc_emulator.dataset import Dataset

TableRow = tuple[str, Row]
RELATED_GROUP_ID = "RELATED"
RATE_PRECISION = Decimal("0.000001")


class _Segment:
    """A run of rows: either a small list, or rows grouped per unit (item, customer …) whose row
    counts are known up front, so an offset maps to a unit by binary search."""

    def __init__(
        self,
        units: Sequence[Any],
        count_of: Callable[[Any], int],
        rows_of: Callable[[Any], list[TableRow]],
    ) -> None:
        self.units = units
        self.count_of = count_of
        self.rows_of = rows_of
        self._ends: list[int] | None = None

    @classmethod
    def of_rows(cls, rows: list[TableRow]) -> _Segment:
        return cls([rows], len, lambda r: r)

    @property
    def ends(self) -> list[int]:
        if self._ends is None:
            self._ends = list(itertools.accumulate(self.count_of(u) for u in self.units))
        return self._ends

    def __len__(self) -> int:
        ends = self.ends
        return ends[-1] if ends else 0

    def iter_from(self, offset: int) -> Iterator[TableRow]:
        ends = self.ends
        index = bisect.bisect_right(ends, offset)
        if index >= len(self.units):
            return
        start_of_unit = ends[index - 1] if index else 0
        first = self.rows_of(self.units[index])
        yield from first[offset - start_of_unit :]
        units = self.units
        for i in range(index + 1, len(units)):  # not islice: it would walk the skipped units
            yield from self.rows_of(units[i])


class BatchRows:
    """The ``(table_name, row)`` pairs of one batch family, iterable from any offset."""

    def __init__(self, family: str, segments: list[_Segment]) -> None:
        self.family = family
        self._segments = segments

    def __len__(self) -> int:
        return sum(len(s) for s in self._segments)

    def __iter__(self) -> Iterator[TableRow]:
        return self.iter_from(0)

    def iter_from(self, offset: int) -> Iterator[TableRow]:
        """Rows from ``offset`` (0-based) on; the rows before it are skipped without being built."""
        offset = max(offset, 0)
        for segment in self._segments:
            size = len(segment)
            if offset >= size:
                offset -= size
                continue
            yield from segment.iter_from(offset)
            offset = 0

    def __getitem__(self, index: slice) -> list[TableRow]:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("BatchRows supports rows[start:stop] only")
        start = index.start or 0
        if index.stop is None:
            return list(self.iter_from(start))
        return list(itertools.islice(self.iter_from(start), max(index.stop - start, 0)))


def _languages(ds: Dataset, language: str | None) -> list[Language]:
    if not language:
        return list(ds.languages)
    wanted = language.strip().upper()
    found = [lang for lang in ds.languages if lang.code == wanted or lang.code2.upper() == wanted]
    if not found:
        codes = ", ".join(lang.code for lang in ds.languages)
        raise BcError(f"The Language does not exist. Code='{language}'. Languages: {codes}.")
    return found


def batch_rows(ds: Dataset, family: str, *, shop_id: str = "", language: str | None = None) -> BatchRows:
    """All rows of a batch family (see business_central.BATCH_FAMILIES)."""
    builders: dict[str, Callable[[Dataset, str, list[Language]], list[_Segment]]] = {
        "products": _products,
        "productgroups": _product_groups,
        "currencies": _currencies,
        "countries": _countries,
        "units": _units,
        "languages": _languages_family,
        "manufacturers": _manufacturers,
        "relatedproducts": _related,
        "customers": _customers,
        "prices": _prices,
        "stock": _stock,
    }
    builder = builders.get(family.strip().lower())
    if builder is None:
        raise BcError(f"Unknown table '{family}' in GetEcomData. Supported: {', '.join(sorted(builders))}.")
    return BatchRows(family, builder(ds, shop_id, _languages(ds, language)))


# --- catalogue -----------------------------------------------------------------------------------


def _products(ds: Dataset, shop_id: str, langs: list[Language]) -> list[_Segment]:
    shared: list[TableRow] = []
    for group in ds.variant_groups.values():
        for lang in langs:
            shared.append(
                (
                    "EcomVariantGroups",
                    {
                        "VariantGroupID": group.id,
                        "VariantGroupLanguageID": lang.code,
                        "VariantGroupName": group.names[lang.code],
                        "VariantGroupFamily": fmt_bool(False),
                    },
                )
            )
    for group in ds.variant_groups.values():
        for sort, option_id in enumerate(group.options, start=1):
            option = ds.variant_options[option_id]
            for lang in langs:
                shared.append(
                    (
                        "EcomVariantsOptions",
                        {
                            "VariantOptionID": option.id,
                            "VariantOptionLanguageID": lang.code,
                            "VariantOptionGroupID": option.group_id,
                            "VariantOptionName": option.names[lang.code],
                            "VariantOptionColor": option.color,
                            "VariantOptionSort": str(sort),
                        },
                    )
                )
    category_sorting = {c.id: c.sorting for c in ds.categories}
    option_name = {o.id: o.names for o in ds.variant_options.values()}
    n_langs = len(langs)

    def count(item: Item) -> int:
        return n_langs * (1 + len(item.variant_ids)) + len(item.variant_ids)

    def rows(item: Item) -> list[TableRow]:
        result: list[TableRow] = []
        groups = ",".join(item.category_ids)
        sorting = ",".join(str(category_sorting.get(c, 0)) for c in item.category_ids)
        variant_groups = ",".join(item.variant_group_ids)
        variant_options = ",".join(
            dict.fromkeys(opt for variant in item.variant_ids for opt in variant.split("."))
        )
        is_stock = item.item_type == 0
        variant_stock = [ds.stock(item, v) if is_stock else 0 for v in item.variant_ids]
        master_stock = fmt_number(sum(variant_stock) if item.variant_ids else ds.stock(item))
        variant_stock_text = [fmt_number(q) for q in variant_stock]
        invariant: Row = {
            "ProductID": item.no,
            "ProductVariantID": "",
            "ProductNumber": item.no,
            "ProductActive": fmt_bool(not item.blocked),
            "ProductPrice": fmt_number(item.unit_price),
            "ProductStock": master_stock,
            "ProductCost": fmt_number(item.unit_cost),
            "ProductWeight": fmt_number(item.weight),
            "ProductEAN": item.ean,
            "ProductDefaultUnitId": item.base_unit,
            "ProductManufacturerID": item.manufacturer_id,
            "ProductDefaultShopId": shop_id,
            "ProductVariantCounter": str(len(item.variant_ids)),
            "ProductType": str(item.item_type),
            "Groups": groups,
            "PrimaryGroup": item.category_ids[0],
            "GroupSorting": sorting,
            "VariantGroups": variant_groups,
            "VariantOptions": variant_options,
        }
        for lang in langs:
            name = item.names[lang.code]
            base = dict(invariant)
            base["ProductLanguageID"] = lang.code
            base["ProductName"] = name
            base["ProductShortDescription"] = name
            base["ProductLongDescription"] = f"{name}. {item.no}"
            result.append(("EcomProducts", base))
            for variant_id, stock_text in zip(item.variant_ids, variant_stock_text, strict=True):
                option_names = " ".join(option_name[o][lang.code] for o in variant_id.split("."))
                variant_row = dict(base)
                variant_row["ProductVariantID"] = variant_id
                variant_row["ProductName"] = f"{name}, {option_names}"
                variant_row["ProductStock"] = stock_text
                variant_row["ProductVariantCounter"] = "0"
                variant_row["VariantGroups"] = ""
                variant_row["VariantOptions"] = ""
                result.append(("EcomProducts", variant_row))
        for variant_id in item.variant_ids:
            result.append(
                (
                    "EcomVariantOptionsProductRelation",
                    {
                        "VariantOptionsProductRelationProductID": item.no,
                        "VariantOptionsProductRelationVariantID": variant_id,
                    },
                )
            )
        return result

    return [_Segment.of_rows(shared), _Segment(ds.items, count, rows)]


def _product_groups(ds: Dataset, shop_id: str, langs: list[Language]) -> list[_Segment]:
    rows: list[TableRow] = []
    for cat in ds.categories:
        for lang in langs:
            rows.append(
                (
                    "EcomGroups",
                    {
                        "GroupID": cat.id,
                        "GroupLanguageID": lang.code,
                        "GroupName": cat.names[lang.code],
                        "GroupNumber": cat.number,
                        "Shops": shop_id,
                        "ShopSorting": str(cat.sorting),
                        "ParentGroups": cat.parent_id,
                        "ParentGroupsSorting": str(cat.sorting) if cat.parent_id else "",
                    },
                )
            )
    return [_Segment.of_rows(rows)]


def _related(ds: Dataset, shop_id: str, langs: list[Language]) -> list[_Segment]:
    shared: list[TableRow] = [
        (
            "EcomProductsRelatedGroups",
            {
                "RelatedGroupID": RELATED_GROUP_ID,
                "RelatedGroupName": {
                    "ENU": "Related products",
                    "DAN": "Relaterede produkter",
                    "DEU": "Ähnliche Produkte",
                }.get(lang.code, "Related products"),
                "RelatedGroupLanguageID": lang.code,
            },
        )
        for lang in langs
    ]
    with_related = [it for it in ds.items if it.related_item_nos]

    def rows(item: Item) -> list[TableRow]:
        return [
            (
                "EcomProductsRelated",
                {
                    "ProductRelatedProductID": item.no,
                    "ProductRelatedProductRelID": rel,
                    "ProductRelatedGroupID": RELATED_GROUP_ID,
                    "ProductRelatedProductRelVariantID": "",
                },
            )
            for rel in item.related_item_nos
        ]

    return [_Segment.of_rows(shared), _Segment(with_related, lambda it: len(it.related_item_nos), rows)]


def _manufacturers(ds: Dataset, shop_id: str, langs: list[Language]) -> list[_Segment]:
    return [
        _Segment.of_rows(
            [
                (
                    "EcomManufacturers",
                    {
                        "ManufacturerID": m.id,
                        "ManufacturerName": m.name,
                        "ManufacturerCity": m.city,
                        "ManufacturerZipCode": m.zip,
                        "ManufacturerCountry": m.country,
                        "ManufacturerPhone": m.phone,
                        "ManufacturerEmail": m.email,
                        "ManufacturerWeb": m.web,
                    },
                )
                for m in ds.manufacturers
            ]
        )
    ]


# --- shop data -----------------------------------------------------------------------------------


def _currencies(ds: Dataset, shop_id: str, langs: list[Language]) -> list[_Segment]:
    rows: list[TableRow] = []
    for cur in ds.currencies.values():
        # Dynamicweb's rate: the value of 100 units of this currency in the default currency (LCY = 100).
        rate = 100 / cur.per_lcy
        for lang in langs:
            rows.append(
                (
                    "EcomCurrencies",
                    {
                        "CurrencyCode": cur.code,
                        "CurrencyLanguageId": lang.code,
                        "CurrencyName": cur.name,
                        "CurrencyRate": format(rate.quantize(RATE_PRECISION).normalize(), "f"),
                        "CurrencySymbol": cur.symbol,
                        "CurrencyIsDefault": fmt_bool(cur.code == ds.lcy_code),
                    },
                )
            )
    return [_Segment.of_rows(rows)]


def _countries(ds: Dataset, shop_id: str, langs: list[Language]) -> list[_Segment]:
    rows: list[TableRow] = []
    for c in ds.countries.values():
        rows.append(
            (
                "EcomCountries",
                {
                    "CountryCode2": c.code2,
                    "CountryCode3": c.code3,
                    "CountryVAT": fmt_number(c.vat_rates["STANDARD"]),
                    "CountryCurrencyCode": c.currency_code,
                    "CountryNumber": str(int(c.number)),
                    "CountryCultureInfo": c.culture,
                    "CountryRegionCode": "",
                },
            )
        )
    for c in ds.countries.values():
        for lang in langs:
            rows.append(
                (
                    "EcomCountryText",
                    {
                        "CountryTextCode2": c.code2,
                        "CountryTextLanguageId": lang.code,
                        "CountryTextName": c.name,
                    },
                )
            )
    return [_Segment.of_rows(rows)]


def _units(ds: Dataset, shop_id: str, langs: list[Language]) -> list[_Segment]:
    default = ds.default_language.code
    rows: list[TableRow] = [
        ("EcomUnits", {"UnitId": u.code, "UnitExternalId": u.code, "UnitName": u.names[default]})
        for u in ds.units.values()
    ]
    for u in ds.units.values():
        for lang in langs:
            rows.append(
                (
                    "EcomUnitTranslations",
                    {
                        "UnitTranslationUnitId": u.code,
                        "UnitTranslationLanguageId": lang.code,
                        "UnitTranslationName": u.names[lang.code],
                    },
                )
            )
    return [_Segment.of_rows(rows)]


def _languages_family(ds: Dataset, shop_id: str, langs: list[Language]) -> list[_Segment]:
    return [
        _Segment.of_rows(
            [
                (
                    "EcomLanguages",
                    {
                        "LanguageID": lang.code,
                        "LanguageCode2": lang.code2,
                        "LanguageName": lang.name,
                        "LanguageNativeName": lang.native_name,
                        "LanguageIsDefault": fmt_bool(lang.code == ds.default_language.code),
                    },
                )
                for lang in langs
            ]
        )
    ]


# --- customers, prices, stock --------------------------------------------------------------------


def _customers(ds: Dataset, shop_id: str, langs: list[Language]) -> list[_Segment]:
    def count(c: Customer) -> int:
        return 1 + len(c.contacts) + len(c.ship_to)

    def rows(c: Customer) -> list[TableRow]:
        common = {
            "AccessUserCustomerNumber": c.no,
            "AccessUserCompany": c.name,
            "AccessUserAddress": c.address,
            "AccessUserAddress2": c.address2,
            "AccessUserZip": c.zip,
            "AccessUserCity": c.city,
            "AccessUserCountryCode": c.country_code,
            "AccessUserCurrencyCharacter": c.currency_code or ds.lcy_code,
            "AccessUserActive": fmt_bool(not c.blocked),
            "AccessUserType": "5",
            "AccessUserGroups": c.price_group,
            "AccessUserShopId": shop_id,
            "AccessUserFax": "",
            "AccessUserMobile": "",
        }
        result: list[TableRow] = [
            (
                "AccessUser",
                {
                    "AccessUserUserName": c.no,
                    "AccessUserName": c.name,
                    "AccessUserFirstName": "",
                    "AccessUserLastName": "",
                    "AccessUserEmail": c.email,
                    "AccessUserExternalID": c.no,
                    "AccessUserPhone": c.phone,
                    "AccessUserJobTitle": "",
                    **common,
                },
            )
        ]
        for ct in c.contacts:
            result.append(
                (
                    "AccessUser",
                    {
                        "AccessUserUserName": ct.email,
                        "AccessUserName": ct.name,
                        "AccessUserFirstName": ct.first_name,
                        "AccessUserLastName": ct.last_name,
                        "AccessUserEmail": ct.email,
                        "AccessUserExternalID": ct.no,
                        "AccessUserPhone": ct.phone,
                        "AccessUserJobTitle": ct.job_title,
                        **common,
                    },
                )
            )
        for a in c.ship_to:
            result.append(
                (
                    "AccessUserAddress",
                    {
                        # The customer's key value (its number = its ExternalID); the importer resolves it.
                        "AccessUserAddressUserID": c.no,
                        "AccessUserAddressExternalId": a.external_id,
                        "AccessUserAddressName": a.name,
                        "AccessUserAddressCompany": c.name,
                        "AccessUserAddressAddress": a.address,
                        "AccessUserAddressAddress2": a.address2,
                        "AccessUserAddressZip": a.zip,
                        "AccessUserAddressCity": a.city,
                        "AccessUserAddressCountry": ds.countries[a.country_code].name,
                        "AccessUserAddressCountryCode": a.country_code,
                        "AccessUserAddressEmail": a.email,
                        "AccessUserAddressPhone": a.phone,
                    },
                )
            )
        return result

    return [_Segment(ds.customers, count, rows)]


def _prices(ds: Dataset, shop_id: str, langs: list[Language]) -> list[_Segment]:
    priced = [it for it in ds.items if it.no in ds.sales_prices]

    def rows(item: Item) -> list[TableRow]:
        result: list[TableRow] = []
        for line in ds.sales_prices[item.no]:
            result.append(
                (
                    "EcomPrices",
                    {
                        "PriceID": line.id,
                        "PriceProductId": item.no,
                        "PriceProductVariantId": line.variant_id,
                        "PriceProductLanguageId": "",
                        "PriceCurrency": line.currency_code or ds.lcy_code,
                        "PriceQuantity": fmt_number(line.minimum_quantity),
                        "PriceAmount": fmt_number(line.unit_price),
                        "PriceIsWithVat": fmt_bool(line.price_includes_vat),
                        "PriceUserId": "",
                        "PriceUserGroupId": line.sales_code
                        if line.sales_type == SALES_TYPE_PRICE_GROUP
                        else "",
                        "PriceUserCustomerNumber": line.sales_code
                        if line.sales_type == SALES_TYPE_CUSTOMER
                        else "",
                        "PriceShopId": shop_id,
                        "PriceValidFrom": fmt_date(line.starting_date) or None,
                        "PriceValidTo": fmt_date(line.ending_date) or None,
                        "PriceIsInformative": fmt_bool(False),
                        "PriceUnitId": line.unit_code or item.base_unit,
                    },
                )
            )
        return result

    return [_Segment(priced, lambda it: len(ds.sales_prices[it.no]), rows)]


def _stock(ds: Dataset, shop_id: str, langs: list[Language]) -> list[_Segment]:
    lang = langs[0].code
    locations: list[TableRow] = [
        (
            "EcomStockLocation",
            {
                "StockLocationID": str(loc.id),
                "StockLocationName": loc.code,
                "StockLocationDescription": loc.name,
                "StockLocationGroupId": "1",
                "StockLocationLanguageId": lang,
            },
        )
        for loc in ds.locations
    ]
    n_locations = len(ds.locations)
    stocked = [it for it in ds.items if it.item_type == 0]

    def count(item: Item) -> int:
        return n_locations * max(1, len(item.variant_ids))

    def rows(item: Item) -> list[TableRow]:
        result: list[TableRow] = []
        for variant_id in item.variant_ids or ("",):
            for loc, quantity in zip(ds.locations, ds.location_stock(item, variant_id), strict=True):
                result.append(
                    (
                        "EcomStockUnit",
                        {
                            "StockUnitProductID": item.no,
                            "StockUnitVariantID": variant_id,
                            "StockUnitID": item.base_unit,
                            "StockUnitStockLocationId": str(loc.id),
                            "StockUnitQuantity": str(quantity),
                            "StockUnitDescription": "",
                        },
                    )
                )
        return result

    return [_Segment.of_rows(locations), _Segment(stocked, count, rows)]
