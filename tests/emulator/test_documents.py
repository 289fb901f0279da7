"""Orders (calculate, create, idempotency), customer-center documents and PDFs of the emulated BC."""

from __future__ import annotations

import io
import threading
from datetime import date
from decimal import Decimal

import pypdf
import pytest

from bc_emulator._model import SALES_TYPE_CUSTOMER, ItemUnit, LineDiscount
from bc_emulator.business_central import BusinessCentral
from bc_emulator.dataset import DOCUMENT_TYPES, BcError, Dataset

TODAY = date(2026, 3, 1)
D = Decimal


@pytest.fixture
def bc() -> BusinessCentral:
    """Two plain items (100 and 40 EUR, no price lines) and customer 10000 in Germany, LCY."""
    ds = Dataset.generate(seed=3, products=30, customers=5)
    for item, price in zip(ds.items[:2], (100, 40), strict=True):
        item.unit_price = D(price)
        item.units = (ItemUnit("PCS", 1), ItemUnit("BOX", 10))
        item.variant_ids = ()
        item.variant_group_ids = ()
        item.vat_prod_posting_group = "STANDARD"
        item.blocked = False
        item.item_type = 0
        ds.sales_prices.pop(item.no, None)
        ds.item_line_discounts.pop(item.no, None)
    ds.group_line_discounts.clear()
    customer = ds.customers[0]
    customer.country_code = "DE"
    customer.currency_code = ""
    customer.price_group = ""
    customer.disc_group = ""
    customer.invoice_disc_code = ""
    customer.allow_line_disc = True
    return BusinessCentral(ds, today=TODAY)


def header(**columns: str) -> dict[str, str]:
    base = {
        "OrderId": "ORDER1",
        "OrderCustomerNumber": "10000",
        "CreateOrder": "False",
        "ErpControlsDiscount": "True",
        "OrderCurrencyCode": "",
    }
    base.update(columns)
    return base


def line(line_id: str, product: str, qty: str, **columns: str) -> dict[str, str]:
    row = {
        "OrderLineId": line_id,
        "OrderLineProductId": product,
        "OrderLineProductNumber": product,
        "OrderLineQuantity": qty,
        "OrderLineType": "0",
        "OrderLineUnitId": "",
    }
    row.update(columns)
    return row


def items(bc: BusinessCentral) -> tuple[str, str]:
    return bc.dataset.items[0].no, bc.dataset.items[1].no


# --- calculate --------------------------------------------------------------------------------------


def test_calculate_prices_lines_and_adds_vat(bc: BusinessCentral) -> None:
    a, b = items(bc)
    result = bc.calculate_order(header(), [line("L1", a, "2"), line("L2", b, "1", OrderLineUnitId="BOX")])
    h = result.header_row
    assert h["OrderId"] == "ORDER1"
    assert (h["OrderPriceBeforeFeesWithoutVat"], h["OrderPriceBeforeFeesWithVat"]) == ("600", "714")
    assert h["OrderShippingFee"] == "0" and h["OrderShippingMethodName"] == "Free shipping"
    assert (h["OrderPriceWithoutVat"], h["OrderPriceWithVat"]) == ("600", "714")
    assert "OrderCreated" not in h and "OrderIntegrationOrderId" not in h
    first, second = result.line_rows
    assert (first["OrderLineType"], first["OrderLineProductNumber"], first["OrderLineQuantity"]) == (
        "0",
        a,
        "2",
    )
    assert (first["OrderLineUnitPriceWithoutVat"], first["OrderLinePriceWithoutVat"]) == ("100", "200")
    assert (first["OrderLinePriceWithVat"], first["OrderLinePriceVat"]) == ("238", "38")
    assert (second["OrderLineUnitId"], second["OrderLineUnitPriceWithoutVat"]) == ("BOX", "400")
    assert set(result.tables()) == {"EcomOrders", "EcomOrderLines"}


