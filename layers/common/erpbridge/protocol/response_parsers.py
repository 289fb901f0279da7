"""Parsers of the plug-in unit's answers (live-integration-anchor §3–§4).

Well-formedness and hostile input are handled by :func:`parse_xml` (typed XML errors); a document
of the wrong shape or with junk in a number raises :class:`ProtocolError` naming the column; an
answer that is well-formed but says "no" (order not created, not a PDF) raises
:class:`ErpResponseError`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final, NamedTuple

from erpbridge.errors import ErpRejectedError, ErpResponseError, ProtocolError
from erpbridge.protocol.formats import INVARIANT_NUMBER, parse_bool, parse_number
from erpbridge.protocol.tables import Row, TablesDocument, parse_tables
from erpbridge.protocol.xmlsafe import DEFAULT_LIMITS, XmlLimits

__all__ = [
    "ORDER_ANSWER_COLUMNS",
    "PRODUCT_ANSWER_COLUMNS",
    "DocumentDetail",
    "DocumentList",
    "OrderResult",
    "OrderResultLine",
    "ProductInfo",
    "QuantityPrice",
    "decode_pdf",
    "parse_document",
    "parse_document_list",
    "parse_order_response",
    "parse_product_info",
]

PRODUCT_ANSWER_COLUMNS: Final = frozenset(
    {
        "ProductId",
        "ProductVariantId",
        "ProductIdentifier",
        "ProductPrice",
        "ProductPriceWithVat",
        "ProductStock",
        "ProductDefaultUnitId",
    }
)
_PRODUCT_COLUMNS = PRODUCT_ANSWER_COLUMNS


def _number(row: Row, column: str, *, table: str) -> Decimal | None:
    """A numeric column; absent, null or empty text is "not provided" (None)."""
    return _decimal(row.get(column), table, column)


def _decimal(text: str | None, table: str, column: str) -> Decimal | None:
    """:func:`_number` of a column's text already looked up (the product-info hot loop)."""
    if not text:
        return None
    if INVARIANT_NUMBER.fullmatch(text):  # the usual case, without parse_number's strip and call
        return Decimal(text)
    if not text.strip():
        return None
    try:
        return parse_number(text)
    except ProtocolError:
        raise ProtocolError(f"{table}.{column} is not an invariant number: {text!r}") from None


def _first_number(row: Row, *columns: str, table: str) -> Decimal | None:
    for column in columns:
        value = _number(row, column, table=table)
        if value is not None:
            return value
    return None


def _text(row: Row, column: str) -> str:
    return row.get(column) or ""


# --- product info -------------------------------------------------------------------------------


# Product-info values are NamedTuples: immutable like frozen dataclasses, and built at C speed
# (a 50-item answer makes ~130 of them on the live price path; frozen dataclasses cost 0.2 ms more).
class QuantityPrice(NamedTuple):
    """One ``EcomPrices`` row: a price from a quantity on (the price matrix)."""

    quantity: Decimal
    amount: Decimal | None
    amount_with_vat: Decimal | None
    unit_id: str
    customer_number: str
    price_id: str = ""


_NO_CUSTOM_FIELDS: Final[Mapping[str, str | None]] = MappingProxyType({})


class ProductInfo(NamedTuple):
    """One ``EcomProducts`` row of a product-info answer, with its quantity prices."""

    product_id: str
    variant_id: str
    identifier: str
    price: Decimal | None
    price_with_vat: Decimal | None
    stock: Decimal | None
    default_unit_id: str
    quantity_prices: tuple[QuantityPrice, ...] = ()
    custom_fields: Mapping[str, str | None] = _NO_CUSTOM_FIELDS

    def price_for(self, quantity: Decimal | int = 1) -> tuple[Decimal | None, Decimal | None]:
        """(without VAT, with VAT) for ``quantity``: ``ProductPrice`` wins when present, else the
        quantity price with the largest quantity not above the wanted one (≤0 counts as 1)."""
        if self.price is not None:
            return self.price, self.price_with_vat
        wanted = Decimal(quantity) if Decimal(quantity) > 0 else Decimal(1)
        eligible = [p for p in self.quantity_prices if p.quantity <= wanted and p.amount is not None]
        if not eligible:
            return None, None
        best = max(eligible, key=lambda p: p.quantity)
        return best.amount, best.amount_with_vat


