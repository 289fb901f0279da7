"""The price audit's rules: the 0.005 tolerance, which amount is compared, what counts as missing,
and a sample that is the same for the same seed (its figures over the emulator: tests/live)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from erpbridge.batch.price_audit import GROUP_SIZE, compare, draw_sample, groups
from erpbridge.batch.price_audit_values import Candidates, Figure, Origin, Outcome, Probe, ProductRef, Quote

PROBE = Probe("10000", "EUR", "P1", "", "", Decimal(1))
D = Decimal


@pytest.mark.parametrize(
    ("served", "quoted", "outcome"),
    [
        (Figure(D("10.005")), Figure(D("10.00")), Outcome.MATCH),  # exactly the tolerance
        (Figure(D("10.006")), Figure(D("10.00")), Outcome.MISMATCH),
        (Figure(D("9.994")), Figure(D("10.00")), Outcome.MISMATCH),
        (Figure(None, D("12.10")), Figure(D("10.00"), D("12.10")), Outcome.MATCH),  # with VAT: both have it
        (Figure(None, D("12.10")), Figure(D("10.00"), None), Outcome.MISSING),  # nothing comparable
        (Figure(), Figure(D("10.00")), Outcome.MISSING),  # a fallback without a figure
        (None, Figure(D("10.00")), Outcome.MISSING),  # no batch price
        (Figure(), Figure(), Outcome.MATCH),  # BC does not know it, nor does the API
    ],
)
def test_a_figure_is_compared_with_the_quote_within_half_a_cent(
    served: Figure | None, quoted: Figure, outcome: Outcome
) -> None:
    assert compare(PROBE, Origin.CACHED, served, Quote(quoted)).outcome is outcome


def test_a_probe_bc_did_not_quote_is_not_compared() -> None:
    result = compare(PROBE, Origin.FRESH, Figure(D(1)), Quote(None, "ErpLimitReachedError: full"))
    assert result.outcome is Outcome.NOT_QUOTED and result.difference is None


def test_the_difference_is_served_minus_quoted_in_the_compared_field() -> None:
    result = compare(PROBE, Origin.STALE, Figure(D("9.00"), D("10.89")), Quote(Figure(D("9.90"), D("11.98"))))
    assert (result.compared_field, result.difference) == ("price", D("-0.90"))


CANDIDATES = Candidates(
    customers=[None, *(f"C{n}" for n in range(20))],
    products=[ProductRef(f"P{n:03d}") for n in range(50)],
    currencies=["EUR", "USD", "DKK"],
    price_breaks={"P001": [D(10)], "P002": [D(5), D(20)]},
)


def test_a_seed_draws_the_same_sample_of_distinct_probes_grouped_by_buyer() -> None:
    first = draw_sample(CANDIDATES, 200, random.Random(7))
    assert first == draw_sample(CANDIDATES, 200, random.Random(7))
    assert first != draw_sample(CANDIDATES, 200, random.Random(8))
    assert len(first) == len(set(first)) == 200
    assert all(p.quantity == 1 or p.quantity in CANDIDATES.price_breaks[p.product_id] for p in first)
    # few requests: every group of one customer and currency holds several products
    assert len(groups(first)) <= 200 // GROUP_SIZE * 2


def test_a_small_shop_is_checked_whole() -> None:
    small = Candidates(
        customers=[None, "C1"],
        products=[ProductRef("P001"), ProductRef("P009")],
        currencies=["EUR"],
        price_breaks={"P001": [D(10)]},
    )
    sample = draw_sample(small, 100, random.Random(1))
    assert len(sample) == 2 * 3  # two buyers × (P001 at 1 and 10, P009 at 1)
    assert (
        draw_sample(Candidates(customers=[None], products=[], currencies=["EUR"]), 10, random.Random(1)) == []
    )