def test_line_and_invoice_discounts_come_back_as_discount_lines(bc: BusinessCentral) -> None:
    a, _ = items(bc)
    customer = bc.dataset.customers[0]
    customer.invoice_disc_code = "LARGE"  # 2 % from 1000 EUR
    bc.dataset.item_line_discounts[a] = [
        LineDiscount("C10", SALES_TYPE_CUSTOMER, customer.no, item_no=a, discount_pct=D(10))
    ]
    result = bc.calculate_order(header(), [line("L1", a, "20")])
    by_type = {r["OrderLineType"]: r for r in result.line_rows}
    assert by_type["0"]["OrderLinePriceWithoutVat"] == "2000"
    assert by_type["3"]["OrderLinePriceWithoutVat"] == "-200"
    assert by_type["3"]["OrderLineParentLineId"] == "L1"
    assert by_type["3"]["OrderLineProductNumber"] == a
    assert by_type["1"]["OrderLinePriceWithoutVat"] == "-36"  # 2 % of 1800
    h = result.header_row
    assert h["OrderSalesDiscount"] == "236"
    assert h["OrderPriceWithoutVat"] == "1764"
    assert h["OrderPriceWithVat"] == "2099.16"  # 1764 × 1.19


def test_shop_controlled_discounts_get_no_erp_discount(bc: BusinessCentral) -> None:
    a, _ = items(bc)
    bc.dataset.item_line_discounts[a] = [
        LineDiscount("C10", SALES_TYPE_CUSTOMER, "10000", item_no=a, discount_pct=D(10))
    ]
    result = bc.calculate_order(header(ErpControlsDiscount="False"), [line("L1", a, "2")])
    assert [r["OrderLineType"] for r in result.line_rows] == ["0"]
    assert result.header_row["OrderPriceWithoutVat"] == "200"


def test_shipping_fee_below_the_free_shipping_threshold(bc: BusinessCentral) -> None:
    _, b = items(bc)
    h = bc.calculate_order(header(), [line("L1", b, "1")]).header_row
    assert (h["OrderShippingFeeWithoutVat"], h["OrderShippingFee"]) == ("4.95", "5.89")
    assert h["OrderShippingMethodName"] == "Standard delivery"
    assert h["OrderPriceBeforeFeesWithVat"] == "47.6"
    assert h["OrderPriceWithVat"] == "53.49"
    assert h["OrderPriceWithoutVat"] == "44.95"


def test_shop_controlled_shipping_fee_is_added_as_sent(bc: BusinessCentral) -> None:
    _, b = items(bc)
    h = bc.calculate_order(
        header(
            OrderShippingMethodId="SHIP7",
            OrderShippingMethodName="Express",
            OrderShippingFee="11.9",
            OrderShippingFeeWithoutVat="10",
        ),
        [line("L1", b, "5")],
    ).header_row
    assert (h["OrderShippingFee"], h["OrderShippingMethodName"]) == ("11.9", "Express")
    assert (h["OrderPriceWithoutVat"], h["OrderPriceWithVat"]) == ("210", "249.9")


def test_foreign_currency_order(bc: BusinessCentral) -> None:
    a, _ = items(bc)
    h = bc.calculate_order(header(OrderCurrencyCode="USD"), [line("L1", a, "1")]).header_row
    assert h["OrderCurrencyCode"] == "USD"
    assert h["OrderPriceBeforeFeesWithoutVat"] == "108.5"


def test_sales_tax_country_gets_tax_lines(bc: BusinessCentral) -> None:
    a, _ = items(bc)
    bc.dataset.customers[0].country_code = "US"
    result = bc.calculate_order(header(), [line("L1", a, "2")])
    tax = [r for r in result.line_rows if r["OrderLineType"] == "4"]
    assert len(tax) == 1 and tax[0]["OrderLinePriceWithoutVat"] == "14.5"  # 7.25 % of 200
    assert tax[0]["OrderLineParentLineId"] == "L1"
    assert result.header_row["OrderPriceWithVat"] == "214.5"


def test_anonymous_order_uses_all_customer_prices(bc: BusinessCentral) -> None:
    a, _ = items(bc)
    result = bc.calculate_order(
        header(OrderCustomerNumber="Anonymous", VatCountryCode="DK"), [line("L1", a, "1")]
    )
    assert result.customer_no == ""
    assert result.header_row["OrderPriceBeforeFeesWithVat"] == "125"


def test_shop_discount_and_tax_lines_are_ignored(bc: BusinessCentral) -> None:
    a, _ = items(bc)
    result = bc.calculate_order(
        header(), [line("L1", a, "1"), line("D1", "", "1", OrderLineType="1", OrderLinePriceWithoutVat="-50")]
    )
    assert [r["OrderLineId"] for r in result.line_rows] == ["L1"]