def parse_product_info(
    xml: bytes | str, *, anonymous_user_key: str, limits: XmlLimits = DEFAULT_LIMITS
) -> dict[str, ProductInfo]:
    """Product infos keyed by ``ProductIdentifier`` (the request's join key); duplicates ignored.

    ``EcomPrices`` rows join to products on (``PriceProductId``, ``PriceProductVariantId``) =
    (``ProductId``, ``ProductVariantId``), case-insensitively; a price row's customer number equal
    to the anonymous key is blanked.
    """
    # The live price path's hot spot (a 50-item answer is ~80 KiB): parse_tables reads it without
    # an element tree when it is in the plug-in unit's plain shape (plain_tables).
    rows = parse_tables(xml, limits=limits, what="product info response").items
    prices: dict[tuple[str, str], list[QuantityPrice]] = {}
    products: list[Row] = []
    for table, row in rows:
        if table == "EcomPrices":
            get = row.get
            key = ((get("PriceProductId") or "").casefold(), (get("PriceProductVariantId") or "").casefold())
            customer = get("PriceUserCustomerNumber") or ""
            price = QuantityPrice(
                _decimal(get("PriceQuantity"), "EcomPrices", "PriceQuantity") or _ONE,
                _decimal(get("PriceAmount"), "EcomPrices", "PriceAmount"),
                _decimal(get("PriceAmountWithVat"), "EcomPrices", "PriceAmountWithVat"),
                get("PriceProductUnitId") or "",
                "" if customer == anonymous_user_key else customer,
                get("PriceId") or "",
            )
            listed = prices.get(key)
            if listed is None:
                prices[key] = [price]
            else:
                listed.append(price)
        elif table == "EcomProducts":
            products.append(row)
    infos: dict[str, ProductInfo] = {}
    for row in products:
        get = row.get
        identifier = get("ProductIdentifier")
        if not identifier:
            raise ProtocolError(
                f"product info response: an EcomProducts item has no ProductIdentifier "
                f"(ProductId {row.get('ProductId')!r})"
            )
        if identifier in infos:
            continue
        product_id, variant_id = get("ProductId") or "", get("ProductVariantId") or ""
        infos[identifier] = ProductInfo(
            product_id,
            variant_id,
            identifier,
            _decimal(get("ProductPrice"), "EcomProducts", "ProductPrice"),
            _decimal(get("ProductPriceWithVat"), "EcomProducts", "ProductPriceWithVat"),
            _decimal(get("ProductStock"), "EcomProducts", "ProductStock"),
            get("ProductDefaultUnitId") or "",
            tuple(prices.get((product_id.casefold(), variant_id.casefold()), ())),
            _NO_CUSTOM_FIELDS
            if _PRODUCT_COLUMNS.issuperset(row)
            else {k: v for k, v in row.items() if k not in _PRODUCT_COLUMNS},
        )
    return infos


_ONE: Final = Decimal(1)


# --- orders -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderResultLine:
    """One ``EcomOrderLines`` row of a calculate/create answer."""

    line_id: str
    parent_line_id: str
    line_type: int  # 0/empty product, 1 order discount, 2 fixed, 3 product discount, 4 tax
    product_id: str
    product_number: str
    product_variant_id: str
    product_name: str
    quantity: Decimal | None
    unit_id: str
    unit_price_with_vat: Decimal | None
    unit_price_without_vat: Decimal | None
    unit_price_vat: Decimal | None
    price_with_vat: Decimal | None
    price_without_vat: Decimal | None
    price_vat: Decimal | None
    row: Row

    @property
    def is_product(self) -> bool:
        return self.line_type in (0, 2)

    @property
    def is_discount(self) -> bool:
        return self.line_type in (1, 3)


