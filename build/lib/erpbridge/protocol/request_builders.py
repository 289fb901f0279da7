"""Builders of every request the plug-in unit understands (live-integration-anchor §3, batch §2).

| kind | root element |
| --- | --- |
| ping | ``<GetEcomData></GetEcomData>`` (no declaration) |
| product info | ``GetEcomData`` → ``tables/Products type="filter"`` → ``Product`` per product |
| calculate / create order | ``tables source="LiveIntegration" submitType=… referenceName="OrdersPut"`` |
| customer-center list | ``GetList type customerID requestAmount firstItem …`` |
| customer-center document | ``GetItem type customerID documentNO`` |
| document PDF | ``GetPDFForItem type id externalUserID`` |
| batch fetch | ``GetEcomData`` from a job's template, ``{name}`` placeholders filled |

Values are element text or attribute values, XML-escaped, never CDATA; numbers, booleans and
dates use :mod:`erpbridge.protocol.formats`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from lxml import etree

from erpbridge.errors import ConfigurationError, ProtocolError, XmlError
from erpbridge.protocol.formats import format_number
from erpbridge.protocol.tables import REQUEST_DECLARATION, Column, ColumnInput, build_tables, format_value
from erpbridge.protocol.xmlsafe import parse_xml

__all__ = [
    "DOCUMENT_TYPES",
    "SUBMIT_TYPES",
    "DocumentType",
    "OrderDocument",
    "OrderHeader",
    "OrderLine",
    "OrderLineDiscount",
    "OrderLineFieldValue",
    "ProductQuery",
    "build_batch_request",
    "build_get_item",
    "build_get_list",
    "build_get_pdf",
    "build_order_request",
    "build_ping",
    "build_product_info_request",
    "order_columns",
    "order_line_columns",
    "product_identifier",
]

PING: Final = b"<GetEcomData></GetEcomData>"


class DocumentType(StrEnum):
    """The customer-center document types the plug-in unit serves."""

    OPEN_ORDER = "OpenOrder"
    INVOICE = "Invoice"
    CREDIT = "Credit"
    SALES_SHIPMENT = "SalesShipment"


DOCUMENT_TYPES: Final = frozenset(t.value for t in DocumentType)

SUBMIT_TYPES: Final = frozenset(
    {
        "LiveOrderOrCart",
        "ScheduledTask",
        "ManualSubmit",
        "DownloadedFromBackEnd",
        "FromTemplates",
        "Live",
        "CaptureTask",
        "Backend",
        "WebApi",
    }
)

_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def _declared(root: Any, *, pretty: bool) -> bytes:
    body: bytes = etree.tostring(root, encoding="utf-8", xml_declaration=False, pretty_print=pretty)
    return REQUEST_DECLARATION.encode("ascii") + b"\n" + body


def _text(value: ColumnInput) -> str:
    if isinstance(value, Column):
        value = value.value
    text = format_value(value)
    return "" if text is None else text


def _child(parent: Any, tag: str, text: str) -> Any:
    element = etree.SubElement(parent, tag)
    element.text = text  # "" is written as <Tag></Tag>, as .NET does
    return element


def _element_name(name: str, what: str) -> str:
    if not _XML_NAME.fullmatch(name) or name.lower().startswith("xml"):
        raise ProtocolError(f"{what} {name!r} is not a valid XML element name")
    return name


# --- ping ---------------------------------------------------------------------------------------


def build_ping() -> bytes:
    """The connection check: an empty ``GetEcomData``; any successful answer means "up"."""
    return PING


# --- product info -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductQuery:
    """One product (or variant) whose live price/stock is wanted.

    ``product_id`` is what the ERP knows the product by (the shop id, or the number when prices
    are calculated by product number); ``number`` defaults to it.
    """

    product_id: str
    variant_id: str = ""
    number: str | None = None
    unit_id: str = ""
    language_id: str = ""
    quantity: Decimal | int | float = 1
    custom_fields: Mapping[str, str | Decimal | int | float | bool | datetime | date | None] = field(
        default_factory=dict
    )


def product_identifier(query: ProductQuery, *, unit_prices: bool) -> str:
    """``<id>.<variant>.<language>`` plus ``.<unit>`` with unit prices: the cache and join key."""
    return identifier_of(query.product_id, query.variant_id, query.language_id, query.unit_id, unit_prices)


def identifier_of(product_id: str, variant_id: str, language: str, unit: str, unit_prices: bool) -> str:
    """:func:`product_identifier` of the parts (order lines carry the same identifier)."""
    identifier = f"{product_id}.{variant_id}.{language}"
    return f"{identifier}.{unit}" if unit_prices and unit else identifier


def build_product_info_request(
    queries: Iterable[ProductQuery],
    *,
    customer_number: str | None,
    anonymous_user_key: str = "Anonymous",
    currency_code: str = "",
    vat_country_code: str = "",
    vat_posting_group: str = "",
    unit_prices: bool = True,
    local_currency_code: str | None = None,
) -> bytes:
    """``GetEcomData`` with ``tables/Products type="filter"`` and one ``Product`` per query.

    ``ExternalUserId`` and ``AccessUserCustomerNumber`` both carry the customer number (the
    anonymous key when there is none). ``CurrencyCode`` is left empty when it equals
    ``local_currency_code`` so the ERP applies its local currency.
    """
    customer = customer_number or anonymous_user_key
    currency = (
        "" if local_currency_code is not None and currency_code == local_currency_code else currency_code
    )
    queries = list(queries)
    fast = _product_info_text(
        queries, customer, vat_country_code, vat_posting_group, currency, unit_prices=unit_prices
    )
    if fast is not None:
        return fast
    root = etree.Element("GetEcomData")
    root.set("ExternalUserId", customer)
    root.set("AccessUserCustomerNumber", customer)
    root.set("VatCountryCode", vat_country_code)
    root.set("VatPostingGroup", vat_posting_group)
    products = etree.SubElement(etree.SubElement(root, "tables"), "Products")
    products.set("type", "filter")
    if unit_prices:
        products.set("unitPrices", "true")
    for query in queries:
        product = etree.SubElement(products, "Product")
        _child(product, "ProductId", query.product_id)
        _child(product, "ProductVariantId", query.variant_id)
        _child(product, "ProductNumber", query.number if query.number is not None else query.product_id)
        _child(product, "ProductUnitId", query.unit_id)
        _child(product, "ProductIdentifier", product_identifier(query, unit_prices=unit_prices))
        _child(product, "CurrencyCode", currency)
        _child(product, "Quantity", format_number(query.quantity))
        for name, value in query.custom_fields.items():
            custom = _child(product, _element_name(name, "custom product field"), _text(value))
            custom.set("isCustomField", "True")
    return _declared(root, pretty=True)


# Values that lxml would write differently from the text itself (escaped characters) or refuse
# (control characters, surrogates, non-characters): with any of them the request is built by lxml.
_NOT_VERBATIM: Final = re.compile('[&<>"\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]')
_QUANTITY_TEXT: dict[Decimal, str] = {}


def _quantity_text(quantity: Decimal | int | float) -> str:
    """format_number, remembered for Decimal quantities (a request repeats the same few)."""
    if type(quantity) is not Decimal or not quantity.is_finite():  # NaN cannot be a key; it is refused
        return format_number(quantity)
    text = _QUANTITY_TEXT.get(quantity)
    if text is None:
        text = format_number(quantity)
        if len(_QUANTITY_TEXT) < 256:
            _QUANTITY_TEXT[quantity] = text
    return text


def _product_info_text(
    queries: Sequence[ProductQuery],
    customer: str,
    vat_country_code: str,
    vat_posting_group: str,
    currency: str,
    *,
    unit_prices: bool,
) -> bytes | None:
    """The product-info request written as text, byte for byte what the lxml path below writes
    (pretty-printed, ``""`` as ``<Tag></Tag>``), for the usual case: at least one query, no custom
    fields, no value that needs escaping. None = let lxml build it. The live price path builds one
    per cache miss; the element tree costs ~10x more."""
    if not queries:
        return None
    values = [customer, vat_country_code, vat_posting_group, currency]
    parts = [
        REQUEST_DECLARATION,
        f'\n<GetEcomData ExternalUserId="{customer}" AccessUserCustomerNumber="{customer}" '
        f'VatCountryCode="{vat_country_code}" VatPostingGroup="{vat_posting_group}">\n  <tables>\n',
        '    <Products type="filter" unitPrices="true">\n'
        if unit_prices
        else '    <Products type="filter">\n',
    ]
    for query in queries:
        if query.custom_fields:
            return None
        number = query.number if query.number is not None else query.product_id
        identifier = product_identifier(query, unit_prices=unit_prices)
        try:
            quantity = _quantity_text(query.quantity)
        except ProtocolError:
            return None  # the lxml path raises it, after any error of an earlier value
        values += (query.product_id, query.variant_id, number, query.unit_id, identifier)
        parts.append(
            f"      <Product>\n"
            f"        <ProductId>{query.product_id}</ProductId>\n"
            f"        <ProductVariantId>{query.variant_id}</ProductVariantId>\n"
            f"        <ProductNumber>{number}</ProductNumber>\n"
            f"        <ProductUnitId>{query.unit_id}</ProductUnitId>\n"
            f"        <ProductIdentifier>{identifier}</ProductIdentifier>\n"
            f"        <CurrencyCode>{currency}</CurrencyCode>\n"
            f"        <Quantity>{quantity}</Quantity>\n"
            f"      </Product>\n"
        )
    try:
        checked = "".join(values)
    except TypeError:
        return None  # a value that is not text: the lxml path says which
    if _NOT_VERBATIM.search(checked):
        return None
    parts.append("    </Products>\n  </tables>\n</GetEcomData>\n")
    text = "".join(parts)
    return text.encode("utf-8")


# --- orders -------------------------------------------------------------------------------------

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
    value: str = ""


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
    line_type: int = 0  # 0 product, 1 order discount, 2 fixed, 3 product discount, 4 tax
    line_type_name: str = "Product"
    bom: bool = False
    bom_item_id: str = ""
    gift_card_code: str = ""
    is_gift_card_discount: bool = False  # NetPrice is left out for gift-card lines
    field_values: Sequence[OrderLineFieldValue] = ()
    discount: OrderLineDiscount | None = None

    @property
    def is_discount(self) -> bool:
        return self.line_type in (1, 3)


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
    delivery_address_id: str | None = None  # sent only when creating and an address is chosen
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
    shipping_item_type: str = "ItemCharge"
    shipping_item_key: str = "DW-SHIP"
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
    if create and h.delivery_address_id:
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
        columns[_element_name(name, "custom order field")] = Column(_blank(value), custom=True)
    return columns


def _field_values_element(values: Sequence[OrderLineFieldValue]) -> Any:
    collection = etree.Element("OrderLineFieldValueCollection")
    for value in values:
        entry = etree.SubElement(collection, "OrderLineFieldValue")
        _child(entry, "OrderLineFieldSystemName", value.system_name)
        _child(entry, "Value", value.value)
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
        "OrderLineType": str(line.line_type),
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


def build_order_request(order: OrderDocument, *, create: bool, submit_type: str = "LiveOrderOrCart") -> bytes:
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


# --- customer center ----------------------------------------------------------------------------


def _document_type(doc_type: str) -> str:
    if doc_type not in DOCUMENT_TYPES:
        raise ProtocolError(f"unknown document type {doc_type!r}; one of {sorted(DOCUMENT_TYPES)}")
    return str(doc_type)


def build_get_list(
    doc_type: str,
    customer_id: str,
    *,
    request_amount: int,
    first_item: int,
    sort_by_field: str | None = None,
    sort_direction: str | None = None,
    search_field: str | None = None,
    search_value: str | None = None,
    extra_attributes: Mapping[str, str] | None = None,
) -> bytes:
    """``<GetList type customerID requestAmount firstItem [sortByField sortDirection] [searchField
    searchValue]/>``; ``first_item`` is 1-based. Sorting is sent only with a field, searching only
    with both field and value; ``extra_attributes`` are the ``icc_<X>`` pass-through parameters."""
    if request_amount < 1 or first_item < 1:
        raise ProtocolError("GetList needs requestAmount >= 1 and a 1-based firstItem >= 1")
    root = etree.Element("GetList")
    root.set("type", _document_type(doc_type))
    root.set("customerID", customer_id)
    root.set("requestAmount", str(request_amount))
    root.set("firstItem", str(first_item))
    if sort_by_field:
        direction = sort_direction or "Asc"
        if direction not in ("Asc", "Desc"):
            raise ProtocolError(f"sortDirection must be Asc or Desc, not {direction!r}")
        root.set("sortByField", sort_by_field)
        root.set("sortDirection", direction)
    if search_field and search_value is not None and search_value != "":
        root.set("searchField", search_field)
        root.set("searchValue", search_value)
    for name, value in (extra_attributes or {}).items():
        if name in root.attrib:
            raise ProtocolError(f"extra GetList attribute {name!r} clashes with a standard one")
        root.set(_element_name(name, "GetList attribute"), value)
    return _declared(root, pretty=False)


def build_get_item(doc_type: str, customer_id: str, document_no: str) -> bytes:
    """``<GetItem type customerID documentNO/>``."""
    root = etree.Element("GetItem")
    root.set("type", _document_type(doc_type))
    root.set("customerID", customer_id)
    root.set("documentNO", document_no)
    return _declared(root, pretty=False)


def build_get_pdf(doc_type: str, document_id: str, external_user_id: str) -> bytes:
    """``<GetPDFForItem type id externalUserID/>``; the answer is base64 text, not XML."""
    root = etree.Element("GetPDFForItem")
    root.set("type", _document_type(doc_type))
    root.set("id", document_id)
    root.set("externalUserID", external_user_id)
    return _declared(root, pretty=False)


# --- batch --------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _fill(text: str, parameters: Mapping[str, str], where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name = match.group(1)
        if name not in parameters:
            known = ", ".join(sorted(parameters)) or "none"
            raise ConfigurationError(
                f"request template placeholder {{{name}}} in {where} has no parameter (known: {known})"
            )
        return str(parameters[name])

    return _PLACEHOLDER.sub(replace, text)


def build_batch_request(template: str, parameters: Mapping[str, str]) -> bytes:
    """A batch ``GetEcomData`` request from a job's template.

    ``{name}`` placeholders in attribute values (and element text) are replaced by
    ``parameters[name]`` — XML-escaped by the serializer; ``{{``/``}}`` are literal braces. An
    unknown placeholder, a template that is not well-formed or whose root is not ``GetEcomData``
    is a :class:`ConfigurationError`.
    """
    try:
        root = parse_xml(template, what="request template")
    except XmlError as error:
        raise ConfigurationError(f"the job's request template is not usable XML: {error}") from None
    if root.tag != "GetEcomData":
        raise ConfigurationError(f"a batch request template must have root GetEcomData, not {root.tag!r}")
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for name, value in element.attrib.items():
            element.set(name, _fill(value, parameters, f"{element.tag}/@{name}"))
        if element.text and "{" in element.text:
            element.text = _fill(element.text, parameters, f"text of {element.tag}")
    body: bytes = etree.tostring(root, encoding="utf-8", xml_declaration=False)
    return body