def test_stock_shortage_becomes_a_shipping_warning(bc: BusinessCentral) -> None:
    a, _ = items(bc)
    h = bc.calculate_order(header(), [line("L1", a, "100000")]).header_row
    assert "only" in (h.get("OrderShippingWarning") or "")


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([line("L1", "NO-SUCH-ITEM", "1")], "Item does not exist"),
        ([line("L1", "P000001", "0")], "Quantity must be positive"),
        ([line("L1", "P000001", "abc")], "not a valid number"),
        ([line("L1", "P000001", "1", OrderLineUnitId="CRATE")], "Unit of Measure"),
    ],
)
def test_bad_order_lines_are_bc_errors(
    bc: BusinessCentral, lines: list[dict[str, str]], message: str
) -> None:
    with pytest.raises(BcError, match=message):
        bc.calculate_order(header(), lines)


# --- create -----------------------------------------------------------------------------------------


def test_create_assigns_a_sales_order_number_once_per_shop_order(bc: BusinessCentral) -> None:
    a, b = items(bc)
    first, number, created = bc.create_order(header(CreateOrder="True"), [line("L1", a, "1")])
    assert (number, created) == ("SO-100001", True)
    assert first.header_row["OrderCreated"] == "True"
    assert first.header_row["OrderIntegrationOrderId"] == "SO-100001"
    again, number_again, created_again = bc.create_order(header(CreateOrder="True"), [line("L1", a, "1")])
    assert (number_again, created_again) == ("SO-100001", False)
    assert again.header_row == first.header_row
    _, other, _ = bc.create_order(header(OrderId="ORDER2"), [line("L1", b, "1")])
    assert other == "SO-100002"
    assert len(bc.created_orders()) == 2
    order = bc.sales_order_for("ORDER1")
    assert order is not None and order.no == "SO-100001" and order.external_document_no == "ORDER1"


def test_concurrent_creates_of_one_order_make_one_sales_order(bc: BusinessCentral) -> None:
    a, _ = items(bc)
    results: list[tuple[str, bool]] = []
    barrier = threading.Barrier(8)

    def send() -> None:
        barrier.wait()
        _, number, created = bc.create_order(header(OrderId="RACE"), [line("L1", a, "1")])
        results.append((number, created))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {n for n, _ in results} == {"SO-100001"}
    assert sum(created for _, created in results) == 1


def test_created_order_is_an_open_order_with_details_and_pdf(bc: BusinessCentral) -> None:
    a, _ = items(bc)
    _, number, _ = bc.create_order(
        header(OrderDeliveryName="Goods In", OrderDeliveryAddress="1 Dock Road", OrderDeliveryCity="Hamburg"),
        [line("L1", a, "3")],
    )
    rows, total = bc.list_documents("OpenOrder", "10000", search_field="No", search_value=number)
    assert total == 1 and rows[0]["ExternalDocumentNo"] == "ORDER1"
    assert rows[0]["Amount"] == "300" and rows[0]["AmountIncludingVAT"] == "357"
    found = bc.get_document("OpenOrder", "10000", number)
    assert found is not None
    head, lines = found
    assert head["OrderId"] == number and head["OrderDeliveryCity"] == "Hamburg"
    assert [(ln["OrderLineProductNumber"], ln["OrderLineQuantity"]) for ln in lines] == [(a, "3")]
    assert bc.get_document("OpenOrder", bc.dataset.customers[1].no, number) is None  # not theirs
    assert number in _pdf_text(bc.render_pdf("OpenOrder", number, "10000"))


def test_reset_forgets_created_orders(bc: BusinessCentral) -> None:
    a, _ = items(bc)
    bc.create_order(header(), [line("L1", a, "1")])
    bc.reset()
    assert bc.created_orders() == []
    assert bc.create_order(header(), [line("L1", a, "1")])[1:] == ("SO-100001", True)


def test_create_needs_an_order_id_and_product_lines(bc: BusinessCentral) -> None:
    a, _ = items(bc)
    with pytest.raises(BcError, match="OrderId"):
        bc.create_order(header(OrderId=""), [line("L1", a, "1")])
    with pytest.raises(BcError, match="no product lines"):
        bc.create_order(header(), [])


# --- customer center ----------------------------------------------------------------------------------


def _all(bc: BusinessCentral, doc_type: str, customer: str = "10000", **kw: str) -> tuple[list[dict], int]:
    return bc.list_documents(doc_type, customer, 1, 1000, **kw)  # type: ignore[arg-type]