@dataclass(frozen=True)
class OrderResult:
    """The ERP's answer to a calculate or create request."""

    order_id: str
    erp_order_id: str
    created: bool
    total_with_vat: Decimal | None
    total_without_vat: Decimal | None
    subtotal_with_vat: Decimal | None
    subtotal_without_vat: Decimal | None
    shipping_fee: Decimal | None
    shipping_method: str
    sales_discount: Decimal | None
    shipping_warning: str
    lines: list[OrderResultLine]
    header: Row


def _line_type(row: Row) -> int:
    text = (row.get("OrderLineType") or row.get("OrderLineTypeId") or "").strip()
    if not text:
        return 0
    if not text.lstrip("-").isdigit():
        raise ProtocolError(f"EcomOrderLines.OrderLineType is not an integer: {text!r}")
    return int(text)


def _order_line(row: Row) -> OrderResultLine:
    table = "EcomOrderLines"
    return OrderResultLine(
        line_id=_text(row, "OrderLineId"),
        parent_line_id=_text(row, "OrderLineParentLineId"),
        line_type=_line_type(row),
        product_id=_text(row, "OrderLineProductId"),
        product_number=_text(row, "OrderLineProductNumber"),
        product_variant_id=_text(row, "OrderLineProductVariantId"),
        product_name=_text(row, "OrderLineProductName"),
        quantity=_number(row, "OrderLineQuantity", table=table),
        unit_id=_text(row, "OrderLineUnitId"),
        unit_price_with_vat=_number(row, "OrderLineUnitPriceWithVat", table=table),
        unit_price_without_vat=_number(row, "OrderLineUnitPriceWithoutVat", table=table),
        unit_price_vat=_number(row, "OrderLineUnitPriceVat", table=table),
        price_with_vat=_number(row, "OrderLinePriceWithVat", table=table),
        price_without_vat=_number(row, "OrderLinePriceWithoutVat", table=table),
        price_vat=_number(row, "OrderLinePriceVat", table=table),
        row=row,
    )


# The EcomOrders column a plug-in unit that answers ``OrderCreated`` False puts its reason in (the
# anchor defines none; docs/protocol.md names this choice).
REFUSAL_REASON_COLUMN = "OrderErrorMessage"
# The EcomOrders columns of an answer that erpbridge reads (custom order fields must not take them).
ORDER_ANSWER_COLUMNS: Final = frozenset(
    {
        "OrderPrice",
        "OrderPriceWithVat",
        "OrderPriceWithoutVat",
        "OrderPriceBeforeFeesWithVat",
        "OrderPriceBeforeFeesWithoutVat",
        "OrderSalesDiscount",
        "OrderShippingFeeWithoutVat",
        "OrderShippingWarning",
        "OrderCreated",
        REFUSAL_REASON_COLUMN,
    }
)


