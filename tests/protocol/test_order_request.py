"""The order request: every column of the reference in emitted order, and what production sends.

The golden cases build the request the way the live use cases do (``build_order_xml`` maps the
storefront's basket or order onto :class:`OrderDocument`) and compare it, byte for byte, with
``golden/<case>.xml``. Regenerate them after a deliberate change with
``ERPBRIDGE_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/protocol/test_order_request.py``
and review the diff.
"""

from __future__ import annotations

import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from erpbridge.errors import ProtocolError
from erpbridge.live.models import BasketRequest, OrderRequest
from erpbridge.live.order_documents import OrderDocumentPolicy, build_order_xml
from erpbridge.protocol.order_request import (
    OrderDocument,
    OrderHeader,
    OrderLine,
    OrderLineDiscount,
    OrderLineFieldValue,
    OrderLineType,
    SubmitType,
    build_order_request,
)
from erpbridge.protocol.xmlsafe import parse_xml

DECLARATION = b'<?xml version="1.0" encoding="utf-8" standalone="yes"?>'
GOLDEN = Path(__file__).parent / "golden"

ORDER_CUSTOMER_COLUMNS = [
    "OrderCustomerAccessUserExternalId",
    "OrderCustomerNumber",
    "OrderCustomerName",
    "OrderCustomerAddress",
    "OrderCustomerAddress2",
    "OrderCustomerCity",
    "OrderCustomerState",
    "OrderCustomerZip",
    "OrderCustomerCountryCode",
    "OrderCustomerEmail",
    "OrderCustomerPhone",
    "OrderCustomerFax",
    "OrderCustomerCompany",
    "OrderCustomerComment",
    "OrderCustomerFirstName",
    "OrderCustomerSurname",
    "OrderCustomerRefId",
]
ORDER_DELIVERY_COLUMNS = [
    "OrderDeliveryName",
    "OrderDeliveryAddress",
    "OrderDeliveryAddress2",
    "OrderDeliveryCity",
    "OrderDeliveryState",
    "OrderDeliveryZip",
    "OrderDeliveryCountryCode",
    "OrderDeliveryEmail",
    "OrderDeliveryPhone",
    "OrderDeliveryFax",
    "OrderDeliveryCompany",
]
ORDER_MIDDLE_COLUMNS = [
    "CreateOrder",
    "OrderId",
    "OrderAutoId",
    "OrderIntegrationOrderId",
    "OrderCurrencyCode",
    "OrderDate",
    "OrderPaymentMethodName",
    "OrderPaymentMethodId",
    "OrderPaymentMethodCode",
    "OrderPaymentMethodTermsCode",
    "OrderShippingDate",
    "OrderReference",
]
SHOP_SHIPPING_COLUMNS = [
    "OrderShippingMethodName",
    "OrderShippingMethodId",
    "OrderShippingFee",
    "OrderShippingFeeWithoutVat",
    "OrderShippingItemType",
    "OrderShippingItemKey",
    "OrderShippingCode",
    "OrderShippingAgentCode",
    "OrderShippingAgentServiceCode",
]
ORDER_TAIL_COLUMNS = [
    "OrderPriceTotal",
    "OrderCaptureAmount",
    "OrderVoucherCode",
    "OrderTransactionId",
    "OrderStateId",
    "OrderStateName",
    "ErpControlsDiscount",
    "VatCountryCode",
    "VatPostingGroup",
]
LINE_COLUMNS = [
    "OrderLineId",
    "OrderLineOrderId",
    "OrderLineParentLineId",
    "OrderLineProductId",
    "OrderLineProductVariantId",
    "OrderLineProductNumber",
    "OrderLineProductName",
    "OrderLineProductIdentifier",
    "OrderLineQuantity",
    "OrderLineUnitId",
    "OrderLinePriceWithoutVat",
    "OrderLineUnitPriceWithoutVat",
    "NetPrice",
    "OrderLineType",
    "OrderLineTypeName",
    "OrderLineBom",
    "OrderLineBomItemId",
    "OrderLineGiftCardCode",
    "OrderLineIsGiftCardDiscount",
    "OrderLineFieldValues",
]
DISCOUNT_COLUMNS = [
    "OrderLineDiscountId",
    "OrderLineDiscountName",
    "OrderLineCampaignName",
    "OrderLineDiscountType",
    "OrderLineDiscountValue",
]


