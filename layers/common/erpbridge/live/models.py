"""The live API's JSON contract (snake_case), as pydantic models.

These models are the single source of the OpenAPI document: request bodies are validated against
them (422 with the field and the reason) and responses are serialised through them. Amounts are
``Decimal`` inside erpbridge and JSON numbers on the wire.

No ``from __future__ import annotations`` here: pydantic would have to evaluate every annotation
string when the classes are created, ~3 ms of the live function's cold start.
"""

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

# Ranges of the numbers a request carries, stated in the schema (openapi.json) and checked before
# anything reaches the ERP. The schema says JSON number (a numeric string is read too: orders the
# shop wrote itself are stored that way). Values are rounded to 2 decimals half-to-even (a float
# such as 59.97000000000001 is 59.97), as the order XML carries them (erpbridge.protocol.formats),
# so what is validated is exactly what the ERP gets.
MAX_QUANTITY = Decimal(1_000_000_000)
MAX_AMOUNT = Decimal(1_000_000_000)
SMALLEST = Decimal("0.01")


def _two_places(value: Decimal) -> Decimal:
    return value.quantize(SMALLEST, rounding=ROUND_HALF_EVEN)


_AS_FLOAT = PlainSerializer(float, return_type=float, when_used="json")
# Decimal inside, JSON number outside (pydantic would otherwise write strings).
Amount = Annotated[Decimal, _AS_FLOAT]


def _range(minimum: Decimal, maximum: Decimal) -> WithJsonSchema:
    return WithJsonSchema({"type": "number", "minimum": float(minimum), "maximum": float(maximum)})


_ROUNDED = AfterValidator(_two_places)
Quantity = Annotated[
    Decimal, Field(ge=SMALLEST, le=MAX_QUANTITY), _ROUNDED, _range(SMALLEST, MAX_QUANTITY), _AS_FLOAT
]
# Amounts the shop sends: a discount is at least 0.01, a shipping fee may be 0.
DiscountAmount = Annotated[
    Decimal, Field(ge=SMALLEST, le=MAX_AMOUNT), _ROUNDED, _range(SMALLEST, MAX_AMOUNT), _AS_FLOAT
]
FeeAmount = Annotated[
    Decimal, Field(ge=0, le=MAX_AMOUNT), _ROUNDED, _range(Decimal(0), MAX_AMOUNT), _AS_FLOAT
]
# Identifiers travel into ERP XML attributes and cache keys: bounded, printable, no control chars.
Identifier = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[^\x00-\x1f\x7f\ufffe\uffff]+$")]
OptionalCode = Annotated[str, Field(max_length=50, pattern=r"^[^\x00-\x1f\x7f\ufffe\uffff]*$")]
ShopId = Annotated[
    OptionalCode,
    Field(description="the shop: picks its ERP endpoint (docs/erp-endpoints.md); empty = the default shop"),
]
# Free text (names, addresses, comments) travels as XML text: tabs and line breaks are fine,
# characters XML 1.0 cannot carry are refused here rather than by the XML writer after the order
# was stored (erpbridge.protocol.tables).
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*$"


def _text(max_length: int, min_length: int = 0) -> object:
    return Field(min_length=min_length, max_length=max_length, pattern=_TEXT)


Text20 = Annotated[str, _text(20)]
Text30 = Annotated[str, _text(30)]
Text50 = Annotated[str, _text(50)]
Text100 = Annotated[str, _text(100)]
Text500 = Annotated[str, _text(500)]
CurrencyCode = Annotated[
    str, Field(pattern=r"^([A-Z]{3})?$", description="ISO 4217; empty = ERP local currency")
]

MAX_PRICE_ITEMS = 500
MAX_ORDER_LINES = 500
MAX_CUSTOM_FIELDS = 20

# The commerce context (docs/commerce-context.md). VAT country and posting group travel as the
# request root's VatCountryCode / VatPostingGroup (prices) or the EcomOrders columns of the same
# names (baskets, orders); empty = the ERP's default (the customer's card, else its home country).
VatCountry = Annotated[
    str, Field(pattern=r"^([A-Z]{2})?$", description="ISO 3166 alpha-2; empty = the ERP's default")
]
VatPostingGroup = Annotated[
    str,
    Field(
        max_length=20,
        pattern=r"^[A-Za-z0-9_.\-]*$",
        description="the ERP's VAT business posting group (BC: Code[20]); empty = the ERP's default",
    ),
]


