"""Every response shape: product info, orders, customer-center lists and documents, PDFs."""

from __future__ import annotations

import base64
import functools
from decimal import Decimal

import pytest

from erpbridge.errors import (
    ErpRejectedError,
    ErpResponseError,
    MalformedXmlError,
    ProtocolError,
    XmlSecurityError,
)
from erpbridge.protocol import plain_tables
from erpbridge.protocol.plain_tables import read_plain_tables
from erpbridge.protocol.response_parsers import (
    decode_pdf,
    parse_document,
    parse_document_list,
    parse_order_response,
    parse_product_info,
)

PRODUCT_INFO = """<?xml version="1.0" encoding="utf-16"?>
<tables version="1.2.3">
  <table tableName="EcomProducts">
    <item table="EcomProducts">
      <column columnName="ProductId">1896-S</column>
      <column columnName="ProductVariantId"></column>
      <column columnName="ProductIdentifier">1896-S..LANG1.PCS</column>
      <column columnName="ProductPrice">100.5</column>
      <column columnName="ProductPriceWithVat">125.63</column>
      <column columnName="ProductStock">42</column>
      <column columnName="ProductDefaultUnitId">PCS</column>
      <column columnName="MyProductField"><![CDATA[xyz]]></column>
    </item>
    <item table="EcomProducts">
      <column columnName="ProductId">1900</column>
      <column columnName="ProductVariantId">red</column>
      <column columnName="ProductIdentifier">1900.RED.LANG1</column>
      <column columnName="ProductPrice"></column>
    </item>
    <item table="EcomProducts">
      <column columnName="ProductId">1896-S</column>
      <column columnName="ProductIdentifier">1896-S..LANG1.PCS</column>
      <column columnName="ProductPrice">1</column>
    </item>
  </table>
  <table tableName="EcomPrices">
    <item table="EcomPrices">
      <column columnName="PriceId">P1</column>
      <column columnName="PriceProductId">1900</column>
      <column columnName="PriceProductVariantId">RED</column>
      <column columnName="PriceUserCustomerNumber">Anonymous</column>
      <column columnName="PriceAmount">95</column>
      <column columnName="PriceAmountWithVat">118.75</column>
      <column columnName="PriceQuantity">10</column>
      <column columnName="PriceProductUnitId">PCS</column>
    </item>
    <item table="EcomPrices">
      <column columnName="PriceId">P2</column>
      <column columnName="PriceProductId">1900</column>
      <column columnName="PriceProductVariantId">Red</column>
      <column columnName="PriceUserCustomerNumber">10000</column>
      <column columnName="PriceAmount">99</column>
    </item>
    <item table="EcomPrices">
      <column columnName="PriceProductId">OTHER</column>
      <column columnName="PriceAmount">1</column>
    </item>
  </table>
</tables>"""


def test_product_info_is_keyed_by_identifier_with_prices_joined_case_insensitively() -> None:
    # utf-16 declared, UTF-8 bytes
    infos = parse_product_info(PRODUCT_INFO.encode("utf-8"), anonymous_user_key="Anonymous")
    assert set(infos) == {"1896-S..LANG1.PCS", "1900.RED.LANG1"}
    chair = infos["1896-S..LANG1.PCS"]
    assert (chair.product_id, chair.variant_id, chair.price, chair.price_with_vat, chair.stock) == (
        "1896-S",
        "",
        Decimal("100.5"),
        Decimal("125.63"),
        Decimal("42"),
    )
    assert chair.default_unit_id == "PCS"
    assert chair.custom_fields == {"MyProductField": "xyz"}
    assert chair.quantity_prices == ()
    red = infos["1900.RED.LANG1"]
    assert red.price is None and red.stock is None  # empty price and missing stock: not provided
    assert [(p.price_id, p.quantity, p.amount, p.customer_number) for p in red.quantity_prices] == [
        ("P1", Decimal(10), Decimal(95), ""),  # the anonymous key is blanked
        ("P2", Decimal(1), Decimal(99), "10000"),  # missing quantity = 1
    ]


def test_price_choice_follows_the_reference() -> None:
    infos = parse_product_info(PRODUCT_INFO, anonymous_user_key="Anonymous")
    assert infos["1896-S..LANG1.PCS"].price_for(50) == (Decimal("100.5"), Decimal("125.63"))
    red = infos["1900.RED.LANG1"]
    assert red.price_for(1) == (Decimal(99), None)
    assert red.price_for(0) == (Decimal(99), None)
    assert red.price_for(12) == (Decimal(95), Decimal("118.75"))


