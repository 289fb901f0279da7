"""The shop database's answer when the ERP cannot give one: a batch-imported price, but only one
that is true for what was asked.

A fallback price in the wrong currency or unit is worse than none: the storefront would show it
as the customer's price. So a row applies only when, as in Business Central's own price search,
every field it fills matches the request — variant, unit, currency, customer, price group, shop,
the date window — and its minimum quantity is reached. Among the rows that apply, a
variant-specific row beats a general one, then the lowest amount wins (BC's best price). Without
such a row the product's list price (``EcomProducts.ProductPrice``) applies only in the local
currency and the product's default unit. Otherwise the answer is :class:`NoShopPrice` with the
first part of the request nothing matched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal

from erpbridge.live.ports import NoShopPrice, ShopPrice, ShopPriceData, ShopPriceRow

_ONE = Decimal(1)
_NO_AMOUNT = Decimal("Infinity")


def shop_price(
    data: ShopPriceData,
    *,
    product_id: str,
    variant_id: str,
    unit: str,
    quantity: Decimal,
    currency: str,
    customer_number: str | None,
    shop_id: str,
    today: date,
) -> ShopPrice | NoShopPrice:
    """The price the shop database holds for this request, or why it holds none.

    ``currency`` and ``unit`` may be empty: the local currency and the product's default unit.
    """
    product = data.products.get((product_id, variant_id)) or data.products.get((product_id, ""))
    wanted_unit = unit or (product.default_unit if product is not None else "")
    wanted_currency = currency or data.local_currency or ""
    customer = customer_number or ""

    def unit_matches(row: ShopPriceRow) -> bool:
        row_unit = row.unit or (product.default_unit if product is not None else "")
        return not row_unit or not wanted_unit or row_unit == wanted_unit

    def currency_matches(row: ShopPriceRow) -> bool:
        return (row.currency or data.local_currency or "") == wanted_currency

    def valid_today(row: ShopPriceRow) -> bool:
        return (row.valid_from is None or row.valid_from <= today) and (
            row.valid_to is None or today <= row.valid_to
        )

    def reached(row: ShopPriceRow) -> bool:
        return (row.quantity if row.quantity is not None else _ONE) <= max(quantity, _ONE)

    candidates = [
        row
        for row in data.rows.get(product_id, ())
        if row.amount is not None
        and (not row.variant_id or row.variant_id == variant_id)
        and (not row.customer_number or row.customer_number == customer)
        and (not row.price_group or row.price_group in data.customer_groups)
        and not row.user_id  # a price for one shop user: the API knows customers, not users
        and (not row.shop_id or not shop_id or row.shop_id == shop_id)
    ]
    steps: tuple[tuple[Callable[[ShopPriceRow], bool], str], ...] = (
        (currency_matches, f"no shop price in {wanted_currency or 'the local currency'}"),
        (unit_matches, f"no shop price for unit {wanted_unit}"),
        (valid_today, f"no shop price valid on {today.isoformat()}"),
        (reached, f"no shop price for quantity {quantity.normalize():f}"),
    )
    reason = "the shop database has no price for this product" if product is None else None
    for matches, why in steps:
        if not candidates:
            break
        candidates = [row for row in candidates if matches(row)]
        if not candidates:
            reason = why
    stock = product.stock if product is not None else None
    as_of = product.updated if product is not None else None
    best = _best(candidates)
    if best is not None:
        amount = best.amount
        return ShopPrice(
            price=None if best.with_vat else amount,
            price_with_vat=amount if best.with_vat else None,
            stock=stock,
            as_of=as_of,
        )
    if product is None or product.list_price is None:
        return NoShopPrice(reason or "the shop database has no price for this product")
    # The list price is the local currency's price of the default unit, and nothing else.
    if not data.local_currency or wanted_currency != data.local_currency:
        return NoShopPrice(reason or f"no shop price in {wanted_currency or 'the local currency'}")
    if unit and product.default_unit and unit != product.default_unit:
        return NoShopPrice(reason or f"no shop price for unit {unit}")
    return ShopPrice(price=product.list_price, price_with_vat=None, stock=stock, as_of=as_of)


def _best(rows: Iterable[ShopPriceRow]) -> ShopPriceRow | None:
    """A variant-specific row first, then the lowest amount (rows without an amount never get here)."""

    def rank(row: ShopPriceRow) -> tuple[bool, Decimal]:
        return (not row.variant_id, row.amount if row.amount is not None else _NO_AMOUNT)

    return min(rows, key=rank, default=None)
