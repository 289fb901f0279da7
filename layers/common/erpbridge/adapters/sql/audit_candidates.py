"""What the price audit samples, read from the shop database: active customers (``AccessUser``),
active products and variants (``EcomProducts``), their price-break quantities (``EcomPrices.PriceQuantity``
above 1) and the shop's currencies (``EcomCurrencies``).

For a named shop (docs/shops-and-bad-rows.md): its customers are those whose ``AccessUserShopId``
is the shop or empty (a customer of no shop in particular); its products are those its imports
recorded (``erpbridge_shop_products``) or whose ``ProductDefaultShopId`` is the shop. A shop with
no product of its own recorded is sampled from the whole catalogue (and the report says so). The
default shop ("") is sampled from every customer and product. Currencies and price breaks are the
catalogue's: the shop database has no per-shop currency list."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from erpbridge.batch.price_audit_values import Candidates, ProductRef
from erpbridge.mapping.relations import SHOP_PRODUCTS
from erpbridge.shopdb.migrations import m0110_shop_products
from erpbridge.shopdb.schema import table

_own = sa.MetaData()
m0110_shop_products.define_tables(_own)
_held = _own.tables[SHOP_PRODUCTS[0]].c

#: At most this many of each are read; the sample is drawn from them.
MAX_CANDIDATES = 5000


class SqlAuditCandidates:
    def __init__(self, engine: Engine, *, anonymous: bool = True) -> None:
        self._engine = engine
        self._anonymous = anonymous  # anonymous prices are sampled too (customer None)

    def read(self, shop: str = "") -> Candidates:
        users, products = table("AccessUser").c, table("EcomProducts").c
        prices, currencies = table("EcomPrices").c, table("EcomCurrencies").c
        active_products = sa.select(products.ProductID, products.ProductVariantID).where(
            sa.or_(products.ProductActive.is_(None), products.ProductActive.is_(True))
        )
        with self._engine.connect() as connection:
            customers = (
                connection.execute(
                    sa.select(users.AccessUserCustomerNumber)
                    .where(
                        users.AccessUserCustomerNumber.is_not(None),
                        users.AccessUserCustomerNumber != "",
                        sa.or_(users.AccessUserActive.is_(None), users.AccessUserActive.is_(True)),
                        *_of_shop(users.AccessUserShopId, shop),
                    )
                    .distinct()
                    .order_by(users.AccessUserCustomerNumber)
                    .limit(MAX_CANDIDATES)
                )
                .scalars()
                .all()
            )
            product_rows: Sequence[sa.Row[tuple[str, str | None]]] = []
            if shop:
                own = [products.ProductDefaultShopId == shop]
                if sa.inspect(connection).has_table(SHOP_PRODUCTS[0]):  # before m0110: the default shop only
                    held = sa.select(_held.product_id).where(_held.shop_id == shop)
                    own.append(products.ProductID.in_(held))
                product_rows = _products(connection, active_products.where(sa.or_(*own)))
            whole_catalogue = not product_rows
            if whole_catalogue:
                product_rows = _products(connection, active_products)
            break_rows = connection.execute(
                sa.select(prices.PriceProductId, prices.PriceQuantity)
                .where(prices.PriceQuantity > 1, prices.PriceProductId.is_not(None))
                .distinct()
                .limit(MAX_CANDIDATES)
            ).all()
            codes = (
                connection.execute(
                    sa.select(currencies.CurrencyCode).distinct().order_by(currencies.CurrencyCode)
                )
                .scalars()
                .all()
            )
        breaks: dict[str, list[Decimal]] = {}
        for product_id, quantity in break_rows:
            breaks.setdefault(product_id, []).append(Decimal(quantity).normalize())
        return Candidates(
            customers=[*([None] if self._anonymous else []), *customers],
            # The unit left empty: the product's default unit, as a storefront asks most often.
            products=list(
                dict.fromkeys(ProductRef(row.ProductID, row.ProductVariantID or "") for row in product_rows)
            ),
            currencies=list(codes),
            price_breaks={product: sorted(set(quantities)) for product, quantities in breaks.items()},
            shop=shop,
            whole_catalogue=whole_catalogue,
        )


def _of_shop(column: sa.ColumnElement[str | None], shop: str) -> list[sa.ColumnElement[bool]]:
    """Rows of ``shop`` or of no shop in particular (no condition for the default shop "")."""
    return [sa.or_(column.is_(None), column == "", column == shop)] if shop else []


def _products(
    connection: sa.Connection, query: sa.Select[tuple[str, str | None]]
) -> Sequence[sa.Row[tuple[str, str | None]]]:
    return connection.execute(query.distinct().order_by(*query.selected_columns).limit(MAX_CANDIDATES)).all()