def _order(**header: object) -> OrderDocument:
    lines = [
        OrderLine(
            "L3",
            "O1",
            product_name="Order discount",
            line_type=OrderLineType.DISCOUNT,
            line_type_name="Discount",
            discount=OrderLineDiscount("D1", "Spring", "Campaign", "Percentage", "10"),
        ),
        OrderLine(
            "L1",
            "O1",
            product_id="1896-S",
            product_number="1896-S",
            product_name="Chair & table",
            product_identifier="1896-S..LANG1",
            quantity=2,
            unit_id="PCS",
            price_without_vat=Decimal("200"),
            unit_price_without_vat=Decimal("100"),
            net_price=Decimal("100"),
            field_values=[OrderLineFieldValue("Engraving", "ABC", name="Engraving text")],
        ),
        OrderLine(
            "L2", "O1", product_name="Gift card", line_type=OrderLineType.FIXED, is_gift_card_discount=True
        ),
    ]
    return OrderDocument(OrderHeader(order_id="O1", **header), lines)  # type: ignore[arg-type]


def _columns(item: object) -> list[str]:
    return [c.get("columnName") for c in item]  # type: ignore[attr-defined]


def test_order_request_root_tables_and_every_column_in_emitted_order() -> None:
    xml = build_order_request(
        _order(
            customer_number="C1",
            order_date=datetime(2024, 5, 6, 7, 8, 9),
            shipping_fee=Decimal("49.5"),
            price_total=Decimal("299.999"),
            custom_fields={"MyOrderField": "x"},
        ),
        create=False,
    )
    assert xml.startswith(DECLARATION)
    root = parse_xml(xml)
    assert root.tag == "tables"
    assert list(root.attrib.items()) == [
        ("source", "LiveIntegration"),
        ("submitType", "LiveOrderOrCart"),
        ("referenceName", "OrdersPut"),
    ]
    assert [(t.tag, t.get("tableName")) for t in root] == [
        ("table", "EcomOrders"),
        ("table", "EcomOrderLines"),
    ]
    (order_item,) = root[0]
    assert (order_item.tag, order_item.get("table")) == ("item", "EcomOrders")
    assert _columns(order_item) == (
        ORDER_CUSTOMER_COLUMNS
        + ORDER_DELIVERY_COLUMNS
        + ORDER_MIDDLE_COLUMNS
        + SHOP_SHIPPING_COLUMNS
        + ORDER_TAIL_COLUMNS
        + ["MyOrderField"]
    )
    values = {c.get("columnName"): c for c in order_item}
    assert values["CreateOrder"].text == "False"
    assert values["OrderDate"].text == "2024-05-06T07:08:09"
    assert values["OrderShippingFee"].text == "49.5"
    assert values["OrderPriceTotal"].text == "300"
    assert values["ErpControlsDiscount"].text == "False"
    informational = [c.get("columnName") for c in order_item if c.get("isInformationalOnly") == "True"]
    assert informational == ["OrderPaymentMethodName", "OrderShippingMethodName", "OrderStateName"]
    assert values["MyOrderField"].get("isCustomField") == "True"
    assert all(c.tag == "column" for c in order_item)
    assert b"CDATA" not in xml


def test_order_lines_product_lines_first_with_nested_field_values() -> None:
    root = parse_xml(build_order_request(_order(), create=True, submit_type="ScheduledTask"))
    assert root.get("submitType") == "ScheduledTask"
    product, gift, discount = root[1]
    assert [item.get("table") for item in root[1]] == ["EcomOrderLines"] * 3
    assert _columns(product) == LINE_COLUMNS
    assert _columns(gift) == [c for c in LINE_COLUMNS if c != "NetPrice"]  # absent for gift-card lines
    assert _columns(discount) == LINE_COLUMNS + DISCOUNT_COLUMNS
    values = {c.get("columnName"): c for c in product}
    assert values["OrderLineProductName"].text == "Chair & table"
    assert values["OrderLineQuantity"].text == "2"
    assert values["OrderLineType"].text == "0"
    assert values["OrderLineBom"].text == "False"
    assert values["OrderLineIsGiftCardDiscount"].get("isCustomField") == "True"
    (collection,) = values["OrderLineFieldValues"]
    assert collection.tag == "OrderLineFieldValueCollection"
    (entry,) = collection
    assert entry.tag == "OrderLineFieldValue"
    assert [(e.tag, e.text) for e in entry] == [("OrderLineFieldSystemName", "Engraving"), ("Value", "ABC")]
    discount_values = {c.get("columnName"): c.text for c in discount}
    assert discount_values["OrderLineDiscountType"] == "Percentage"


def test_create_flag_and_delivery_address_id_on_calculate_and_create() -> None:
    """The ship-to code goes with the basket too, so the basket is priced for the order's address."""
    for create in (False, True):
        root = parse_xml(build_order_request(_order(delivery_address_id="ADDR-1"), create=create))
        columns = _columns(root[0][0])
        assert columns.index("OrderDeliveryAddressId") == columns.index("OrderDeliveryCompany") + 1
        values = {c.get("columnName"): c.text for c in root[0][0]}
        assert values["OrderDeliveryAddressId"] == "ADDR-1"
        assert values["CreateOrder"] == str(create)
    plain = parse_xml(build_order_request(_order(), create=True))
    assert "OrderDeliveryAddressId" not in _columns(plain[0][0])


