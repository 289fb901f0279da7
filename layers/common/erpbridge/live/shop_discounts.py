"""The shop's own discounts on a priced basket: one rule for the ERP's answer and for the fallback.

When the shop controls discounts (``erp_controls_discount`` false) its discounts are amounts
without VAT. They are shown as discount lines (type ``discount``, or ``product_discount`` when
they name a product) and taken off the totals: the full amount off the total without VAT, and the
amount at the lines' average VAT rate (subtotal with VAT / subtotal), rounded to the cent half to
even, off the total with VAT. With no usable rate (a subtotal that is unknown or zero) the rate is 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal

from erpbridge.live.models import PricedLine, ShopDiscount, Totals

CENT = Decimal("0.01")


def discount_with_vat(
    discount: Decimal, *, subtotal: Decimal | None, subtotal_with_vat: Decimal | None
) -> Decimal:
    """``discount`` (without VAT) at the average VAT rate of the subtotal, rounded to the cent."""
    rate = subtotal_with_vat / subtotal if subtotal and subtotal_with_vat is not None else Decimal(1)
    return (discount * rate).quantize(CENT, rounding=ROUND_HALF_EVEN)


def vat_of(total: Decimal | None, total_with_vat: Decimal | None) -> Decimal | None:
    """The VAT in a total: the difference of the two totals, unknown when either is."""
    return None if total is None or total_with_vat is None else total_with_vat - total


def with_shop_discounts(
    lines: Sequence[PricedLine], totals: Totals, discounts: Sequence[ShopDiscount]
) -> tuple[list[PricedLine], Totals]:
    """``lines`` and ``totals`` with the shop's ``discounts`` applied (see the module docstring)."""
    discount = sum((d.amount for d in discounts), Decimal(0))
    off_with_vat = discount_with_vat(
        discount, subtotal=totals.subtotal, subtotal_with_vat=totals.subtotal_with_vat
    )
    total = None if totals.total is None else totals.total - discount
    total_with_vat = None if totals.total_with_vat is None else totals.total_with_vat - off_with_vat
    discount_lines = [
        PricedLine(
            line_type="product_discount" if d.product_id else "discount",
            product_id=d.product_id,
            name=d.name,
            quantity=Decimal(1),
            price=-d.amount,
        )
        for d in discounts
    ]
    return [*lines, *discount_lines], totals.model_copy(
        update={
            "discount": (totals.discount or Decimal(0)) + discount,
            "total": total,
            "total_with_vat": total_with_vat,
            "vat": vat_of(total, total_with_vat),
        }
    )
