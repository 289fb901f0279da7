"""What the price audit samples, read from the shop database: active customers (``AccessUser``),
active products and variants (``EcomProducts``), their price-break quantities (``EcomPrices.PriceQuantity``
above 1) and the shop's currencies (``EcomCurrencies``)."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from erpbridge.batch.price_audit import Candidates, ProductRef
from erpbridge.shopdb.schema import table

#: At most this many of each are read; the sample is drawn from them.
MAX_CANDIDATES = 5000


class SqlAuditCandidates:
    def __init__(self, engine: Engine, *, anonymous: bool = True) -> None:
        self._engine = engine
        self._anonymous = anonymous  # anonymous prices are sampled too (customer None)

    def read(self) -> Candidates:
        users, products = table("AccessUser").c, table("EcomProducts").c
        prices, currencies = table("EcomPrices").c, table("EcomCurrencies").c
        with self._engine.connect() as connection:
            customers = (
                connection.execute(
                    sa.select(users.AccessUserCustomerNumber)
                    .where(
                        users.AccessUserCustomerNumber.is_not(None),
                        users.AccessUserCustomerNumber != "",
                        sa.or_(users.AccessUserActive.is_(None), users.AccessUserActive.is_(True)),
                    )
                    .distinct()
                    .order_by(users.AccessUserCustomerNumber)
                    .limit(MAX_CANDIDATES)
                )
                .scalars()
                .all()
            )
            product_rows = connection.execute(
                sa.select(products.ProductID, products.ProductVariantID)
                .where(sa.or_(products.ProductActive.is_(None), products.ProductActive.is_(True)))
                .distinct()
                .order_by(products.ProductID, products.ProductVariantID)
                .limit(MAX_CANDIDATES)
            ).all()
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
        )
