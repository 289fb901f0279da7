"""Batch-imported prices for the live fallback: reads what can apply, the domain chooses
(:mod:`erpbridge.live.shop_fallback`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from erpbridge.live.ports import ShopPriceData, ShopPriceRow, ShopProduct
from erpbridge.shopdb.schema import table


def _blank_or(column: Any, value: str) -> Any:
    """``column`` is NULL, empty or ``value`` (a blank field applies to everyone)."""
    return sa.or_(column.is_(None), column == "", column == value)


def _day(value: datetime | date | None) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


class SqlShopPrices:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._prices = table("EcomPrices")
        self._products = table("EcomProducts")
        self._users = table("AccessUser")
        self._currencies = table("EcomCurrencies")

    def read(self, product_ids: Sequence[str], *, customer_number: str | None, shop_id: str) -> ShopPriceData:
        ids = sorted(set(product_ids))
        p, e, u, c = self._prices.c, self._products.c, self._users.c, self._currencies.c
        with self._engine.connect() as connection:
            price_rows = connection.execute(
                sa.select(self._prices).where(
                    p.PriceProductId.in_(ids),
                    # Other customers' and shops' rows can be most of the table: never read them.
                    _blank_or(p.PriceUserCustomerNumber, customer_number or ""),
                    _blank_or(p.PriceShopId, shop_id) if shop_id else sa.true(),
                )
            ).all()
            product_rows = connection.execute(
                sa.select(
                    e.ProductID,
                    e.ProductVariantID,
                    e.ProductPrice,
                    e.ProductDefaultUnitId,
                    e.ProductStock,
                    e.ProductUpdated,
                ).where(e.ProductID.in_(ids))
            ).all()
            groups = (
                connection.execute(
                    sa.select(u.AccessUserGroups).where(u.AccessUserCustomerNumber == customer_number)
                )
                .scalars()
                .all()
                if customer_number
                else []
            )
            local = connection.execute(
                sa.select(c.CurrencyCode).where(c.CurrencyIsDefault.is_(True)).limit(1)
            ).scalar_one_or_none()
        rows: dict[str, list[ShopPriceRow]] = {}
        for r in price_rows:
            rows.setdefault(r.PriceProductId, []).append(
                ShopPriceRow(
                    product_id=r.PriceProductId,
                    variant_id=r.PriceProductVariantId or "",
                    unit=r.PriceUnitId or "",
                    currency=r.PriceCurrency or "",
                    quantity=_decimal(r.PriceQuantity),
                    amount=_decimal(r.PriceAmount),
                    with_vat=bool(r.PriceIsWithVat),
                    customer_number=r.PriceUserCustomerNumber or "",
                    price_group=r.PriceUserGroupId or "",
                    user_id=r.PriceUserId or "",
                    shop_id=r.PriceShopId or "",
                    valid_from=_day(r.PriceValidFrom),
                    valid_to=_day(r.PriceValidTo),
                )
            )
        products: dict[tuple[str, str], ShopProduct] = {}
        for r in product_rows:  # one row per language: the first one's figures serve
            products.setdefault(
                (r.ProductID, r.ProductVariantID or ""),
                ShopProduct(
                    list_price=_decimal(r.ProductPrice),
                    default_unit=r.ProductDefaultUnitId or "",
                    stock=_decimal(r.ProductStock),
                    updated=None if r.ProductUpdated is None else r.ProductUpdated.replace(tzinfo=UTC),
                ),
            )
        customer_groups = frozenset(
            group.strip() for value in groups if value for group in value.split(",") if group.strip()
        )
        return ShopPriceData(
            rows=rows, products=products, customer_groups=customer_groups, local_currency=local or None
        )
