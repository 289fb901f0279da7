"""Dynamicweb's shop, language and stamp columns, by table (anchor §4, MappingExtensions)."""

from __future__ import annotations

# The column a job's shop fills (and scopes removals by).
SHOP_COLUMNS = {
    "EcomProducts": "ProductDefaultShopId",
    "EcomPrices": "PriceShopId",
    "EcomOrders": "OrderShopId",
    "EcomShopGroupRelation": "ShopGroupShopID",
    "AccessUser": "AccessUserShopId",
}
# Shop columns that name a shared row's *default* shop: written on insert only when the import
# has a shop scope, so a second shop importing the same product does not move it.
DEFAULT_SHOP_COLUMNS = {"EcomProducts": "ProductDefaultShopId"}
# The column a job's language fills.
LANGUAGE_COLUMNS = {
    "EcomProducts": "ProductLanguageID",
    "EcomGroups": "GroupLanguageID",
    "EcomVariantGroups": "VariantGroupLanguageID",
    "EcomVariantsOptions": "VariantOptionLanguageID",
    "EcomCurrencies": "CurrencyLanguageId",
    "EcomStockLocation": "StockLocationLanguageId",
    "EcomOrders": "OrderLanguageId",
}
# Stamped by the importer, as Dynamicweb does for products (mapped values for them are ignored).
STAMP_COLUMNS = {
    "EcomProducts": ("ProductCreated", "ProductUpdated"),
    "AccessUser": ("AccessUserCreatedOn", "AccessUserUpdatedOn"),
}