def parse_order_response(
    xml: bytes | str, *, create: bool, limits: XmlLimits = DEFAULT_LIMITS
) -> OrderResult:
    """Read the first ``EcomOrders`` item and every ``EcomOrderLines`` item.

    With ``create=True`` the column ``OrderCreated`` must be boolean true (``True``/``true``; ``1``
    is not) — otherwise the order counts as not created: boolean false is the ERP refusing it
    (:class:`ErpRejectedError`, with its reason from ``OrderErrorMessage`` when it gives one),
    anything else an unusable answer (:class:`ErpResponseError`). The ERP's order number is
    ``OrderIntegrationOrderId``, else ``OrderId``.
    """
    document = parse_tables(xml, limits=limits, what="order response")
    headers = document.rows("EcomOrders")
    if not headers:
        raise ErpResponseError("order response has no EcomOrders item")
    header = headers[0]
    table = "EcomOrders"
    created = False
    if create:
        flag = header.get("OrderCreated")
        try:
            created = parse_bool(flag)
        except ProtocolError:
            raise ErpResponseError(
                f"the ERP did not confirm the order: OrderCreated is {flag!r}, not True "
                f"(OrderId {header.get('OrderId')!r})"
            ) from None
        if not created:
            reason = _text(header, REFUSAL_REASON_COLUMN) or "the ERP gave no reason"
            raise ErpRejectedError(
                f"the ERP did not create the order (OrderCreated False): {reason}", erp_message=reason
            )
    total_with_vat = _first_number(header, "OrderPrice", "OrderPriceWithVat", table=table)
    total_without_vat = _number(header, "OrderPriceWithoutVat", table=table)
    subtotal_with_vat = _number(header, "OrderPriceBeforeFeesWithVat", table=table)
    subtotal_without_vat = _number(header, "OrderPriceBeforeFeesWithoutVat", table=table)
    return OrderResult(
        order_id=_text(header, "OrderId"),
        erp_order_id=_text(header, "OrderIntegrationOrderId") or _text(header, "OrderId"),
        created=created,
        total_with_vat=total_with_vat,
        total_without_vat=total_without_vat,
        subtotal_with_vat=subtotal_with_vat if subtotal_with_vat is not None else total_with_vat,
        subtotal_without_vat=subtotal_without_vat if subtotal_without_vat is not None else total_without_vat,
        shipping_fee=_number(header, "OrderShippingFee", table=table),
        shipping_method=_text(header, "OrderShippingMethodName") or _text(header, "OrderShippingMethodId"),
        sales_discount=_number(header, "OrderSalesDiscount", table=table),
        shipping_warning=_text(header, "OrderShippingWarning"),
        lines=[_order_line(row) for row in document.rows("EcomOrderLines")],
        header=header,
    )


# --- customer center ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentList:
    """A customer-center list page: every ``item``; ``total_count`` when the ERP pages (``Items``)."""

    items: list[Row]
    total_count: int | None


@dataclass(frozen=True)
class DocumentDetail:
    """One customer-center document: the ``EcomOrders`` header and its ``EcomOrderLines``."""

    header: Row
    lines: list[Row]


def _total_count(document: TablesDocument) -> int | None:
    if document.root_tag != "Items":
        return None
    text = document.attributes.get("totalCount")
    if text is None or not text.strip():
        return None
    if not text.strip().isdigit():
        raise ProtocolError(f"Items/@totalCount is not a non-negative integer: {text!r}")
    return int(text)


def parse_document_list(xml: bytes | str, *, limits: XmlLimits = DEFAULT_LIMITS) -> DocumentList:
    """Any ``item`` rows; root ``<Items totalCount="N">`` means the ERP pages server-side."""
    document = parse_tables(xml, limits=limits, what="document list response")
    return DocumentList(items=[row for _, row in document.items], total_count=_total_count(document))


def parse_document(xml: bytes | str, *, limits: XmlLimits = DEFAULT_LIMITS) -> DocumentDetail:
    """A document's header (first ``EcomOrders`` item) and lines; no header → ErpResponseError."""
    document = parse_tables(xml, limits=limits, what="document response")
    headers = document.rows("EcomOrders")
    if not headers:
        raise ErpResponseError("document response has no EcomOrders item (document not found?)")
    return DocumentDetail(header=headers[0], lines=document.rows("EcomOrderLines"))


# --- PDF ----------------------------------------------------------------------------------------


def decode_pdf(text: str | bytes, *, max_bytes: int = 64 * 1024 * 1024) -> bytes:
    """The base64 answer of ``GetPDFForItem`` as PDF bytes; anything that is not a PDF is refused."""
    raw = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    compact = b"".join(raw.split())
    if not compact:
        raise ErpResponseError("the ERP returned an empty PDF answer")
    if len(compact) * 3 // 4 > max_bytes:
        raise ErpResponseError(f"the PDF answer is larger than {max_bytes} bytes")
    try:
        pdf = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        preview = compact[:40].decode("ascii", "replace")
        raise ErpResponseError(f"the PDF answer is not base64 (starts {preview!r})") from None
    if not pdf.startswith(b"%PDF"):
        raise ErpResponseError("the PDF answer decodes to something that is not a PDF (no %PDF header)")
    return pdf
