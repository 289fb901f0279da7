"""The shop's discounts on a priced basket: one rule, whether the ERP or the fallback priced it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from erpbridge.live.models import PricedLine, ShopDiscount, Totals
from erpbridge.live.shop_discounts import discount_with_vat, with_shop_discounts

D = Decimal


@pytest.mark.parametrize(
    ("discount", "subtotal", "subtotal_with_vat", "expected"),
    [
        (D("10"), D("100"), D("125"), D("12.50")),
        (D("0.10"), D("100"), D("125"), D("0.12")),  # 0.125: half to even, not up
        (D("0.30"), D("100"), D("125"), D("0.38")),  # 0.375
        (D("1"), D("3"), D("3.57"), D("1.19")),
        (D("5"), D("0"), D("0"), D("5.00")),  # no rate from a zero subtotal: rate 1
        (D("5"), None, D("10"), D("5.00")),  # unknown subtotal: rate 1
    ],
    ids=["exact", "half-even-down", "half-even-up", "repeating-rate", "zero-subtotal", "unknown-subtotal"],
)
def test_discount_with_vat_is_rounded_to_the_cent_half_even_when_scaled_by_the_vat_rate(
    discount: Decimal, subtotal: Decimal | None, subtotal_with_vat: Decimal | None, expected: Decimal
) -> None:
    assert discount_with_vat(discount, subtotal=subtotal, subtotal_with_vat=subtotal_with_vat) == expected


def test_shop_discounts_become_lines_and_come_off_both_totals_when_applied() -> None:
    # GIVEN a basket of 100 (125 with VAT) plus 7 shipping (8.75 with VAT), and two shop discounts
    lines = [PricedLine(line_type="product", product_id="A", quantity=D(1), price=D(100))]
    totals = Totals(
        subtotal=D(100),
        subtotal_with_vat=D(125),
        shipping_fee=D("8.75"),
        discount=D(0),
        vat=D("26.75"),
        total=D(107),
        total_with_vat=D("133.75"),
    )
    discounts = [
        ShopDiscount(name="Spring", amount=D("0.10")),
        ShopDiscount(name="A", amount=D(2), product_id="A"),
    ]
    # WHEN they are applied
    new_lines, new_totals = with_shop_discounts(lines, totals, discounts)
    # THEN each is a negative line, and 2.10 (2.62 with VAT: 2.625 half-even) comes off the totals
    assert [(line.line_type, line.price) for line in new_lines[1:]] == [
        ("discount", D("-0.10")),
        ("product_discount", D(-2)),
    ]
    assert (new_totals.discount, new_totals.total, new_totals.total_with_vat) == (
        D("2.10"),
        D("104.90"),
        D("131.13"),
    )
    assert new_totals.vat == new_totals.total_with_vat - new_totals.total