def test_erp_controlled_shipping_sends_three_empty_columns() -> None:
    root = parse_xml(
        build_order_request(_order(erp_controls_shipping=True, shipping_fee=Decimal(5)), create=False)
    )
    columns = _columns(root[0][0])
    start = columns.index("OrderReference") + 1
    assert columns[start : start + 4] == [
        "OrderShippingMethodName",
        "OrderShippingMethodId",
        "OrderShippingFee",
        "OrderPriceTotal",
    ]
    values = {c.get("columnName"): c.text for c in root[0][0]}
    assert values["OrderShippingFee"] is None


def test_optional_order_line_fields_table() -> None:
    order = _order()
    with_fields = OrderDocument(order.header, order.lines, include_line_fields_table=True)
    root = parse_xml(build_order_request(with_fields, create=False))
    assert [t.get("tableName") for t in root] == ["EcomOrders", "EcomOrderLines", "EcomOrderLineFields"]
    (item,) = root[2]
    assert [(c.get("columnName"), c.text) for c in item] == [
        ("OrderLineFieldOrderLineId", "L1"),
        ("OrderLineFieldName", "Engraving text"),
        ("OrderLineFieldValue", "ABC"),
        ("OrderLineFieldSystemName", "Engraving"),
    ]


def test_unknown_submit_type_and_clashing_custom_field_are_refused() -> None:
    with pytest.raises(ProtocolError, match="submitType"):
        build_order_request(_order(), create=True, submit_type="Whenever")
    with pytest.raises(ProtocolError, match="clashes"):
        build_order_request(_order(custom_fields={"OrderId": "x"}), create=True)


# --- what production sends ----------------------------------------------------------------------

ORDER_DATE = datetime(2026, 3, 4, 5, 6, 7)
POLICY = OrderDocumentPolicy(
    anonymous_user_key="Anonymous",
    local_currency="EUR",
    shipping_item_type="ItemCharge",
    shipping_item_key="DW-SHIP",
)
ADDRESS = {
    "name": "Anna Berg",
    "company": "Berg & Co",
    "address": "Main St 1",
    "zip": "1000",
    "city": "Copenhagen",
    "country_code": "DK",
    "email": "anna@example.com",
    "phone": "+45 1234",
}
PRODUCTION_CASES = {
    "basket-anonymous-erp-controls-all": (
        BasketRequest.model_validate(
            {"currency": "EUR", "lines": [{"product_id": "1896-S", "unit": "PCS", "quantity": 2}]}
        ),
        False,
        SubmitType.LIVE_ORDER_OR_CART,
    ),
    "order-shop-controls-discounts-and-shipping": (
        OrderRequest.model_validate(
            {
                "customer_number": "10000",
                "currency": "USD",
                "language": "ENU",
                "lines": [
                    {"product_id": "1896-S", "quantity": 2, "name": "Chair"},
                    {"product_id": "1900", "variant_id": "RED", "unit": "BOX", "quantity": 1.5},
                ],
                "discounts": [
                    {"name": "Spring", "amount": 10},
                    {"name": "Chairs", "amount": 2.5, "product_id": "1896-S"},
                ],
                "erp_controls_discount": False,
                "erp_controls_shipping": False,
                "shipping": {
                    "method_id": "UPS",
                    "method_name": "UPS Standard",
                    "fee": 8.75,
                    "fee_without_vat": 7,
                },
                "billing_address": ADDRESS,
                "comment": "Ring twice",
                "reference": "PO-77",
                "payment_method": "INVOICE",
                "voucher_code": "SPRING",
            }
        ),
        True,
        SubmitType.SCHEDULED_TASK,
    ),
    # The commerce context (docs/commerce-context.md): VAT country and posting group, a ship-to
    # code with a delivery address, order custom fields and a line's field values.
    "order-commerce-context": (
        OrderRequest.model_validate(
            {
                "customer_number": "10020",
                "vat_country": "DK",
                "vat_posting_group": "EU",
                "ship_to_code": "WAREHOUSE",
                "delivery_address": {
                    "name": "Goods in",
                    "address": "Dock 4",
                    "city": "Aarhus",
                    "country_code": "DK",
                },
                "custom_fields": {"CustomerPO": "PO-4711", "Gate": "B"},
                "lines": [
                    {"product_id": "1896-S", "quantity": 1, "custom_fields": {"Engraving": "For A. & B."}}
                ],
                "billing_address": ADDRESS,
            }
        ),
        True,
        SubmitType.LIVE_ORDER_OR_CART,
    ),
}