def test_product_info_errors_name_the_column() -> None:
    junk = PRODUCT_INFO.replace(
        '<column columnName="ProductStock">42', '<column columnName="ProductStock">4,2'
    )
    with pytest.raises(ProtocolError, match=r"EcomProducts\.ProductStock .*'4,2'"):
        parse_product_info(junk, anonymous_user_key="Anonymous")
    without_key = (
        '<tables><item table="EcomProducts"><column columnName="ProductId">X</column></item></tables>'
    )
    with pytest.raises(ProtocolError, match="no ProductIdentifier"):
        parse_product_info(without_key, anonymous_user_key="Anonymous")


def test_an_empty_product_answer_is_an_empty_dict() -> None:
    assert parse_product_info("<tables/>", anonymous_user_key="Anonymous") == {}


def _order_response(created: str | None, *, totals: str = "") -> str:
    created_column = "" if created is None else f'<column columnName="OrderCreated">{created}</column>'
    return f"""<tables><table tableName="EcomOrders"><item table="EcomOrders">
      <column columnName="OrderId">O1</column>
      <column columnName="OrderIntegrationOrderId">SO-1001</column>
      {created_column}
      <column columnName="OrderPriceWithVat">125</column>
      <column columnName="OrderPriceWithoutVat">100</column>
      {totals}
      <column columnName="OrderShippingFee">5</column>
      <column columnName="OrderShippingMethodId">DHL</column>
      <column columnName="OrderSalesDiscount">0</column>
      <column columnName="OrderShippingWarning">Ships late</column>
      <column columnName="MyOrderField">echo</column>
    </item></table>
    <table tableName="EcomOrderLines">
      <item table="EcomOrderLines">
        <column columnName="OrderLineId">L1</column>
        <column columnName="OrderLineType"></column>
        <column columnName="OrderLineProductNumber">1896-S</column>
        <column columnName="OrderLineQuantity">2</column>
        <column columnName="OrderLineUnitPriceWithVat">62.5</column>
        <column columnName="OrderLinePriceWithVat">125</column>
      </item>
      <item table="EcomOrderLines">
        <column columnName="OrderLineId">L2</column>
        <column columnName="OrderLineTypeId">3</column>
        <column columnName="OrderLinePriceWithVat">-5</column>
      </item>
    </table></tables>"""


@pytest.mark.parametrize("flag", ["True", "true", "TRUE"])
def test_created_order_is_read(flag: str) -> None:
    result = parse_order_response(_order_response(flag), create=True)
    assert result.created is True
    assert (result.order_id, result.erp_order_id) == ("O1", "SO-1001")
    assert (result.total_with_vat, result.total_without_vat) == (Decimal(125), Decimal(100))
    assert (result.subtotal_with_vat, result.subtotal_without_vat) == (Decimal(125), Decimal(100))
    assert (result.shipping_fee, result.shipping_method, result.shipping_warning) == (
        Decimal(5),
        "DHL",
        "Ships late",
    )
    assert result.header["MyOrderField"] == "echo"
    product, discount = result.lines
    assert (product.line_type, product.is_product, product.quantity, product.price_with_vat) == (
        0,
        True,
        Decimal(2),
        Decimal(125),
    )
    assert (discount.line_type, discount.is_discount, discount.price_with_vat) == (3, True, Decimal(-5))


@pytest.mark.parametrize("flag", ["1", "", "yes", None])
def test_order_created_must_be_boolean_true(flag: str | None) -> None:
    with pytest.raises(ErpResponseError, match="did not confirm the order"):
        parse_order_response(_order_response(flag), create=True)


def test_order_created_false_is_the_erp_refusing_the_order_with_its_reason() -> None:
    reason = '<column columnName="OrderErrorMessage">Customer 10000 is blocked.</column>'
    with pytest.raises(ErpRejectedError, match="OrderCreated False") as refused:
        parse_order_response(_order_response("False", totals=reason), create=True)
    assert refused.value.erp_message == "Customer 10000 is blocked."
    with pytest.raises(ErpRejectedError) as silent:
        parse_order_response(_order_response("false"), create=True)
    assert silent.value.erp_message == "the ERP gave no reason"


def test_calculation_does_not_need_order_created_and_reads_subtotals() -> None:
    totals = (
        '<column columnName="OrderPriceBeforeFeesWithVat">120</column>'
        '<column columnName="OrderPriceBeforeFeesWithoutVat">96</column>'
    )
    result = parse_order_response(_order_response(None, totals=totals), create=False)
    assert result.created is False
    assert (result.subtotal_with_vat, result.subtotal_without_vat) == (Decimal(120), Decimal(96))