def _field_name(name: str) -> str:
    if name[:3].lower() == "xml":  # XML reserves names starting with xml (any case)
        raise ValueError("a custom field name must not start with 'xml'")
    return name


# A custom field's name becomes an XML element (product fields) or a column name (order fields).
FieldName = Annotated[
    str,
    Field(min_length=1, max_length=50, pattern=r"^[A-Za-z_][A-Za-z0-9_.\-]*$"),
    AfterValidator(_field_name),
]
FieldValue = Annotated[str, _text(500)]


def _not_standard(kind: str) -> AfterValidator:
    """Refuse custom field names that are standard columns of ``kind`` (the ERP would read the
    value as that column). Imported on first use: the protocol package is not on the cold path."""

    def check(fields: dict[str, str]) -> dict[str, str]:
        if fields:
            from erpbridge.protocol.order_request import STANDARD_COLUMNS

            if any(name in STANDARD_COLUMNS[kind] for name in fields):  # the reason names no input
                raise ValueError(f"a custom field name must not be one of the standard {kind} columns")
        return fields

    return AfterValidator(check)


_FIELDS = dict[FieldName, FieldValue]
ProductCustomFields = Annotated[
    _FIELDS,
    Field(
        max_length=MAX_CUSTOM_FIELDS,
        description='product custom fields, sent with isCustomField="True" (system name → value); '
        "the ERP's answer comes back in the item's custom_fields",
    ),
    _not_standard("Product"),
]
OrderCustomFields = Annotated[
    _FIELDS,
    Field(
        max_length=MAX_CUSTOM_FIELDS,
        description='order custom fields: EcomOrders columns with isCustomField="True" (system name → '
        "value); the ERP's answer to them comes back in custom_fields",
    ),
    _not_standard("EcomOrders"),
]
LineCustomFields = Annotated[
    _FIELDS,
    Field(
        max_length=MAX_CUSTOM_FIELDS,
        description="order line field values: the line's OrderLineFieldValues collection (system name → "
        "value); the ERP's answer comes back in the priced line's custom_fields",
    ),
    _not_standard("EcomOrderLines"),
]
ReturnedFields = Annotated[
    dict[str, str | None],
    Field(description="custom fields the ERP answered with (column name → value; null = isNull)"),
]


class ApiModel(BaseModel):
    # defer_build: schemas are built on first use (the first request), not at cold import.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    def __repr__(self) -> str:
        # Short on purpose: Powertools logs route arguments with an f-string on every request
        # (formatting a 500-item body costs milliseconds), and bodies do not belong in logs anyway.
        return f"{type(self).__name__}(…)"


class PriceSource(StrEnum):
    ERP = "erp"
    CACHE = "cache"
    FALLBACK = "fallback"


# --- prices -----------------------------------------------------------------------------------


class PriceItemRequest(ApiModel):
    product_id: Identifier
    variant_id: OptionalCode = ""
    unit: OptionalCode = Field(default="", description="unit of measure; empty = the product's default")
    quantity: Quantity = Field(default=Decimal(1), json_schema_extra={"default": 1})
    custom_fields: ProductCustomFields = {}


class PriceRequest(ApiModel):
    customer_number: Identifier | None = Field(default=None, description="absent = anonymous prices")
    currency: CurrencyCode = ""
    shop_id: ShopId = ""
    language: OptionalCode = ""
    vat_country: VatCountry = ""
    vat_posting_group: VatPostingGroup = ""
    items: list[PriceItemRequest] = Field(min_length=1, max_length=MAX_PRICE_ITEMS)


class QuantityPrice(ApiModel):
    quantity: Amount
    price: Amount | None
    price_with_vat: Amount | None
    unit: str = ""


class PriceItem(ApiModel):
    product_id: str
    variant_id: str
    unit: str
    quantity: Amount
    found: bool | None = Field(
        description="false = no price is known for exactly this request: the ERP does not know the "
        "product (cached negatively), or the shop database holds no price in this currency, unit, "
        "quantity or date (see reason); null = no source could answer"
    )
    price: Amount | None
    price_with_vat: Amount | None
    stock: Amount | None
    default_unit: str = ""
    quantity_prices: list[QuantityPrice] = []
    source: PriceSource
    as_of: datetime = Field(description="when the ERP (or the shop database) produced this figure")
    reason: str | None = Field(default=None, description="why there is no price, when found is not true")
    stock_status: Literal["current", "last_known", "hidden", "unknown"] = Field(
        default="current",
        description="current: stock from the ERP (now or within the cache TTL); while the ERP is down, "
        "as ERPBRIDGE_DEGRADE_STOCK says: last_known (the figure is stock_age_s old), hidden (show no "
        "stock), unknown (show that availability is unknown)",
    )
    stock_age_s: float | None = Field(
        default=None, description="last_known: seconds since the stock figure was produced"
    )
    custom_fields: ReturnedFields = {}


