"""Which shop's imports contain a product: ``erpbridge_shop_products`` (shop id, product id).

Several shops share one catalogue (``EcomProducts``). A product belongs to every shop whose
import contains it; removal or deactivation of missing products for one shop then touches only
products that shop holds and no other shop does (batch-integration-anchor §5.8: "products not in
any group of another shop", without relying on groups, which shops often share). Written by the
mapping engine when an import has a shop scope.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def define_tables(metadata: sa.MetaData) -> None:
    sa.Table(
        "erpbridge_shop_products",
        metadata,
        sa.Column("shop_id", sa.String(255), primary_key=True),
        sa.Column("product_id", sa.String(30), primary_key=True),
        sa.Index("ix_erpbridge_shop_products_product", "product_id", "shop_id"),
    )


def upgrade(connection: Connection) -> None:
    metadata = sa.MetaData()
    define_tables(metadata)
    metadata.create_all(connection, checkfirst=True)
