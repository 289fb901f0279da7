"""Builders of every request the plug-in unit understands (live-integration-anchor §3, batch §2).

| kind | root element |
| --- | --- |
| ping | ``<GetEcomData></GetEcomData>`` (no declaration) |
| product info | ``GetEcomData`` → ``tables/Products type="filter"`` → ``Product`` per product |
| calculate / create order | ``tables source="LiveIntegration" …`` (:mod:`erpbridge.protocol.order_request`) |
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
from erpbridge.protocol.tables import REQUEST_DECLARATION, Column, ColumnInput, format_value
from erpbridge.protocol.xmlsafe import parse_xml

__all__ = [
    "DOCUMENT_TYPES",
    "PRODUCT_ELEMENTS",
    "DocumentType",
    "ProductQuery",
    "build_batch_request",
    "build_get_item",
    "build_get_list",
    "build_get_pdf",
    "build_ping",
    "build_product_info_request",
    "element_name",
    "identifier_of",
    "product_identifier",
    "text_child",
]

PING: Final = b"<GetEcomData></GetEcomData>"
# The standard children of a product-info request's ``Product`` (custom fields are extra ones).
PRODUCT_ELEMENTS: Final = (
    "ProductId",
    "ProductVariantId",
    "ProductNumber",
    "ProductUnitId",
    "ProductIdentifier",
    "CurrencyCode",
    "Quantity",
)


class DocumentType(StrEnum):
    """The customer-center document types the plug-in unit serves."""

    OPEN_ORDER = "OpenOrder"
    INVOICE = "Invoice"
    CREDIT = "Credit"
    SALES_SHIPMENT = "SalesShipment"


DOCUMENT_TYPES: Final = frozenset(t.value for t in DocumentType)

_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def _declared(root: Any, *, pretty: bool) -> bytes:
    body: bytes = etree.tostring(root, encoding="utf-8", xml_declaration=False, pretty_print=pretty)
    return REQUEST_DECLARATION.encode("ascii") + b"\n" + body


def _text(value: ColumnInput) -> str:
    if isinstance(value, Column):
        value = value.value
    text = format_value(value)
    return "" if text is None else text


def text_child(parent: Any, tag: str, text: str) -> Any:
    """A ``<tag>text</tag>`` child of ``parent``."""
    element = etree.SubElement(parent, tag)
    element.text = text  # "" is written as <Tag></Tag>, as .NET does
    return element


def element_name(name: str, what: str) -> str:
    """``name``, refused (:class:`ProtocolError`) unless it is a valid XML element name."""
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
    anonymous_user_key: str,
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
        text_child(product, "ProductId", query.product_id)
        text_child(product, "ProductVariantId", query.variant_id)
        text_child(product, "ProductNumber", query.number if query.number is not None else query.product_id)
        text_child(product, "ProductUnitId", query.unit_id)
        text_child(product, "ProductIdentifier", product_identifier(query, unit_prices=unit_prices))
        text_child(product, "CurrencyCode", currency)
        text_child(product, "Quantity", format_number(query.quantity))
        for name, value in query.custom_fields.items():
            custom = text_child(product, element_name(name, "custom product field"), _text(value))
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
        root.set(element_name(name, "GetList attribute"), value)
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
