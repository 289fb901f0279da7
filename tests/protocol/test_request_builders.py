"""Every request kind with the exact element and attribute names of the reference, in order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from erpbridge.errors import ConfigurationError, ProtocolError
from erpbridge.protocol.request_builders import (
    ProductQuery,
    build_batch_request,
    build_get_item,
    build_get_list,
    build_get_pdf,
    build_ping,
    build_product_info_request,
    product_identifier,
)
from erpbridge.protocol.xmlsafe import parse_xml

DECLARATION = b'<?xml version="1.0" encoding="utf-8" standalone="yes"?>'


def test_ping_is_an_empty_get_ecom_data_without_declaration() -> None:
    assert build_ping() == b"<GetEcomData></GetEcomData>"


def test_product_identifier_rules() -> None:
    query = ProductQuery("1896-S", variant_id="V1", unit_id="PCS", language_id="LANG1")
    assert product_identifier(query, unit_prices=True) == "1896-S.V1.LANG1.PCS"
    assert product_identifier(query, unit_prices=False) == "1896-S.V1.LANG1"
    assert product_identifier(ProductQuery("A"), unit_prices=True) == "A.."


def test_product_info_request_has_the_reference_shape() -> None:
    xml = build_product_info_request(
        [
            ProductQuery(
                "1896-S",
                unit_id="PCS",
                language_id="LANG1",
                quantity=Decimal("2.5"),
                custom_fields={"MyProductField": "abc", "Weight": Decimal("1.255")},
            ),
            ProductQuery("1900", variant_id="RED", number="N-1900"),
        ],
        customer_number="10000",
        currency_code="EUR",
        vat_country_code="DK",
        vat_posting_group="DOMESTIC",
        anonymous_user_key="Anonymous",
    )
    assert xml.startswith(DECLARATION)
    root = parse_xml(xml)
    assert root.tag == "GetEcomData"
    assert list(root.attrib.items()) == [
        ("ExternalUserId", "10000"),
        ("AccessUserCustomerNumber", "10000"),
        ("VatCountryCode", "DK"),
        ("VatPostingGroup", "DOMESTIC"),
    ]
    (tables,) = root
    (products,) = tables
    assert (tables.tag, products.tag, dict(products.attrib)) == (
        "tables",
        "Products",
        {"type": "filter", "unitPrices": "true"},
    )
    first, second = products
    assert first.tag == "Product"
    assert [(c.tag, c.text or "", dict(c.attrib)) for c in first] == [
        ("ProductId", "1896-S", {}),
        ("ProductVariantId", "", {}),
        ("ProductNumber", "1896-S", {}),
        ("ProductUnitId", "PCS", {}),
        ("ProductIdentifier", "1896-S..LANG1.PCS", {}),
        ("CurrencyCode", "EUR", {}),
        ("Quantity", "2.5", {}),
        ("MyProductField", "abc", {"isCustomField": "True"}),
        ("Weight", "1.26", {"isCustomField": "True"}),
    ]
    assert [(c.tag, c.text or "") for c in second][:5] == [
        ("ProductId", "1900"),
        ("ProductVariantId", "RED"),
        ("ProductNumber", "N-1900"),
        ("ProductUnitId", ""),
        ("ProductIdentifier", "1900.RED."),
    ]
    assert b"<ProductVariantId></ProductVariantId>" in xml  # as .NET writes empty elements


def test_anonymous_user_and_local_currency_and_no_unit_prices() -> None:
    xml = build_product_info_request(
        [ProductQuery("A", unit_id="PCS")],
        customer_number=None,
        anonymous_user_key="Guest",
        currency_code="DKK",
        local_currency_code="DKK",
        unit_prices=False,
    )
    root = parse_xml(xml)
    assert root.get("ExternalUserId") == root.get("AccessUserCustomerNumber") == "Guest"
    products = root[0][0]
    assert "unitPrices" not in products.attrib
    assert products[0].find("CurrencyCode").text is None  # emptied: the ERP uses its local currency
    assert products[0].find("ProductIdentifier").text == "A.."


def test_custom_field_names_must_be_xml_names() -> None:
    with pytest.raises(ProtocolError, match="not a valid XML element name"):
        build_product_info_request(
            [ProductQuery("A", custom_fields={"bad name": "x"})],
            customer_number="1",
            anonymous_user_key="Anonymous",
        )


def test_get_list_with_and_without_optional_attributes() -> None:
    full = build_get_list(
        "Invoice",
        "10000",
        request_amount=10,
        first_item=11,
        sort_by_field="PostingDate",
        sort_direction="Desc",
        search_field="No",
        search_value="INV-10",
    )
    assert full.startswith(DECLARATION)
    root = parse_xml(full)
    assert root.tag == "GetList" and len(root) == 0
    assert list(root.attrib.items()) == [
        ("type", "Invoice"),
        ("customerID", "10000"),
        ("requestAmount", "10"),
        ("firstItem", "11"),
        ("sortByField", "PostingDate"),
        ("sortDirection", "Desc"),
        ("searchField", "No"),
        ("searchValue", "INV-10"),
    ]
    bare = parse_xml(build_get_list("OpenOrder", "10000", request_amount=5, first_item=1, search_field="No"))
    assert list(bare.attrib) == ["type", "customerID", "requestAmount", "firstItem"]
    extra = parse_xml(
        build_get_list("Credit", "1", request_amount=5, first_item=1, extra_attributes={"fromDate": "2024"})
    )
    assert extra.get("fromDate") == "2024"
    assert b"\n  " not in full  # customer-center requests are not indented


@pytest.mark.parametrize("doc_type", ["OpenOrder", "Invoice", "Credit", "SalesShipment"])
def test_get_item_and_get_pdf_for_every_document_type(doc_type: str) -> None:
    item = parse_xml(build_get_item(doc_type, "10000", "INV-1001"))
    assert (item.tag, list(item.attrib.items())) == (
        "GetItem",
        [("type", doc_type), ("customerID", "10000"), ("documentNO", "INV-1001")],
    )
    pdf = parse_xml(build_get_pdf(doc_type, "INV-1001", "10000"))
    assert (pdf.tag, list(pdf.attrib.items())) == (
        "GetPDFForItem",
        [("type", doc_type), ("id", "INV-1001"), ("externalUserID", "10000")],
    )


def test_customer_center_arguments_are_validated() -> None:
    with pytest.raises(ProtocolError, match="document type"):
        build_get_item("Quote", "1", "2")
    with pytest.raises(ProtocolError, match="Asc or Desc"):
        build_get_list(
            "Invoice", "1", request_amount=1, first_item=1, sort_by_field="No", sort_direction="Up"
        )
    with pytest.raises(ProtocolError, match="1-based"):
        build_get_list("Invoice", "1", request_amount=10, first_item=0)


TEMPLATE = """<GetEcomData shopID="{shopID}"><tables>
  <Products type="all" setLanguage="{language}" importProductProperties="true"/>
  <Currencies type="all"/>
