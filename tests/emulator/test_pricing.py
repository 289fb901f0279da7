"""The emulator's BC pricing rules, one by one, through BusinessCentral.product_info.

Each test sets up the price lines it needs on one item of a small generated data set, so the
expected figures follow from the rule under test and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest

from bc_emulator._model import (
    SALES_TYPE_ALL,
    SALES_TYPE_CUSTOMER,
    SALES_TYPE_DISC_GROUP,
    SALES_TYPE_PRICE_GROUP,
    Customer,
    Item,
    ItemUnit,
    LineDiscount,
    SalesPrice,
)
from bc_emulator.business_central import BusinessCentral
from bc_emulator.dataset import BcError, Dataset
from bc_emulator.pricing import PriceAnswer, PriceQuery

TODAY = date(2026, 3, 1)
D = Decimal


@dataclass
class Scenario:
    ds: Dataset
    bc: BusinessCentral
    item: Item
    customer: Customer  # in price group WHOLESALE, country DE, LCY
    other: Customer  # also in WHOLESALE, country DE

    def prices(self, *lines: SalesPrice) -> None:
        self.ds.sales_prices[self.item.no] = list(lines)

    def discounts(self, *lines: LineDiscount) -> None:
        self.ds.item_line_discounts[self.item.no] = list(lines)

    def ask(
        self,
        customer_no: str | None,
        quantity: int | str = 1,
        *,
        unit: str = "",
        currency: str | None = None,
        on: date | None = None,
        variant: str = "",
        vat_country: str | None = None,
        vat_posting_group: str | None = None,
    ) -> PriceAnswer:
        (answer,) = self.bc.product_info(
            customer_no,
            [
                PriceQuery(
                    self.item.no, variant, unit, D(quantity), identifier=f"{self.item.no}.{variant}.ENU"
                )
            ],
            currency,
            on,
            vat_country=vat_country,
            vat_posting_group=vat_posting_group,
        )
        assert answer is not None
        return answer


def _customer(c: Customer, price_group: str) -> Customer:
    c.price_group = price_group
    c.disc_group = ""
    c.country_code = "DE"
    c.currency_code = ""
    c.allow_line_disc = True
    c.invoice_disc_code = ""
    return c


@pytest.fixture
def sc() -> Scenario:
    ds = Dataset.generate(seed=7, products=20, customers=4)
    item = ds.items[0]
    item.unit_price = D(100)
    item.units = (ItemUnit("PCS", 1), ItemUnit("BOX", 12))
    item.variant_group_ids = ("COLOR",)
    item.variant_ids = ("RED", "BLUE")
    item.vat_prod_posting_group = "STANDARD"
    item.item_disc_group = "B"
    item.item_type = 0
    item.blocked = False
    ds.sales_prices[item.no] = []
    ds.item_line_discounts.pop(item.no, None)
    ds.group_line_discounts.clear()
    customer = _customer(ds.customers[0], "WHOLESALE")
    other = _customer(ds.customers[1], "WHOLESALE")
    return Scenario(ds, BusinessCentral(ds, today=TODAY), item, customer, other)


def price(id_: str, sc: Scenario, sales_type: str, code: str, amount: str, **kw: object) -> SalesPrice:
    return SalesPrice(id_, sc.item.no, sales_type, code, D(amount), **kw)  # type: ignore[arg-type]


# --- which price wins -----------------------------------------------------------------------------


def test_item_card_price_applies_when_no_price_line_does(sc: Scenario) -> None:
    answer = sc.ask(sc.customer.no)
    assert answer.price == D(100)
    assert answer.price_source == "item"


def test_group_price_beats_all_customers_price_when_lower(sc: Scenario) -> None:
    sc.prices(
        price("ALL", sc, SALES_TYPE_ALL, "", "95"),
        price("GRP", sc, SALES_TYPE_PRICE_GROUP, "WHOLESALE", "90"),
    )
    assert sc.ask(sc.customer.no).price == D(90)
    assert sc.ask(None).price == D(95)  # anonymous: all-customers prices only
    sc.other.price_group = "DEALER"
    assert sc.ask(sc.other.no).price == D(95)  # not in the group


def test_customer_price_beats_group_price_when_lower(sc: Scenario) -> None:
    sc.prices(
        price("ALL", sc, SALES_TYPE_ALL, "", "95"),
        price("GRP", sc, SALES_TYPE_PRICE_GROUP, "WHOLESALE", "90"),
        price("CUS", sc, SALES_TYPE_CUSTOMER, sc.customer.no, "85"),
    )
    assert sc.ask(sc.customer.no).price_source == "CUS"
    assert sc.ask(sc.customer.no).price == D(85)
    assert sc.ask(sc.other.no).price == D(90)  # the agreement is the first customer's only


def test_on_equal_prices_the_customer_agreement_is_the_source(sc: Scenario) -> None:
    sc.prices(
        price("ALL", sc, SALES_TYPE_ALL, "", "90"),
        price("GRP", sc, SALES_TYPE_PRICE_GROUP, "WHOLESALE", "90"),
        price("CUS", sc, SALES_TYPE_CUSTOMER, sc.customer.no, "90"),
    )
    assert sc.ask(sc.customer.no).price_source == "CUS"
    assert sc.ask(sc.other.no).price_source == "GRP"


def test_the_lowest_applicable_price_wins_whatever_its_source(sc: Scenario) -> None:
    sc.prices(
        price("ALL", sc, SALES_TYPE_ALL, "", "80"),
        price("GRP", sc, SALES_TYPE_PRICE_GROUP, "WHOLESALE", "90"),
        price("CUS", sc, SALES_TYPE_CUSTOMER, sc.customer.no, "99"),
    )
    assert sc.ask(sc.customer.no).price == D(80)


def test_a_price_line_dearer_than_the_item_card_still_applies(sc: Scenario) -> None:
    # BC falls back to the item card only when no line applies at all.
    sc.prices(price("ALL", sc, SALES_TYPE_ALL, "", "120"))
    assert sc.ask(sc.customer.no).price == D(120)


# --- quantity breaks --------------------------------------------------------------------------------


def test_quantity_breaks_apply_from_their_minimum_quantity(sc: Scenario) -> None:
    sc.prices(
        price("Q10", sc, SALES_TYPE_ALL, "", "90", minimum_quantity=D(10)),
        price("Q50", sc, SALES_TYPE_ALL, "", "80", minimum_quantity=D(50)),
    )
    assert [sc.ask(sc.customer.no, q).price for q in (1, 9, 10, 49, 50, 500)] == [
        D(100),
        D(100),
        D(90),
        D(90),
        D(80),
        D(80),
    ]


def test_price_rows_list_the_customers_quantity_breaks(sc: Scenario) -> None:
    sc.prices(
        price("Q10", sc, SALES_TYPE_ALL, "", "90", minimum_quantity=D(10)),
        price("G25", sc, SALES_TYPE_PRICE_GROUP, "WHOLESALE", "85", minimum_quantity=D(25)),
    )
    rows = sc.ask(sc.customer.no).price_rows()
    assert [(r["PriceQuantity"], r["PriceAmount"]) for r in rows] == [
        ("1", "100"),
        ("10", "90"),
        ("25", "85"),
    ]
    assert {r["PriceUserCustomerNumber"] for r in rows} == {sc.customer.no}
    assert {r["PriceProductId"] for r in rows} == {sc.item.no}
    assert rows[0]["PriceAmountWithVat"] == "119"
    # Another customer outside the group sees only the all-customers break.
    sc.other.price_group = ""
    assert [r["PriceQuantity"] for r in sc.ask(sc.other.no).price_rows()] == ["1", "10"]


# --- unit of measure ---------------------------------------------------------------------------------


def test_base_unit_price_is_multiplied_by_quantity_per_unit(sc: Scenario) -> None:
    answer = sc.ask(sc.customer.no, unit="BOX")
    assert answer.price == D(1200)
    assert answer.unit_id == "BOX"
    assert answer.default_unit_id == "PCS"


def test_price_line_for_the_unit_beats_the_converted_base_price(sc: Scenario) -> None:
    sc.prices(price("BOX", sc, SALES_TYPE_ALL, "", "1000", unit_code="BOX"))
    assert sc.ask(sc.customer.no, unit="BOX").price == D(1000)
    assert sc.ask(sc.customer.no).price == D(100)  # a BOX line does not price pieces


def test_base_unit_minimum_quantity_counts_base_units(sc: Scenario) -> None:
    sc.prices(price("Q24", sc, SALES_TYPE_ALL, "", "90", minimum_quantity=D(24)))
    assert sc.ask(sc.customer.no, 1, unit="BOX").price == D(1200)  # 12 pieces
    assert sc.ask(sc.customer.no, 2, unit="BOX").price == D(1080)  # 24 pieces → 90 × 12


def test_stock_is_answered_in_the_requested_unit(sc: Scenario) -> None:
    pieces = sc.ask(sc.customer.no).stock
    boxes = sc.ask(sc.customer.no, unit="BOX").stock
    assert pieces is not None and boxes is not None
    assert pieces == sc.ds.stock(sc.item)
    assert boxes == (pieces / 12).to_integral_value(rounding="ROUND_FLOOR")


# --- currency ----------------------------------------------------------------------------------------


def test_lcy_price_is_converted_at_the_exchange_rate(sc: Scenario) -> None:
    answer = sc.ask(sc.customer.no, currency="USD")
    assert answer.currency == "USD"
    assert answer.price == D("108.5")  # 100 EUR × 1.085


def test_blank_or_lcy_currency_means_local_currency(sc: Scenario) -> None:
    assert sc.ask(sc.customer.no, currency="").price == D(100)
    assert sc.ask(sc.customer.no, currency="EUR").currency == "EUR"


def test_price_in_the_requested_currency_beats_a_converted_one(sc: Scenario) -> None:
    sc.prices(
        price("EUR", sc, SALES_TYPE_ALL, "", "90"),
        price("USD", sc, SALES_TYPE_ALL, "", "110", currency_code="USD"),
    )
    assert sc.ask(sc.customer.no, currency="USD").price == D(110)  # BC prefers the currency's own line
    assert sc.ask(sc.customer.no, currency="GBP").price == D("76.95")  # 90 × 0.855
    assert sc.ask(sc.customer.no).price == D(90)


def test_unknown_currency_is_an_error(sc: Scenario) -> None:
    with pytest.raises(BcError, match="Currency"):
        sc.ask(sc.customer.no, currency="XYZ")


# --- dates -------------------------------------------------------------------------------------------


def test_price_lines_apply_only_between_their_dates(sc: Scenario) -> None:
    start, end = date(2026, 2, 1), date(2026, 2, 28)
    sc.prices(price("CAMPAIGN", sc, SALES_TYPE_ALL, "", "70", starting_date=start, ending_date=end))
    assert sc.ask(sc.customer.no, on=start - timedelta(days=1)).price == D(100)
    assert sc.ask(sc.customer.no, on=start).price == D(70)
    assert sc.ask(sc.customer.no, on=end).price == D(70)
    assert sc.ask(sc.customer.no, on=end + timedelta(days=1)).price == D(100)
    assert sc.ask(sc.customer.no).price == D(100)  # BC's work date (TODAY) is after the campaign


# --- VAT and variants --------------------------------------------------------------------------------


def test_price_including_vat_is_converted_to_excluding_vat(sc: Scenario) -> None:
    sc.prices(price("RETAIL", sc, SALES_TYPE_PRICE_GROUP, "WHOLESALE", "107.1", price_includes_vat=True))
    answer = sc.ask(sc.customer.no)
    assert answer.price == D(90)  # 107.10 / 1.19
    assert answer.price_with_vat == D("107.1")


def test_price_with_vat_uses_the_customers_country(sc: Scenario) -> None:
    assert sc.ask(sc.customer.no).price_with_vat == D(119)
    sc.customer.country_code = "DK"
    assert sc.ask(sc.customer.no).price_with_vat == D(125)
    sc.customer.country_code = "US"
    assert sc.ask(sc.customer.no).price_with_vat == D(100)  # export: no VAT


def test_anonymous_vat_follows_the_requested_vat_country(sc: Scenario) -> None:
    assert sc.ask(None, vat_country="DK").vat_pct == D(25)
    assert sc.ask("Anonymous", vat_country="").vat_pct == D(19)  # home country
    sc.item.vat_prod_posting_group = "REDUCED"
    assert sc.ask(None, vat_country="FR").vat_pct == D("5.5")


def test_variant_specific_price_beats_a_general_one(sc: Scenario) -> None:
    sc.prices(
        price("ALL", sc, SALES_TYPE_ALL, "", "95"),
        price("BLUE", sc, SALES_TYPE_ALL, "", "110", variant_id="BLUE"),
    )
    assert sc.ask(sc.customer.no, variant="BLUE").price == D(110)
    assert sc.ask(sc.customer.no, variant="RED").price == D(95)


# --- line discounts ----------------------------------------------------------------------------------


def test_best_line_discount_is_applied(sc: Scenario) -> None:
    sc.customer.disc_group = "MEDIUM"
    sc.ds.group_line_discounts["B"] = [
        LineDiscount("G", SALES_TYPE_DISC_GROUP, "MEDIUM", item_disc_group="B", discount_pct=D(5))
    ]
    sc.discounts(
        LineDiscount("C", SALES_TYPE_CUSTOMER, sc.customer.no, item_no=sc.item.no, discount_pct=D(10))
    )
    answer = sc.ask(sc.customer.no)
    assert (answer.list_price, answer.line_discount_pct, answer.price) == (D(100), D(10), D(90))
    assert sc.ask(sc.other.no).line_discount_pct == 0  # neither in MEDIUM nor the customer


def test_line_discount_minimum_quantity(sc: Scenario) -> None:
    sc.discounts(
        LineDiscount(
            "ALL20", SALES_TYPE_ALL, "", item_no=sc.item.no, discount_pct=D(8), minimum_quantity=D(20)
        )
    )
    assert sc.ask(None, 19).price == D(100)
    assert sc.ask(None, 20).price == D(92)
    assert [r["PriceQuantity"] for r in sc.ask(None).price_rows()] == ["1", "20"]


def test_no_line_discount_on_a_net_price_or_for_a_customer_without_line_discounts(sc: Scenario) -> None:
    sc.discounts(LineDiscount("ALL", SALES_TYPE_ALL, "", item_no=sc.item.no, discount_pct=D(10)))
    assert sc.ask(sc.customer.no).price == D(90)
    sc.customer.allow_line_disc = False
    assert sc.ask(sc.customer.no).price == D(100)
    sc.customer.allow_line_disc = True
    sc.prices(price("NET", sc, SALES_TYPE_PRICE_GROUP, "WHOLESALE", "95", allow_line_disc=False))
    assert sc.ask(sc.customer.no).price == D(95)  # the net price wins and allows no discount


# --- shape of the answer -----------------------------------------------------------------------------


def test_answers_follow_the_request_and_unknown_products_are_none(sc: Scenario) -> None:
    queries = [
        PriceQuery("NOPE"),
        PriceQuery(sc.item.no, identifier="X..ENU", custom_fields={"MyField": "abc"}),
        PriceQuery(sc.item.no, unit_id="PALLET"),  # a unit the item does not have
        PriceQuery(sc.item.no, variant_id="PURPLE"),
        PriceQuery("dw-id-1", product_number=sc.item.no),  # found by number
    ]
    answers = sc.bc.product_info(sc.customer.no, queries)
    assert answers[0] is None and answers[2] is None and answers[3] is None
    assert answers[1] is not None and answers[4] is not None
    row = answers[1].product_row()
    assert row["ProductIdentifier"] == "X..ENU"
    assert row["MyField"] == "abc"
    assert row["ProductPrice"] == "100" and row["ProductPriceWithVat"] == "119"
    assert {"ProductId", "ProductVariantId", "ProductStock", "ProductDefaultUnitId"} <= row.keys()
    assert answers[4].product_row()["ProductId"] == "dw-id-1"  # ids are echoed as sent


def test_a_service_item_has_no_stock_column(sc: Scenario) -> None:
    sc.item.item_type = 1
    assert "ProductStock" not in sc.ask(sc.customer.no).product_row()


def test_the_requested_vat_context_wins_over_the_customer_card(sc: Scenario) -> None:
    sc.customer.country_code = "DE"
    assert sc.ask(sc.customer.no).vat_pct == D(19)
    assert sc.ask(sc.customer.no, vat_country="DK").vat_pct == D(25)  # a multi-country shop's sale
    assert sc.ask(sc.customer.no, vat_country="DK", vat_posting_group="EXPORT").vat_pct == D(0)
    assert sc.ask(None, vat_country="DK", vat_posting_group="DOMESTIC").vat_pct == D(19)  # home rates
    assert sc.ask(None, vat_country="FR", vat_posting_group="eu").vat_pct == D(20)  # destination rates


def test_an_unknown_vat_posting_group_is_bcs_error(sc: Scenario) -> None:
    with pytest.raises(BcError, match="VAT Business Posting Group does not exist"):
        sc.ask(None, vat_posting_group="MOON")
