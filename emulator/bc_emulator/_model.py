"""The emulated Business Central's records (plain dataclasses) and small value helpers.

Kept apart from dataset.py so pricing.py and documents.py can import the records without a cycle;
dataset.py re-exports everything a caller needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol, overload

# A table row as the server serialises it: Dynamicweb column name → text (None = isNull="true").
Row = dict[str, str | None]


class RequestHeaders(Protocol):
    """Request headers as the emulator reads them: the server passes http.client's case-insensitive
    message, tests may pass a plain dict."""

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, default: str, /) -> str: ...
    def items(self) -> Iterable[tuple[str, str]]: ...


CENT = Decimal("0.01")
ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)


# Shipping the ERP charges when it controls shipping: fee excl. VAT in LCY, free from a goods amount on.
SHIPPING_FEE_LCY = Decimal("4.95")
FREE_SHIPPING_FROM_LCY = Decimal(100)


def mix(*parts: int) -> int:
    """A cheap, stable 64-bit hash (splitmix64 steps) for data derived lazily, e.g. stock."""
    mask = 0xFFFFFFFFFFFFFFFF
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = (h ^ (p + 0x9E3779B97F4A7C15 + ((h << 6) & mask) + (h >> 2))) & mask
        h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & mask
        h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & mask
    return h ^ (h >> 31)


class BcError(Exception):
    """An error Business Central itself would report (unknown item, bad quantity, unknown field).

    The server answers it the way BC does: a SOAP fault whose faultstring is this message.
    """


def money(value: Decimal) -> Decimal:
    """Round to cents the way BC rounds amounts (half away from zero)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt_number(value: Decimal | int) -> str:
    """Invariant number text, at most 2 decimals, no trailing zeros: 12.5, 1, 1234.57."""
    d = money(Decimal(value))
    if d == d.to_integral_value():
        return str(d.quantize(ONE))
    return format(d.normalize(), "f")


def fmt_bool(value: bool) -> str:
    return "True" if value else "False"


def fmt_date(value: date | None) -> str:
    """yyyy-MM-ddTHH:mm:ss as the protocol writes dates; '' for no date."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    return value.strftime("%Y-%m-%dT00:00:00")


# --- master data ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Language:
    code: str  # BC language code, also the Dynamicweb LanguageID: ENU, DAN, DEU
    code2: str  # en, da, de
    name: str
    native_name: str


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    name: str
    symbol: str
    per_lcy: Decimal  # units of this currency for 1 unit of the local currency (LCY = 1)


@dataclass(frozen=True, slots=True)
class Country:
    code2: str
    code3: str
    number: str
    name: str
    currency_code: str
    culture: str
    vat_bus_posting_group: str  # DOMESTIC, EU, EXPORT
    vat_rates: dict[str, Decimal]  # VAT product posting group (STANDARD, REDUCED) → percent
    sales_tax_pct: Decimal = ZERO  # US-style sales tax, answered as separate tax lines (type 4)


@dataclass(frozen=True, slots=True)
class UnitOfMeasure:
    code: str
    names: dict[str, str]  # language code → name


@dataclass(frozen=True, slots=True)
class ItemUnit:
    code: str
    qty_per_unit: int


@dataclass(frozen=True, slots=True)
class Manufacturer:
    id: str
    name: str
    city: str
    zip: str
    country: str
    phone: str
    email: str
    web: str


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    number: str
    names: dict[str, str]
    parent_id: str  # "" for a top-level category
    sorting: int


@dataclass(frozen=True, slots=True)
class VariantGroup:
    id: str
    names: dict[str, str]
    options: tuple[str, ...]  # option ids in display order


@dataclass(frozen=True, slots=True)
class VariantOption:
    id: str
    group_id: str
    names: dict[str, str]
    color: str = ""


@dataclass(frozen=True, slots=True)
class Location:
    id: int
    code: str
    name: str


@dataclass(slots=True)
class Item:
    index: int
    no: str
    names: dict[str, str]
    unit_price: Decimal  # item card "Unit Price", LCY, excl. VAT: the fallback when no price line applies
    unit_cost: Decimal
    base_unit: str
    units: tuple[ItemUnit, ...]  # base unit first (qty 1)
    category_ids: tuple[str, ...]  # first = primary
    manufacturer_id: str
    vat_prod_posting_group: str  # STANDARD or REDUCED
    item_disc_group: str  # A, B, C
    weight: Decimal
    ean: str
    item_type: int  # Dynamicweb ProductType: 0 stock, 1 service
    variant_group_ids: tuple[str, ...] = ()
    variant_ids: tuple[str, ...] = ()  # option ids joined by '.', in variant group order
    related_item_nos: tuple[str, ...] = ()
    blocked: bool = False

    def unit(self, code: str) -> ItemUnit | None:
        """The item's unit with this code ('' = base unit), case-insensitive."""
        if not code:
            return self.units[0]
        wanted = code.upper()
        for u in self.units:
            if u.code == wanted:
                return u
        return None


@dataclass(frozen=True, slots=True)
class Contact:
    no: str
    customer_no: str
    first_name: str
    last_name: str
    email: str
    phone: str
    job_title: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True, slots=True)