</tables></GetEcomData>"""


def test_batch_request_from_a_template_with_parameters() -> None:
    xml = build_batch_request(TEMPLATE, {"shopID": 'SHOP"1&<2>', "language": "ENU"})
    root = parse_xml(xml)
    assert root.tag == "GetEcomData"
    assert root.get("shopID") == 'SHOP"1&<2>'  # escaped in the XML, intact when read
    products, currencies = root[0]
    assert list(products.attrib.items()) == [
        ("type", "all"),
        ("setLanguage", "ENU"),
        ("importProductProperties", "true"),
    ]
    assert (currencies.tag, currencies.get("type")) == ("Currencies", "all")
    assert b"&amp;" in xml and b"&lt;" in xml


def test_batch_template_errors_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match=r"\{language\}.*known: shopID"):
        build_batch_request(TEMPLATE, {"shopID": "S"})
    with pytest.raises(ConfigurationError, match="root GetEcomData"):
        build_batch_request("<GetList/>", {})
    with pytest.raises(ConfigurationError, match="not usable XML"):
        build_batch_request("<GetEcomData>", {})
    with pytest.raises(ConfigurationError, match="not usable XML"):
        build_batch_request('<!DOCTYPE x [<!ENTITY a "b">]><GetEcomData/>', {})
    assert parse_xml(build_batch_request('<GetEcomData a="{{x}}"/>', {})).get("a") == "{x}"