def test_every_customer_has_history_of_every_kind(bc: BusinessCentral) -> None:
    for doc_type in ("Invoice", "SalesShipment"):
        rows, total = _all(bc, doc_type)
        assert total == len(rows) >= 2
    invoices, _ = _all(bc, "Invoice")
    shipments, _ = _all(bc, "SalesShipment")
    assert {r["OrderNo"] for r in invoices} == {r["OrderNo"] for r in shipments}
    numbers = [r["No"] for t in DOCUMENT_TYPES for c in bc.dataset.customers for r in _all(bc, t, c.no)[0]]
    assert len(numbers) == len(set(numbers))  # document numbers are unique across customers


def test_paging_returns_the_requested_window_and_the_total(bc: BusinessCentral) -> None:
    everything, total = _all(bc, "Invoice")
    page2, total2 = bc.list_documents("Invoice", "10000", first_item=2, amount=2)
    assert total2 == total
    assert [r["No"] for r in page2] == [r["No"] for r in everything[1:3]]
    beyond, _ = bc.list_documents("Invoice", "10000", first_item=total + 1, amount=5)
    assert beyond == []


def test_sorting_is_by_value_in_either_direction(bc: BusinessCentral) -> None:
    asc, _ = _all(bc, "Invoice", sort_by="Amount", direction="Asc")
    desc, _ = _all(bc, "Invoice", sort_by="amount", direction="Desc")
    amounts = [D(r["Amount"]) for r in asc]
    assert amounts == sorted(amounts)  # numeric, not text, order
    assert [r["No"] for r in desc] == [r["No"] for r in reversed(asc)]
    by_date, _ = _all(bc, "Invoice", sort_by="PostingDate", direction="Asc")
    dates = [r["PostingDate"] for r in by_date]
    assert dates == sorted(dates)


def test_search_is_a_case_insensitive_substring_match(bc: BusinessCentral) -> None:
    everything, _ = _all(bc, "Invoice")
    target = everything[0]["No"]
    rows, total = _all(bc, "Invoice", search_field="no", search_value=target.lower()[-4:])
    assert total >= 1 and target in [r["No"] for r in rows]
    assert all(target.lower()[-4:] in r["No"].lower() for r in rows)
    assert _all(bc, "Invoice", search_field="Status", search_value="nothing-like-this") == ([], 0)


def test_unknown_fields_and_types_are_bc_errors(bc: BusinessCentral) -> None:
    with pytest.raises(BcError, match="sort"):
        bc.list_documents("Invoice", "10000", sort_by="Colour")
    with pytest.raises(BcError, match="search"):
        bc.list_documents("Invoice", "10000", search_field="Colour", search_value="x")
    with pytest.raises(BcError, match="document type"):
        bc.list_documents("Quote", "10000")


def test_unknown_customer_has_no_documents(bc: BusinessCentral) -> None:
    assert bc.list_documents("Invoice", "99999") == ([], 0)
    assert bc.get_document("Invoice", "99999", "PSI-103001") is None


def test_document_details_add_up_to_the_listed_amounts(bc: BusinessCentral) -> None:
    for doc_type in ("Invoice", "OpenOrder", "Credit"):
        for customer in bc.dataset.customers:
            for listed in _all(bc, doc_type, customer.no)[0]:
                found = bc.get_document(doc_type, customer.no, listed["No"])
                assert found is not None
                head, lines = found
                assert head["OrderId"] == listed["No"]
                assert head["OrderPriceWithVat"] == listed["AmountIncludingVAT"]
                net = sum(D(ln["OrderLinePriceWithoutVat"] or "0") for ln in lines)
                assert net + D(head["OrderPriceWithoutVat"] or "0") - D(
                    head["OrderPriceBeforeFeesWithoutVat"] or "0"
                ) == D(listed["Amount"])


def test_history_does_not_depend_on_the_order_of_requests() -> None:
    one = BusinessCentral(Dataset.generate(seed=3, products=30, customers=5), today=TODAY)
    two = BusinessCentral(Dataset.generate(seed=3, products=30, customers=5), today=TODAY)
    first, last = one.dataset.customers[0].no, one.dataset.customers[-1].no
    one_first, one_last = _all(one, "Invoice", first), _all(one, "Invoice", last)
    two_last, two_first = _all(two, "Invoice", last), _all(two, "Invoice", first)
    assert one_first == two_first
    assert one_last == two_last
    assert one.get_document("Invoice", last, one_last[0][0]["No"]) == two.get_document(
        "Invoice", last, two_last[0][0]["No"]
    )