def test_order_price_wins_over_order_price_with_vat_and_erp_id_falls_back_to_order_id() -> None:
    xml = """<tables><item table="EcomOrders"><column columnName="OrderId">O9</column>
      <column columnName="OrderPrice">10</column><column columnName="OrderPriceWithVat">11</column>
      <column columnName="OrderCreated">True</column></item></tables>"""
    result = parse_order_response(xml, create=True)
    assert (result.total_with_vat, result.erp_order_id, result.lines) == (Decimal(10), "O9", [])


def test_order_response_without_header_is_an_erp_response_error() -> None:
    with pytest.raises(ErpResponseError, match="no EcomOrders"):
        parse_order_response("<tables/>", create=False)


def test_customer_center_list_with_server_side_paging() -> None:
    xml = """<Items totalCount="37">
      <item table="Invoice"><column columnName="No">INV-1</column>
        <column columnName="Amount">10</column></item>
      <item table="Invoice"><column columnName="No">INV-2</column>
        <column columnName="Due" isNull="true"/></item>
    </Items>"""
    listing = parse_document_list(xml)
    assert listing.total_count == 37
    assert listing.items == [{"No": "INV-1", "Amount": "10"}, {"No": "INV-2", "Due": None}]


def test_customer_center_list_without_items_root_pages_client_side() -> None:
    listing = parse_document_list(
        '<tables><table tableName="X"><item><column columnName="No">1</column></item></table></tables>'
    )
    assert (listing.total_count, listing.items) == (None, [{"No": "1"}])
    assert parse_document_list("<Items/>").items == []
    with pytest.raises(ProtocolError, match="totalCount"):
        parse_document_list('<Items totalCount="many"/>')


def test_document_detail_header_and_lines() -> None:
    detail = parse_document(_order_response("True"))
    assert detail.header["OrderId"] == "O1"
    assert [line["OrderLineId"] for line in detail.lines] == ["L1", "L2"]
    with pytest.raises(ErpResponseError, match="not found"):
        parse_document("<tables/>")


def test_pdf_is_decoded_from_base64() -> None:
    pdf = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
    encoded = base64.b64encode(pdf).decode()
    assert decode_pdf(encoded) == pdf
    assert decode_pdf("\n".join(encoded[i : i + 20] for i in range(0, len(encoded), 20)) + "\n") == pdf


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("", "empty"),
        ("not base64 at all!", "not base64"),
        (base64.b64encode(b"<html>error</html>").decode(), "not a PDF"),
        ("<tables/>", "not base64"),
    ],
)
def test_anything_but_a_pdf_is_refused(answer: str, message: str) -> None:
    with pytest.raises(ErpResponseError, match=message):
        decode_pdf(answer)


def test_response_parsers_refuse_hostile_xml() -> None:
    product_info = functools.partial(parse_product_info, anonymous_user_key="Anonymous")
    for parse in (product_info, parse_document_list, parse_document):
        with pytest.raises(XmlSecurityError):
            parse('<!DOCTYPE t [<!ENTITY a "b">]><tables>&a;</tables>')
        with pytest.raises(MalformedXmlError):
            parse("<tables><item>")


def test_text_in_the_plain_shape_reads_as_bytes_do(monkeypatch: pytest.MonkeyPatch) -> None:
    # Text in the plain shape takes the plain-shape reader; bytes always go through lxml.
    order = _order_response("True")
    assert read_plain_tables(order) is not None and read_plain_tables(PRODUCT_INFO) is not None

    # A spy on the plain reader (parse_tables imports it from plain_tables at call time).
    calls: list[tuple[str, bool]] = []
    real = plain_tables.read_plain_tables

    def spy(xml: str, **kwargs: object) -> object:
        result = real(xml, **kwargs)  # type: ignore[arg-type]
        calls.append((xml, result is not None))
        return result

    monkeypatch.setattr(plain_tables, "read_plain_tables", spy)

    def read_plain(parse: object, text: str) -> object:
        calls.clear()
        result = parse(text)  # type: ignore[operator]
        assert calls == [(text, True)], calls  # the str went through the plain reader, which read it
        calls.clear()
        return result

    def read_bytes(parse: object, text: str) -> object:
        calls.clear()
        result = parse(text.encode())  # type: ignore[operator]
        assert calls == []  # bytes never reach the plain reader
        return result

    def order_response(xml: object) -> object:
        return parse_order_response(xml, create=True)  # type: ignore[arg-type]

    assert read_plain(order_response, order) == read_bytes(order_response, order)
    assert read_plain(parse_document, order) == read_bytes(parse_document, order)
    product_info = functools.partial(parse_product_info, anonymous_user_key="Anonymous")
    assert read_plain(product_info, PRODUCT_INFO) == read_bytes(product_info, PRODUCT_INFO)
