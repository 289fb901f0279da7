"""The calculate / create order request (live-integration-anchor §3.3): one builder for both.

Production maps the storefront's basket or order onto :class:`OrderDocument`
(:mod:`erpbridge.live.order_documents`) and sends what :func:`build_order_request` writes::

    <tables source="LiveIntegration" submitType="LiveOrderOrCart" referenceName="OrdersPut">
      <table tableName="EcomOrders"><item table="EcomOrders">…</item></table>
      <table tableName="EcomOrderLines"><item table="EcomOrderLines">…</item>…</table>
      <table tableName="EcomOrderLineFields">…</table>   (only with include_line_fields_table)
    </tables>

Every column the reference emits is written, in its order, whether or not the shop knows a value
(an unknown value is empty text, never ``isNull``): ``CreateOrder`` False = calculate, True = create.
The shipping group depends on who controls shipping, the discount columns are on discount lines
only, and ``OrderDeliveryAddressId`` is sent when an address (a ship-to code) is chosen — on
calculate too, unlike Dynamicweb (which has no address before checkout), so the basket is priced
for the address the order will have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any, Final

from lxml import etree

from erpbridge.errors import ProtocolError
from erpbridge.protocol.request_builders import element_name, text_child
from erpbridge.protocol.tables import Column, ColumnInput, build_tables

__all__ = [
    "STANDARD_COLUMNS",
    "SUBMIT_TYPES",
    "OrderDocument",
    "OrderHeader",
    "OrderLine",
    "OrderLineDiscount",
    "OrderLineFieldValue",
    "OrderLineType",
    "SubmitType",
    "build_order_request",
    "order_columns",
    "order_line_columns",
]


class SubmitType(StrEnum):
    """The ``submitType`` root attribute (Dynamicweb's ``SubmitType`` enum names)."""

    LIVE_ORDER_OR_CART = "LiveOrderOrCart"
    SCHEDULED_TASK = "ScheduledTask"
    MANUAL_SUBMIT = "ManualSubmit"
    DOWNLOADED_FROM_BACK_END = "DownloadedFromBackEnd"
    FROM_TEMPLATES = "FromTemplates"
    LIVE = "Live"
    CAPTURE_TASK = "CaptureTask"
    BACKEND = "Backend"
    WEB_API = "WebApi"


SUBMIT_TYPES: Final = frozenset(t.value for t in SubmitType)


class OrderLineType(IntEnum):
    """``OrderLineType``: Dynamicweb's line type as an integer."""

    PRODUCT = 0
    DISCOUNT = 1  # order discount
    FIXED = 2
    PRODUCT_DISCOUNT = 3
    TAX = 4


Money = Decimal | None


@dataclass(frozen=True)
class OrderLineFieldValue:
    """One order-line field value (``OrderLineFieldValues`` / ``EcomOrderLineFields``)."""

    system_name: str
    value: str
    name: str = ""


@dataclass(frozen=True)
class OrderLineDiscount:
    """Discount columns, sent only when the shop (not the ERP) controls discounts."""

    discount_id: str = ""
    name: str = ""
    campaign_name: str = ""
    discount_type: str = ""  # Amount, Percentage, Product, AmountFromField, Shipping
    value: str | Decimal = ""  # the amount, percentage, product id, field name … (per type)


@dataclass(frozen=True)
class OrderLine:
    """An ``EcomOrderLines`` item; fields in the order the columns are emitted."""

    line_id: str
    order_id: str
    product_id: str = ""
    parent_line_id: str = ""
    product_variant_id: str = ""
    product_number: str = ""
    product_name: str = ""
    product_identifier: str = ""
    quantity: Decimal | int = 1
    unit_id: str = ""
    price_without_vat: Money = None
    unit_price_without_vat: Money = None
    net_price: Money = None  # the shop's default price; empty for non-product lines
    line_type: OrderLineType = OrderLineType.PRODUCT
    line_type_name: str = "Product"
    bom: bool = False
    bom_item_id: str = ""
    gift_card_code: str = ""
    is_gift_card_discount: bool = False  # NetPrice is left out for gift-card lines
    field_values: Sequence[OrderLineFieldValue] = ()
    discount: OrderLineDiscount | None = None

    @property
    def is_discount(self) -> bool:
        return self.line_type in (OrderLineType.DISCOUNT, OrderLineType.PRODUCT_DISCOUNT)


@dataclass(frozen=True)
class OrderHeader:
    """An ``EcomOrders`` item; fields grouped and ordered as the reference emits the columns."""

    order_id: str
    customer_access_user_external_id: str = ""
    customer_number: str = ""
    customer_name: str = ""
    customer_address: str = ""
    customer_address2: str = ""
    customer_city: str = ""
    customer_state: str = ""
    customer_zip: str = ""
    customer_country_code: str = ""
    customer_email: str = ""
    customer_phone: str = ""
    customer_fax: str = ""
    customer_company: str = ""
    customer_comment: str = ""
    customer_first_name: str = ""
    customer_surname: str = ""
    customer_ref_id: str = ""
    delivery_name: str = ""
    delivery_address: str = ""
    delivery_address2: str = ""
    delivery_city: str = ""
    delivery_state: str = ""
    delivery_zip: str = ""
    delivery_country_code: str = ""
    delivery_email: str = ""
    delivery_phone: str = ""
    delivery_fax: str = ""
    delivery_company: str = ""
    delivery_address_id: str | None = None  # the chosen saved address (ship-to code), when there is one
    auto_id: str = ""
    integration_order_id: str = ""
    currency_code: str = ""
    order_date: datetime | None = None
    payment_method_name: str = ""
    payment_method_id: str = ""
    payment_method_code: str = ""
    payment_method_terms_code: str = ""
    shipping_date: datetime | None = None
    reference: str = ""
    erp_controls_shipping: bool = False
    shipping_method_name: str = ""
    shipping_method_id: str = ""
    shipping_fee: Money = None  # with VAT
    shipping_fee_without_vat: Money = None
    shipping_item_type: str = ""  # the shop's shipping line: ERPBRIDGE_ERP_SHIPPING_ITEM_TYPE
    shipping_item_key: str = ""  # and ERPBRIDGE_ERP_SHIPPING_ITEM_KEY (the live use case sets both)
    shipping_code: str = ""
    shipping_agent_code: str = ""
    shipping_agent_service_code: str = ""
    price_total: Money = None  # with VAT
    capture_amount: Money = None
    voucher_code: str = ""
    transaction_id: str = ""
    state_id: str = ""
    state_name: str = ""
    erp_controls_discount: bool = False
    vat_country_code: str = ""
    vat_posting_group: str = ""
    custom_fields: Mapping[str, str | Decimal | int | float | bool | datetime | date | None] = field(
        default_factory=dict
    )


@dataclass(frozen=True)
class OrderDocument:
    """A cart or order as sent for calculation or creation."""

    header: OrderHeader
    lines: Sequence[OrderLine] = ()
    include_line_fields_table: bool = False  # the optional EcomOrderLineFields table


def _blank(value: ColumnInput) -> ColumnInput:
    """Order requests write an unknown value as empty text (the reference never sends isNull)."""
    return "" if value is None else value


def order_columns(header: OrderHeader, *, create: bool) -> dict[str, ColumnInput]:
    """The ``EcomOrders`` columns in emitted order (live-integration-anchor §3.3)."""
    h = header
    columns: dict[str, ColumnInput] = {
        "OrderCustomerAccessUserExternalId": h.customer_access_user_external_id,
        "OrderCustomerNumber": h.customer_number,
        "OrderCustomerName": h.customer_name,
        "OrderCustomerAddress": h.customer_address,
        "OrderCustomerAddress2": h.customer_address2,
        "OrderCustomerCity": h.customer_city,
        "OrderCustomerState": h.customer_state,
        "OrderCustomerZip": h.customer_zip,
        "OrderCustomerCountryCode": h.customer_country_code,
        "OrderCustomerEmail": h.customer_email,
        "OrderCustomerPhone": h.customer_phone,
        "OrderCustomerFax": h.customer_fax,
        "OrderCustomerCompany": h.customer_company,
        "OrderCustomerComment": h.customer_comment,
        "OrderCustomerFirstName": h.customer_first_name,
        "OrderCustomerSurname": h.customer_surname,
        "OrderCustomerRefId": h.customer_ref_id,
        "OrderDeliveryName": h.delivery_name,
        "OrderDeliveryAddress": h.delivery_address,
        "OrderDeliveryAddress2": h.delivery_address2,
        "OrderDeliveryCity": h.delivery_city,
        "OrderDeliveryState": h.delivery_state,
        "OrderDeliveryZip": h.delivery_zip,
        "OrderDeliveryCountryCode": h.delivery_country_code,
        "OrderDeliveryEmail": h.delivery_email,
        "OrderDeliveryPhone": h.delivery_phone,
        "OrderDeliveryFax": h.delivery_fax,
        "OrderDeliveryCompany": h.delivery_company,
    }
    if h.delivery_address_id:  # Dynamicweb sends it on create only; erpbridge on both (protocol.md)
        columns["OrderDeliveryAddressId"] = h.delivery_address_id
    columns |= {
        "CreateOrder": create,
        "OrderId": h.order_id,
        "OrderAutoId": h.auto_id,
        "OrderIntegrationOrderId": h.integration_order_id,
        "OrderCurrencyCode": h.currency_code,
        "OrderDate": _blank(h.order_date),
        "OrderPaymentMethodName": Column(h.payment_method_name, informational=True),
        "OrderPaymentMethodId": h.payment_method_id,
        "OrderPaymentMethodCode": h.payment_method_code,
        "OrderPaymentMethodTermsCode": h.payment_method_terms_code,
        "OrderShippingDate": _blank(h.shipping_date),
        "OrderReference": h.reference,
    }
    if h.erp_controls_shipping:
        columns |= {
            "OrderShippingMethodName": Column("", informational=True),
            "OrderShippingMethodId": "",
            "OrderShippingFee": "",
        }
    else:
        columns |= {
            "OrderShippingMethodName": Column(h.shipping_method_name, informational=True),
            "OrderShippingMethodId": h.shipping_method_id,
            "OrderShippingFee": _blank(h.shipping_fee),
            "OrderShippingFeeWithoutVat": _blank(h.shipping_fee_without_vat),
            "OrderShippingItemType": h.shipping_item_type,
            "OrderShippingItemKey": h.shipping_item_key,
            "OrderShippingCode": h.shipping_code,
            "OrderShippingAgentCode": h.shipping_agent_code,
            "OrderShippingAgentServiceCode": h.shipping_agent_service_code,
        }
    columns |= {
        "OrderPriceTotal": _blank(h.price_total),
        "OrderCaptureAmount": _blank(h.capture_amount),
        "OrderVoucherCode": h.voucher_code,
        "OrderTransactionId": h.transaction_id,
        "OrderStateId": h.state_id,
        "OrderStateName": Column(h.state_name, informational=True),
        "ErpControlsDiscount": h.erp_controls_discount,
        "VatCountryCode": h.vat_country_code,
        "VatPostingGroup": h.vat_posting_group,
    }
    for name, value in h.custom_fields.items():
        if name in columns:
            raise ProtocolError(f"custom order field {name!r} clashes with a standard EcomOrders column")
        columns[element_name(name, "custom order field")] = Column(_blank(value), custom=True)
    return columns


def _field_values_element(values: Sequence[OrderLineFieldValue]) -> Any:
    collection = etree.Element("OrderLineFieldValueCollection")
    for value in values:
        entry = etree.SubElement(collection, "OrderLineFieldValue")
        text_child(entry, "OrderLineFieldSystemName", value.system_name)
        text_child(entry, "Value", value.value)
    return collection


def order_line_columns(line: OrderLine) -> dict[str, ColumnInput]:
    """The ``EcomOrderLines`` columns of one line in emitted order."""
    columns: dict[str, ColumnInput] = {
        "OrderLineId": line.line_id,
        "OrderLineOrderId": line.order_id,
        "OrderLineParentLineId": line.parent_line_id,
        "OrderLineProductId": line.product_id,
        "OrderLineProductVariantId": line.product_variant_id,
        "OrderLineProductNumber": line.product_number,
        "OrderLineProductName": line.product_name,
        "OrderLineProductIdentifier": line.product_identifier,
        "OrderLineQuantity": line.quantity,
        "OrderLineUnitId": line.unit_id,
        "OrderLinePriceWithoutVat": _blank(line.price_without_vat),
        "OrderLineUnitPriceWithoutVat": _blank(line.unit_price_without_vat),
    }
    if not line.is_gift_card_discount:
        columns["NetPrice"] = _blank(line.net_price)
    columns |= {
        "OrderLineType": str(int(line.line_type)),
        "OrderLineTypeName": line.line_type_name,
        "OrderLineBom": line.bom,
        "OrderLineBomItemId": line.bom_item_id,
        "OrderLineGiftCardCode": line.gift_card_code,
        "OrderLineIsGiftCardDiscount": Column(line.is_gift_card_discount, custom=True),
        "OrderLineFieldValues": Column(_field_values_element(line.field_values)),
    }
    if line.discount is not None:
        columns |= {
            "OrderLineDiscountId": line.discount.discount_id,
            "OrderLineDiscountName": line.discount.name,
            "OrderLineCampaignName": line.discount.campaign_name,
            "OrderLineDiscountType": line.discount.discount_type,
            "OrderLineDiscountValue": line.discount.value,
        }
    return columns


def build_order_request(
    order: OrderDocument, *, create: bool, submit_type: str = SubmitType.LIVE_ORDER_OR_CART
) -> bytes:
    """The calculate (``create=False``) or create (``create=True``) request: ``CreateOrder`` False/True.

    Non-discount lines come first, then discount lines (order and product discounts), as the
    reference sends them; within each group the given order is kept (BOM parts after parents).
    """
    if submit_type not in SUBMIT_TYPES:
        raise ProtocolError(f"unknown submitType {submit_type!r}; one of {sorted(SUBMIT_TYPES)}")
    ordered = [line for line in order.lines if not line.is_discount] + [
        line for line in order.lines if line.is_discount
    ]
    tables: dict[str, list[dict[str, ColumnInput]]] = {
        "EcomOrders": [order_columns(order.header, create=create)],
        "EcomOrderLines": [order_line_columns(line) for line in ordered],
    }
    if order.include_line_fields_table:
        tables["EcomOrderLineFields"] = [
            {
                "OrderLineFieldOrderLineId": line.line_id,
                "OrderLineFieldName": value.name,
                "OrderLineFieldValue": value.value,
                "OrderLineFieldSystemName": value.system_name,
            }
            for line in ordered
            for value in line.field_values
        ]
    return build_tables(
        tables,
        root_attributes={
            "source": "LiveIntegration",
            "submitType": submit_type,
            "referenceName": "OrdersPut",
        },
    )


def _standard_columns() -> dict[str, frozenset[str]]:
    """Every standard name a custom field must not take, per kind: the columns (elements) the
    requests write and the answer columns erpbridge reads."""
    from erpbridge.protocol.request_builders import PRODUCT_ELEMENTS
    from erpbridge.protocol.response_parsers import ORDER_ANSWER_COLUMNS, PRODUCT_ANSWER_COLUMNS

    header = OrderHeader("", delivery_address_id="x")
    orders = {
        *order_columns(header, create=True),
        *order_columns(OrderHeader("", erp_controls_shipping=True), create=True),
        *ORDER_ANSWER_COLUMNS,
    }
    line = OrderLine("", "", discount=OrderLineDiscount())
    lines = {*order_line_columns(line), "OrderLinePriceWithVat", "OrderLineUnitPriceWithVat"}
    lines |= {"OrderLinePriceVat", "OrderLineUnitPriceVat", "OrderLineTypeId", "OrderLineVatPercent"}
    return {
        "EcomOrders": frozenset(orders),
        "EcomOrderLines": frozenset(lines),
        "Product": frozenset({*PRODUCT_ELEMENTS, *PRODUCT_ANSWER_COLUMNS}),
    }


STANDARD_COLUMNS: Final = _standard_columns()