class ShipToAddress:
    customer_no: str
    code: str
    name: str
    address: str
    address2: str
    zip: str
    city: str
    country_code: str
    phone: str
    email: str

    @property
    def external_id(self) -> str:
        """Stable across runs: customer number + ship-to code (BC's primary key)."""
        return f"{self.customer_no}-{self.code}"


@dataclass(slots=True)
class Customer:
    index: int
    no: str
    name: str
    address: str
    address2: str
    zip: str
    city: str
    country_code: str
    email: str
    phone: str
    currency_code: str  # "" = LCY
    price_group: str  # "" = none
    disc_group: str  # "" = none
    invoice_disc_code: str  # "" = none
    allow_line_disc: bool
    language_code: str
    contacts: tuple[Contact, ...] = ()
    ship_to: tuple[ShipToAddress, ...] = ()
    blocked: bool = False


# --- prices and discounts ------------------------------------------------------------------------

SALES_TYPE_CUSTOMER = "Customer"
SALES_TYPE_PRICE_GROUP = "Customer Price Group"
SALES_TYPE_DISC_GROUP = "Customer Disc. Group"
SALES_TYPE_ALL = "All Customers"


@dataclass(slots=True)  # not frozen: frozen dataclasses cost 3x to build, and there are 100,000s
class SalesPrice:
    """A price list line (BC "Sales Price" / "Price List Line" for an item)."""

    id: str
    item_no: str
    sales_type: str  # SALES_TYPE_CUSTOMER / _PRICE_GROUP / _ALL
    sales_code: str  # customer no / price group code / ""
    unit_price: Decimal
    variant_id: str = ""  # "" = every variant
    unit_code: str = ""  # "" = base unit (converted with qty per unit)
    currency_code: str = ""  # "" = LCY (converted with the exchange rate)
    minimum_quantity: Decimal = ZERO
    starting_date: date | None = None
    ending_date: date | None = None
    price_includes_vat: bool = False
    allow_line_disc: bool = True


@dataclass(slots=True)
class LineDiscount:
    """A sales line discount (BC "Sales Line Discount"): for an item or an item discount group."""

    id: str
    sales_type: str  # SALES_TYPE_CUSTOMER / _DISC_GROUP / _ALL
    sales_code: str
    item_no: str = ""  # set for an item discount …
    item_disc_group: str = ""  # … or this for an item discount group
    discount_pct: Decimal = ZERO
    variant_id: str = ""
    unit_code: str = ""
    currency_code: str = ""
    minimum_quantity: Decimal = ZERO
    starting_date: date | None = None
    ending_date: date | None = None


@dataclass(frozen=True, slots=True)
class InvoiceDiscountTier:
    """BC "Cust. Invoice Disc.": from this order amount (LCY, excl. VAT) on, this percentage."""

    code: str
    minimum_amount: Decimal
    discount_pct: Decimal


# --- documents -----------------------------------------------------------------------------------

DOC_OPEN_ORDER = "OpenOrder"
DOC_INVOICE = "Invoice"
DOC_CREDIT = "Credit"
DOC_SHIPMENT = "SalesShipment"
DOCUMENT_TYPES = (DOC_OPEN_ORDER, DOC_INVOICE, DOC_CREDIT, DOC_SHIPMENT)


@dataclass(frozen=True, slots=True)
class DocumentLine:
    line_no: int
    item_no: str
    variant_id: str
    description: str
    quantity: Decimal
    unit_code: str
    unit_price: Decimal  # excl. VAT, before line discount
    line_discount_pct: Decimal
    line_amount: Decimal  # excl. VAT, after line discount
    vat_pct: Decimal
    amount_including_vat: Decimal
    line_type: int = 0  # Dynamicweb OrderLineType: 0 product, 1 order discount, 3 product discount, 4 tax


@dataclass(slots=True)
class SalesDocument:
    doc_type: str
    no: str
    customer_no: str
    customer_name: str
    order_date: date
    posting_date: date
    currency_code: str  # "" = LCY
    lines: list[DocumentLine]
    status: str
    external_document_no: str = ""  # the shop's OrderId for orders created through the emulator
    order_no: str = ""  # invoices/shipments: the order they came from
    applies_to_doc_no: str = ""  # credit memos: the invoice they correct
    due_date: date | None = None
    shipment_date: date | None = None
    shipping_agent: str = ""
    tracking_no: str = ""
    ship_to: ShipToAddress | None = None
    bill_to: dict[str, str] = field(default_factory=dict)  # name/address/zip/city/country/email/phone
    shipping_fee: Decimal = ZERO  # excl. VAT
    shipping_fee_with_vat: Decimal = ZERO
    shipping_method: str = ""
    created_at: datetime | None = None
    payment_method: str = ""
    # Orders created through the emulator: the custom order fields and line field values they came with.
    custom_fields: dict[str, str] = field(default_factory=dict)
    line_fields: dict[str, dict[str, str]] = field(default_factory=dict)  # shop OrderLineId → fields

    @property
    def amount(self) -> Decimal:
        # Discount lines (types 1 and 3) carry negative amounts, so the sum is the net amount.
        return money(sum((ln.line_amount for ln in self.lines), ZERO) + self.shipping_fee)

    @property
    def amount_including_vat(self) -> Decimal:
        return money(sum((ln.amount_including_vat for ln in self.lines), ZERO) + self.shipping_fee_with_vat)