# --- PDF -----------------------------------------------------------------------------------------------


def _pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.mark.parametrize("doc_type", ["Invoice", "Credit", "SalesShipment", "OpenOrder"])
def test_pdf_opens_and_shows_the_document_number(bc: BusinessCentral, doc_type: str) -> None:
    customer = next(c.no for c in bc.dataset.customers if _all(bc, doc_type, c.no)[1])
    (first, *_), _ = _all(bc, doc_type, customer)
    text = _pdf_text(bc.render_pdf(doc_type, first["No"], customer))
    assert first["No"] in text
    assert customer in text


def test_pdf_of_an_unknown_document_is_a_bc_error(bc: BusinessCentral) -> None:
    with pytest.raises(BcError):
        bc.render_pdf("Invoice", "PSI-1", "10000")


def test_sales_tax_order_lists_tax_in_the_amount_including_vat_only(bc: BusinessCentral) -> None:
    a, _ = items(bc)
    bc.dataset.customers[0].country_code = "US"
    calculated, number, _ = bc.create_order(header(), [line("L1", a, "2")])
    rows, _ = bc.list_documents("OpenOrder", "10000", search_field="No", search_value=number)
    assert rows[0]["Amount"] == calculated.header_row["OrderPriceWithoutVat"] == "200"
    assert rows[0]["AmountIncludingVAT"] == calculated.header_row["OrderPriceWithVat"] == "214.5"


def test_response_lines_add_up_to_the_totals(bc: BusinessCentral) -> None:
    a, b = items(bc)
    bc.dataset.items[0].unit_price = D("33.33")
    customer = bc.dataset.customers[0]
    customer.invoice_disc_code = "STD"  # 2 % from 2000 EUR
    bc.dataset.item_line_discounts[a] = [
        LineDiscount("C7", SALES_TYPE_CUSTOMER, customer.no, item_no=a, discount_pct=D("7.5"))
    ]
    result = bc.calculate_order(header(), [line("L1", a, "77"), line("L2", b, "3"), line("L3", a, "1")])
    h = result.header_row
    for column in ("WithoutVat", "WithVat"):
        lines_total = sum(D(r[f"OrderLinePrice{column}"] or "0") for r in result.line_rows)
        assert lines_total == D(h[f"OrderPriceBeforeFees{column}"] or "0"), column


def test_the_order_is_taxed_for_the_requested_vat_context_and_echoes_it(bc: BusinessCentral) -> None:
    a, _ = items(bc)
    export = bc.calculate_order(header(VatCountryCode="DK", VatPostingGroup="EXPORT"), [line("L1", a, "1")])
    assert export.header_row["OrderPriceBeforeFeesWithVat"] == "100"
    assert (export.header_row["VatCountryCode"], export.header_row["VatPostingGroup"]) == ("DK", "EXPORT")
    danish = bc.calculate_order(header(VatCountryCode="DK"), [line("L1", a, "1")])
    assert danish.header_row["OrderPriceBeforeFeesWithVat"] == "125"
    assert danish.header_row["VatPostingGroup"] == "EU"  # the country's own group


def test_a_ship_to_code_must_be_the_customers_and_is_echoed(bc: BusinessCentral) -> None:
    a, _ = items(bc)
    customer = next(c for c in bc.dataset.customers if c.ship_to)
    ship_to = customer.ship_to[0]
    result = bc.calculate_order(
        header(OrderCustomerNumber=customer.no, OrderDeliveryAddressId=ship_to.code), [line("L1", a, "1")]
    )
    assert result.header_row["OrderDeliveryAddressId"] == ship_to.code
    assert result.header_row["OrderDeliveryCity"] == ship_to.city
    _, number, _ = bc.create_order(
        header(
            OrderCustomerNumber=customer.no, OrderDeliveryAddressId=ship_to.external_id, CreateOrder="True"
        ),
        [line("L1", a, "1")],
    )
    created = bc.sales_order_for("ORDER1")
    assert created is not None and created.no == number and created.ship_to == ship_to
    with pytest.raises(BcError, match="Ship-to Address does not exist"):
        bc.calculate_order(header(OrderDeliveryAddressId="NOWHERE"), [line("L1", a, "1")])
