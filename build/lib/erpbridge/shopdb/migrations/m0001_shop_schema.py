"""The shop schema: Ecom catalogue, prices, currencies, countries, units, stock, users, orders.

Table and column names and keys are Dynamicweb's (batch-integration-anchor §4), so staged ERP
tables auto-match them. This file is frozen once released: a change to these tables is a new
migration file, never an edit here.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

MONEY = sa.Numeric(19, 4)
QUANTITY = sa.Numeric(19, 4)


def _id(
    name: str, length: int = 255, *, primary_key: bool = False, default: str | None = None
) -> sa.Column[str]:
    return sa.Column(
        name,
        sa.String(length),
        primary_key=primary_key,
        nullable=not primary_key and default is None,
        server_default=None if default is None else sa.text(f"'{default}'"),
    )


def _text(name: str, length: int = 255) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=True)


def _flag(name: str, default: bool = False) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.true() if default else sa.false())


def _number(name: str, kind: sa.Numeric[Decimal] | None = None) -> sa.Column[Decimal]:
    return sa.Column(name, kind if kind is not None else MONEY, nullable=True)


def _int(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=True)


def _stamp(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(), nullable=True)


def define_tables(metadata: sa.MetaData) -> None:
    """Add the initial shop tables to ``metadata`` (also used by :mod:`erpbridge.shopdb.schema`)."""
    t = sa.Table
    t(
        "EcomShops",
        metadata,
        _id("ShopID", primary_key=True),
        _text("ShopName"),
        _flag("ShopDefault"),
    )
    t(
        "EcomLanguages",
        metadata,
        _id("LanguageID", 50, primary_key=True),
        _text("LanguageCode2", 10),
        _text("LanguageName"),
        _text("LanguageNativeName"),
        _flag("LanguageIsDefault"),
    )
    t(
        "EcomGroups",
        metadata,
        _id("GroupID", primary_key=True),
        _id("GroupLanguageID", 50, primary_key=True),
        _text("GroupName"),
        _text("GroupNumber"),
        sa.Column("GroupDescription", sa.Text(), nullable=True),
    )
    t(
        "EcomGroupProductRelation",
        metadata,
        _id("GroupProductRelationGroupID", primary_key=True),
        _id("GroupProductRelationProductID", 30, primary_key=True),
        _int("GroupProductRelationSorting"),
        _flag("GroupProductRelationIsPrimary"),
    )
    t(
        "EcomShopGroupRelation",
        metadata,
        _id("ShopGroupShopID", primary_key=True),
        _id("ShopGroupGroupID", primary_key=True),
        _int("ShopGroupRelationsSorting"),
    )
    t(
        "EcomGroupRelations",
        metadata,
        _id("GroupRelationsGroupID", primary_key=True),
        _id("GroupRelationsParentID", primary_key=True),
        _int("GroupRelationsSorting"),
    )
    t(
        "EcomProducts",
        metadata,
        _id("ProductID", 30, primary_key=True),
        _id("ProductLanguageID", 50, primary_key=True),
        _id("ProductVariantID", primary_key=True, default=""),
        _text("ProductNumber"),
        _text("ProductName"),
        sa.Column("ProductShortDescription", sa.Text(), nullable=True),
        sa.Column("ProductLongDescription", sa.Text(), nullable=True),
        _flag("ProductActive", default=True),
        _flag("ProductHidden"),
        _number("ProductPrice"),
        _number("ProductStock", QUANTITY),
        _number("ProductCost"),
        _number("ProductWeight", QUANTITY),
        _number("ProductVolume", QUANTITY),
        _text("ProductEAN"),
        _text("ProductDefaultUnitId"),
        _text("ProductManufacturerID", 50),
        _text("ProductDefaultShopId"),
        _int("ProductVariantCounter"),
        _int("ProductVariantProdCounter"),
        _int("ProductType"),
        _number("ProductPurchaseMinimumQuantity", QUANTITY),
        _stamp("ProductCreated"),
        _stamp("ProductUpdated"),
        sa.Index("ix_EcomProducts_ProductNumber", "ProductNumber"),
    )
    t(
        "EcomVariantGroups",
        metadata,
        _id("VariantGroupID", primary_key=True),
        _id("VariantGroupLanguageID", 50, primary_key=True),
        _text("VariantGroupName"),
        _flag("VariantGroupFamily"),
    )
    t(
        "EcomVariantsOptions",
        metadata,
        _id("VariantOptionID", primary_key=True),
        _id("VariantOptionLanguageID", 50, primary_key=True),
        _text("VariantOptionGroupID"),
        _text("VariantOptionName"),
        _text("VariantOptionColor"),
        _int("VariantOptionSort"),
    )
    t(
        "EcomVariantgroupProductRelation",
        metadata,
        _id("VariantgroupProductRelationID", primary_key=True),
        sa.Column("VariantgroupProductRelationProductID", sa.String(30), nullable=False),
        sa.Column("VariantgroupProductRelationVariantGroupID", sa.String(255), nullable=False),
        _int("VariantGroupProductRelationSorting"),
        sa.UniqueConstraint(
            "VariantgroupProductRelationProductID",
            "VariantgroupProductRelationVariantGroupID",
            name="uq_EcomVariantgroupProductRelation_product_group",
        ),
    )
    t(
        "EcomVariantOptionsProductRelation",
        metadata,
        _id("VariantOptionsProductRelationProductID", primary_key=True),
        _id("VariantOptionsProductRelationVariantID", primary_key=True),
    )
    t(
        "EcomProductsRelated",
        metadata,
        _id("ProductRelatedProductID", 50, primary_key=True),
        _id("ProductRelatedProductRelID", 50, primary_key=True),
        _id("ProductRelatedGroupID", primary_key=True, default=""),
        _id("ProductRelatedProductRelVariantID", primary_key=True, default=""),
    )
    t(
        "EcomManufacturers",
        metadata,
        _id("ManufacturerID", 50, primary_key=True),
        _text("ManufacturerName"),
        _text("ManufacturerAddress"),
        _text("ManufacturerCity"),
        _text("ManufacturerZipCode"),
        _text("ManufacturerCountry"),
        _text("ManufacturerPhone"),
        _text("ManufacturerEmail"),
        _text("ManufacturerFax"),
        _text("ManufacturerWeb"),
    )
    t(
        "EcomPrices",
        metadata,
        _id("PriceID", primary_key=True),
        _text("PriceProductId", 30),
        _text("PriceProductVariantId"),
        _text("PriceProductLanguageId", 50),
        _text("PriceCurrency", 3),
        _number("PriceQuantity", QUANTITY),
        _number("PriceAmount"),
        _flag("PriceIsWithVat"),
        _text("PriceUserId"),
        _text("PriceUserGroupId"),
        _text("PriceUserCustomerNumber"),
        _text("PriceShopId"),
        _stamp("PriceValidFrom"),
        _stamp("PriceValidTo"),
        _flag("PriceIsInformative"),
        _text("PriceUnitId"),
        sa.Index("ix_EcomPrices_product", "PriceProductId", "PriceProductVariantId"),
    )
    t(
        "EcomCurrencies",
        metadata,
        _id("CurrencyCode", 3, primary_key=True),
        _id("CurrencyLanguageId", 50, primary_key=True),
        _text("CurrencyName"),
        _number("CurrencyRate", sa.Numeric(19, 8)),
        _text("CurrencySymbol", 10),
        _text("CurrencyPayGatewayCode"),
        _flag("CurrencyIsDefault"),
        _flag("CurrencyUseCurrencyCodeForFormat"),
    )
    t(
        "EcomCountries",
        metadata,
        _id("CountryCode2", 2, primary_key=True),
        _text("CountryCode3", 3),
        _number("CountryVAT"),
        _text("CountryCurrencyCode", 3),
        _int("CountryNumber"),
        _id("CountryCultureInfo", 15, default=""),
        _id("CountryRegionCode", 3, default=""),
    )
    t(
        "EcomCountryText",
        metadata,
        _id("CountryTextCode2", 2, primary_key=True),
        _id("CountryTextLanguageId", 50, primary_key=True),
        _text("CountryTextName"),
    )
    t(
        "EcomUnits",
        metadata,
        _id("UnitId", primary_key=True),
        _text("UnitExternalId"),
        _text("UnitName"),
    )
    t(
        "EcomUnitTranslations",
        metadata,
        _id("UnitTranslationUnitId", primary_key=True),
        _id("UnitTranslationLanguageId", 50, primary_key=True),
        _text("UnitTranslationName"),
    )
    t(
        "EcomStockLocation",
        metadata,
        sa.Column("StockLocationID", sa.BigInteger(), primary_key=True, autoincrement=False),
        _text("StockLocationName"),
        sa.Column("StockLocationGroupId", sa.BigInteger(), nullable=True),
        sa.Column("StockLocationDescription", sa.Text(), nullable=True),
        _text("StockLocationLanguageId", 50),
    )
    t(
        "EcomStockUnit",
        metadata,
        _id("StockUnitProductID", primary_key=True),
        _id("StockUnitVariantID", primary_key=True, default=""),
        _id("StockUnitID", primary_key=True),
        sa.Column(
            "StockUnitStockLocationId",
            sa.BigInteger(),
            primary_key=True,
            autoincrement=False,
            server_default=sa.text("0"),
        ),
        _number("StockUnitQuantity", QUANTITY),
        _text("StockUnitDescription"),
    )
    t(
        "AccessUser",
        metadata,
        sa.Column("AccessUserID", sa.Integer(), primary_key=True, autoincrement=True),
        _text("AccessUserUserName"),
        _text("AccessUserPassword"),
        _text("AccessUserName"),
        _text("AccessUserFirstName"),
        _text("AccessUserLastName"),
        _text("AccessUserEmail"),
        _text("AccessUserCustomerNumber"),
        _text("AccessUserExternalID"),
        _text("AccessUserCompany"),
        _text("AccessUserAddress"),
        _text("AccessUserAddress2"),
        _text("AccessUserZip"),
        _text("AccessUserCity"),
        _text("AccessUserCountryCode", 10),
        _text("AccessUserPhone"),
        _text("AccessUserMobile"),
        _text("AccessUserFax"),
        _text("AccessUserCurrencyCharacter", 10),
        _text("AccessUserJobTitle"),
        _flag("AccessUserActive", default=True),
        sa.Column("AccessUserType", sa.Integer(), nullable=False, server_default=sa.text("5")),
        _text("AccessUserGroups"),
        _flag("AccessUserNewsletterAllowed"),
        _text("AccessUserShopId"),
        sa.Column("AccessUserStockLocationID", sa.BigInteger(), nullable=True),
        _stamp("AccessUserCreatedOn"),
        _stamp("AccessUserUpdatedOn"),
        _text("AccessUserCreatedBy"),
        _text("AccessUserUpdatedBy"),
        _stamp("AccessUserExported"),
        sa.Index("ix_AccessUser_CustomerNumber", "AccessUserCustomerNumber"),
        sa.Index("ix_AccessUser_ExternalID", "AccessUserExternalID"),
        sa.Index("ix_AccessUser_UserName", "AccessUserUserName"),
    )
    t(
        "AccessUserAddress",
        metadata,
        sa.Column("AccessUserAddressID", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("AccessUserAddressUserID", sa.Integer(), nullable=True),
        _text("AccessUserAddressName"),
        _text("AccessUserAddressCallName"),
        _text("AccessUserAddressCompany"),
        _text("AccessUserAddressAddress"),
        _text("AccessUserAddressAddress2"),
        _text("AccessUserAddressZip"),
        _text("AccessUserAddressCity"),
        _text("AccessUserAddressState"),
        _text("AccessUserAddressCountry"),
        _text("AccessUserAddressCountryCode", 10),
        _text("AccessUserAddressEmail"),
        _text("AccessUserAddressPhone"),
        _text("AccessUserAddressPhoneBusiness"),
        _text("AccessUserAddressCell"),
        _text("AccessUserAddressFax"),
        _text("AccessUserAddressType", 50),
        _text("AccessUserAddressUniqueId"),
        _text("AccessUserAddressExternalId"),
        _flag("AccessUserAddressIsDefault"),
        sa.Index("ix_AccessUserAddress_UserID", "AccessUserAddressUserID"),
        sa.Index("ix_AccessUserAddress_ExternalId", "AccessUserAddressExternalId"),
    )
    address = (
        "Name",
        "Company",
        "Address",
        "Address2",
        "Zip",
        "City",
        "Country",
        "CountryCode",
        "Email",
        "Phone",
    )
    t(
        "EcomOrders",
        metadata,
        _id("OrderID", 50, primary_key=True),
        _text("OrderIntegrationOrderId", 50),
        _flag("OrderIsExported"),
        _flag("OrderComplete"),
        _flag("OrderCart"),
        _stamp("OrderCompletedDate"),
        _stamp("OrderDate"),
        _text("OrderStateID", 50),
        _text("OrderShopId"),
        _text("OrderLanguageId", 50),
        _text("OrderCurrencyCode", 3),
        sa.Column("OrderCustomerAccessUserId", sa.Integer(), nullable=True),
        _text("OrderCustomerNumber"),
        *[_text(f"OrderCustomer{part}") for part in address],
        *[_text(f"OrderDelivery{part}") for part in address],
        _number("OrderPriceWithVAT"),
        _number("OrderPriceWithoutVAT"),
        _number("OrderShippingFee"),
        _text("OrderPaymentMethodId", 50),
        _text("OrderPaymentMethodCode", 50),
        _text("OrderShippingMethodId", 50),
        _text("OrderShippingMethodCode", 50),
        _number("OrderDiscountPercentage"),
        sa.Column("OrderComment", sa.Text(), nullable=True),
        sa.Index("ix_EcomOrders_IntegrationOrderId", "OrderIntegrationOrderId"),
        sa.Index("ix_EcomOrders_Customer", "OrderCustomerNumber"),
    )
    t(
        "EcomOrderLines",
        metadata,
        _id("OrderLineID", 50, primary_key=True),
        sa.Column("OrderLineOrderID", sa.String(50), nullable=False),
        _text("OrderLineProductId", 30),
        _text("OrderLineProductVariantId"),
        _text("OrderLineProductNumber"),
        _text("OrderLineProductName"),
        _number("OrderLineQuantity", QUANTITY),
        _text("OrderLineUnitId"),
        _number("OrderLinePriceWithVat"),
        _number("OrderLinePriceWithoutVat"),
        _number("OrderLineUnitPriceWithVat"),
        _number("OrderLineUnitPriceWithoutVat"),
        _number("OrderLineTotalDiscountWithVAT"),
        _text("OrderLineType", 50),
        _text("OrderLineParentLineId", 50),
        sa.Column("OrderLineStockLocationId", sa.BigInteger(), nullable=True),
        sa.Index("ix_EcomOrderLines_OrderID", "OrderLineOrderID"),
    )


def upgrade(connection: Connection) -> None:
    metadata = sa.MetaData()
    define_tables(metadata)
    metadata.create_all(connection, checkfirst=True)