def _production_xml(case: str) -> bytes:
    request, create, submit_type = PRODUCTION_CASES[case]
    return build_order_xml(
        request, "O-1", create=create, submit_type=submit_type, policy=POLICY, order_date=ORDER_DATE
    )


@pytest.mark.parametrize("case", sorted(PRODUCTION_CASES))
def test_production_order_request_matches_its_golden_file_when_built_from_the_api_model(case: str) -> None:
    # GIVEN a basket or order as the storefront posts it
    golden = GOLDEN / f"{case}.xml"
    # WHEN the live use case builds the request it sends to the ERP
    xml = _production_xml(case)
    if os.environ.get("ERPBRIDGE_REGENERATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_bytes(xml)
    # THEN it is byte for byte the reviewed golden file
    assert xml == golden.read_bytes()


def test_production_sends_every_reference_column_when_the_erp_controls_everything() -> None:
    root = parse_xml(_production_xml("basket-anonymous-erp-controls-all"))
    (header,) = root[0]
    assert _columns(header) == (
        ORDER_CUSTOMER_COLUMNS
        + ORDER_DELIVERY_COLUMNS
        + ORDER_MIDDLE_COLUMNS
        + ["OrderShippingMethodName", "OrderShippingMethodId", "OrderShippingFee"]
        + ORDER_TAIL_COLUMNS
    )
    values = {c.get("columnName"): c.text or "" for c in header}
    assert values["OrderCustomerNumber"] == values["OrderCustomerAccessUserExternalId"] == "Anonymous"
    assert values["OrderCurrencyCode"] == ""  # the ERP's local currency
    assert (values["CreateOrder"], values["ErpControlsDiscount"]) == ("False", "True")
    (line,) = root[1]
    assert _columns(line) == LINE_COLUMNS
    assert {c.get("columnName"): c.text or "" for c in line}["OrderLineProductIdentifier"] == "1896-S...PCS"


def test_production_sends_shop_shipping_and_discount_lines_when_the_shop_controls_them() -> None:
    root = parse_xml(_production_xml("order-shop-controls-discounts-and-shipping"))
    assert root.get("submitType") == "ScheduledTask"
    (header,) = root[0]
    assert _columns(header) == (
        ORDER_CUSTOMER_COLUMNS
        + ORDER_DELIVERY_COLUMNS
        + ORDER_MIDDLE_COLUMNS
        + SHOP_SHIPPING_COLUMNS
        + ORDER_TAIL_COLUMNS
    )
    values = {c.get("columnName"): c.text or "" for c in header}
    assert values["OrderDeliveryName"] == values["OrderCustomerName"] == "Anna Berg"  # delivery = billing
    assert (values["OrderShippingFee"], values["OrderShippingFeeWithoutVat"]) == ("8.75", "7")
    assert (values["OrderShippingItemType"], values["OrderShippingItemKey"]) == ("ItemCharge", "DW-SHIP")
    assert (values["CreateOrder"], values["ErpControlsDiscount"]) == ("True", "False")
    first, second, order_discount, product_discount = root[1]
    assert [_columns(line) for line in (first, second)] == [LINE_COLUMNS, LINE_COLUMNS]
    assert [_columns(line) for line in (order_discount, product_discount)] == [
        LINE_COLUMNS + DISCOUNT_COLUMNS
    ] * 2
    discount = {c.get("columnName"): c.text or "" for c in product_discount}
    assert (discount["OrderLineType"], discount["OrderLineTypeName"]) == ("3", "ProductDiscount")
    assert (discount["OrderLinePriceWithoutVat"], discount["OrderLineDiscountValue"]) == ("-2.5", "2.5")
    assert discount["OrderLineDiscountType"] == "Amount"
    assert [c.text for line in root[1] for c in line if c.get("columnName") == "OrderLineId"] == [
        "O-1-1",
        "O-1-2",
        "O-1-3",
        "O-1-4",
    ]


def test_production_sends_the_commerce_context() -> None:
    root = parse_xml(_production_xml("order-commerce-context"))
    (header,) = root[0]
    columns = _columns(header)
    assert columns[-2:] == ["CustomerPO", "Gate"]
    values = {c.get("columnName"): c for c in header}
    assert values["OrderDeliveryAddressId"].text == "WAREHOUSE"
    assert (values["OrderDeliveryCity"].text, values["OrderCustomerCity"].text) == ("Aarhus", "Copenhagen")
    assert (values["VatCountryCode"].text, values["VatPostingGroup"].text) == ("DK", "EU")
    assert [values[name].get("isCustomField") for name in ("CustomerPO", "Gate")] == ["True", "True"]
    (line,) = root[1]
    (collection,) = {c.get("columnName"): c for c in line}["OrderLineFieldValues"]
    assert [(e.findtext("OrderLineFieldSystemName"), e.findtext("Value")) for e in collection] == [
        ("Engraving", "For A. & B.")
    ]