class PriceResponse(ApiModel):
    customer_number: str | None
    currency: str
    shop_id: str
    language: str
    vat_country: str = ""
    vat_posting_group: str = ""
    items: list[PriceItem]
    degraded: bool = Field(description="true when some figures are fallbacks because the ERP was unavailable")
    message: str | None = None


# --- baskets and orders -----------------------------------------------------------------------


class Address(ApiModel):
    name: Text100 = ""
    company: Text100 = ""
    address: Text100 = ""
    address2: Text100 = ""
    zip: Text20 = ""
    city: Text50 = ""
    state: Text50 = ""
    country_code: Annotated[str, Field(pattern=r"^([A-Z]{2})?$")] = ""
    email: Text100 = ""
    phone: Text30 = ""


class OrderLineRequest(ApiModel):
    product_id: Identifier
    variant_id: OptionalCode = ""
    unit: OptionalCode = ""
    quantity: Quantity
    name: Text100 = ""
    custom_fields: LineCustomFields = {}


class ShopDiscount(ApiModel):
    """A discount the shop computed (used when the shop, not the ERP, controls discounts)."""

    name: Annotated[str, _text(100, min_length=1)]
    amount: DiscountAmount = Field(description="amount off, without VAT")
    product_id: OptionalCode = Field(default="", description="empty = order discount; else product discount")


class Shipping(ApiModel):
    method_id: OptionalCode = ""
    method_name: Text100 = ""
    fee: FeeAmount | None = Field(default=None, description="with VAT; only when the shop controls shipping")
    fee_without_vat: FeeAmount | None = None


class BasketRequest(ApiModel):
    customer_number: Identifier | None = None
    currency: CurrencyCode = ""
    shop_id: ShopId = ""
    language: OptionalCode = ""
    lines: list[OrderLineRequest] = Field(min_length=1, max_length=MAX_ORDER_LINES)
    shipping: Shipping | None = None
    discounts: list[ShopDiscount] = Field(default=[], max_length=50)
    erp_controls_discount: bool = Field(default=True, description="false = the shop's `discounts` are sent")
    erp_controls_shipping: bool = Field(default=True, description="false = the shop's `shipping.fee` is sent")
    voucher_code: OptionalCode = ""
    vat_country: VatCountry = ""
    vat_posting_group: VatPostingGroup = ""
    ship_to_code: OptionalCode = Field(
        default="",
        description="the customer's saved ship-to address in the ERP (OrderDeliveryAddressId); the ERP "
        "refuses a code it does not know",
    )
    delivery_address: Address | None = Field(
        default=None, description="where the goods go (OrderDelivery* columns); absent = the billing address"
    )
    custom_fields: OrderCustomFields = {}


class OrderRequest(BasketRequest):
    order_id: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._-]+$")] | None = Field(
        default=None, description="the shop's order id; generated when absent"
    )
    billing_address: Address = Address()
    comment: Text500 = ""
    reference: Text50 = ""
    payment_method: OptionalCode = ""


class PricedLine(ApiModel):
    line_type: Literal["product", "discount", "product_discount", "tax", "fixed"]
    product_id: str
    variant_id: str = ""
    name: str = ""
    unit: str = ""
    quantity: Amount
    unit_price: Amount | None = None
    unit_price_with_vat: Amount | None = None
    price: Amount | None = None
    price_with_vat: Amount | None = None
    custom_fields: ReturnedFields = {}


class Totals(ApiModel):
    subtotal: Amount | None
    subtotal_with_vat: Amount | None
    shipping_fee: Amount | None
    discount: Amount | None
    vat: Amount | None
    total: Amount | None
    total_with_vat: Amount | None


class BasketResponse(ApiModel):
    source: PriceSource = Field(
        description="erp = priced by the ERP; cache = same basket seen recently; fallback"
    )
    estimate: bool = Field(
        default=False,
        description="true: the ERP could not price the basket and erpbridge summed fallback prices "
        "(ERPBRIDGE_DEGRADE_BASKET=estimate); the ERP prices the order when it is created",
    )
    as_of: datetime
    currency: str
    lines: list[PricedLine]
    totals: Totals
    shipping_method: str = ""
    shipping_warning: str = ""
    discounts_by: Literal["erp", "shop"]
    shipping_by: Literal["erp", "shop"]
    custom_fields: ReturnedFields = {}
    message: str | None = None


class OrderStatus(StrEnum):
    """What the storefront sees. `unknown` = sent but no answer; it is resolved before any re-send."""

    CREATED = "created"
    QUEUED = "queued"
    UNKNOWN = "unknown"
    FAILED = "failed"
    REJECTED = "rejected"
    DECLINED = "declined"


class OrderResponse(ApiModel):
    order_id: str
    status: OrderStatus
    erp_order_id: str | None
    totals: Totals | None
    lines: list[PricedLine]
    custom_fields: ReturnedFields = {}
    message: str | None = None


class TimelineEntry(ApiModel):
    at: datetime
    trigger: str = Field(description="api, export (scheduled task), resend (operator), reconcile")
    outcome: str
    erp_message: str | None
    erp_order_id: str | None
    duration_ms: int | None
    request_xml: str | None = Field(description="object store key of the request XML copy")
    response_xml: str | None


class OrderDetail(ApiModel):
    order_id: str
    customer_number: str | None
    status: OrderStatus
    state: str = Field(
        description="internal state: received, sending, created, queued, unknown, dead_letter, "
        "rejected, declined"
    )
    erp_order_id: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    totals: Totals | None = Field(default=None, description="the ERP's totals once created")
    lines: list[PricedLine] = []
    custom_fields: ReturnedFields = {}
    last_error: str | None = None
    timeline: list[TimelineEntry]


# --- documents and health ---------------------------------------------------------------------


class DocumentType(StrEnum):
    OPEN_ORDER = "open_order"
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    SHIPMENT = "shipment"


ERP_DOCUMENT_TYPES: dict[DocumentType, str] = {
    DocumentType.OPEN_ORDER: "OpenOrder",
    DocumentType.INVOICE: "Invoice",
    DocumentType.CREDIT_NOTE: "Credit",
    DocumentType.SHIPMENT: "SalesShipment",
}


class DocumentList(ApiModel):
    customer_number: str
    type: DocumentType
    page: int
    page_size: int
    total_count: int | None
    items: list[dict[str, str | None]]


class DocumentDetail(ApiModel):
    customer_number: str
    type: DocumentType
    number: str
    header: dict[str, str | None]
    lines: list[dict[str, str | None]]


class ErpHealth(ApiModel):
    """How one ERP endpoint answered its last call."""

    status: Literal["ok", "degraded"]
    erp_reachable: bool
    erp_condition: Literal["ok", "misconfigured", "unreachable", "slow", "busy"] = Field(
        description="how the ERP answered the last call: ok; misconfigured (something answers, but a "
        "setting is wrong: URL, service or credentials); unreachable; slow (timed out); busy (429)"
    )
    erp_reason: str | None = Field(default=None, description="what went wrong, when the condition is not ok")
    erp_setting: str | None = Field(default=None, description="the setting(s) to check")
    erp_endpoint: str = Field(default="", description="the ERP's URL (without credentials or query)")
    breaker_state: str
    checked_at: datetime | None
    last_success: datetime | None = Field(description="the last real answer from the ERP")


class EndpointHealth(ErpHealth):
    """One ERP endpoint's line (ERPBRIDGE_ERP_ENDPOINTS; the first is the default endpoint)."""

    name: str = Field(description="the endpoint's name: default, or its ERPBRIDGE_ERP_ENDPOINTS key")
    shops: list[str] = Field(description="the shops it serves (empty for the default: every other shop)")


class Health(ErpHealth):
    """The top-level erp_* fields are the default endpoint's; status is ok when every endpoint is."""

    orders_waiting_for_export: int
    orders_dead_lettered: int
    orders_unknown: int
    orders_rejected: int = Field(default=0, description="orders the ERP refused, waiting for an operator")
    endpoints: list[EndpointHealth] = Field(default_factory=list, description="one line per ERP endpoint")


class ErrorBody(ApiModel):
    """Every error the API returns. `detail` lists field problems for 422."""

    error: str
    message: str
    detail: list[dict[str, str]] | None = None
    retry_after_s: float | None = None
    erp_message: str | None = Field(
        default=None, description="erp_rejected: the ERP's own words (why it refused), fit to show"
    )
    order_id: str | None = Field(default=None, description="erp_rejected on an order: the order kept")
