"""Business Central's sales price and line discount calculation ("best price"), on the emulator's data.

The rules follow BC's classic price calculation (Sales Price Calc. Mgt., ``CalcBestUnitPrice`` /
``CalcBestLineDisc``) — BC documents it as "the lowest permissible price with the highest
permissible line discount on a given date":

* Price candidates are the item's price list lines for the customer, the customer's price group and
  all customers. A line applies when its variant is blank or the requested one, its unit of measure
  is blank (= base unit) or the requested one, its currency is blank (LCY) or the requested one,
  the date lies in [starting date, ending date] and the quantity reaches its minimum quantity
  (for a base-unit line the quantity is counted in base units).
* Every candidate is converted the same way before comparing: a price that includes VAT is divided
  by (1 + VAT %) of the item's VAT group in the home country ("VAT Bus. Posting Gr. (Price)"); a
  base-unit price is multiplied by the requested unit's quantity per unit; an LCY price is
  converted into the requested currency at the exchange rate.
* A line in the requested currency beats an LCY line, and a line for the requested variant beats a
  line for all variants, whatever the amounts (as BC does); otherwise the lowest unit price wins.
  No applicable line → the item card's unit price (converted the same way).
* Line discount: the highest applicable percentage among discounts for the customer, its customer
  discount group and all customers, set up for the item or its item discount group (same variant,
  unit, currency, date and minimum-quantity rules). It applies only when the customer allows line
  discounts and the winning price line does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from bc_emulator._model import (
    HUNDRED,
    ONE,
    SALES_TYPE_ALL,
    SALES_TYPE_CUSTOMER,
    SALES_TYPE_DISC_GROUP,
    SALES_TYPE_PRICE_GROUP,
    ZERO,
    BcError,
    Customer,
    Item,
    LineDiscount,
    Row,
    SalesPrice,
    fmt_number,
    money,
)

if TYPE_CHECKING:
    from bc_emulator.dataset import Dataset

MAX_QUANTITY_BREAKS = 12
VAT_BUS_POSTING_GROUPS = frozenset({"DOMESTIC", "EU", "EXPORT"})  # the countries' groups (dataset)
_SALES_TYPE_RANK = {SALES_TYPE_CUSTOMER: 0, SALES_TYPE_PRICE_GROUP: 1, SALES_TYPE_ALL: 2}


# --- public value types --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceQuery:
    """One ``<Product>`` of a product-info request."""

    product_id: str
    variant_id: str = ""
    unit_id: str = ""  # "" = the item's base unit
    quantity: Decimal = Decimal(1)
    identifier: str = ""  # ProductIdentifier, echoed back
    product_number: str = ""  # looked up when product_id is not an item number
    currency: str | None = None  # per-line CurrencyCode; None = the call's currency
    custom_fields: Mapping[str, str] = field(default_factory=dict)  # echoed back as columns


@dataclass(frozen=True, slots=True)
class QuantityBreak:
    """One row of the customer's price matrix: from ``quantity`` on, this net unit price."""

    quantity: Decimal
    unit_price: Decimal  # net, excl. VAT (after the best line discount)
    unit_price_with_vat: Decimal
    unit_id: str


@dataclass(frozen=True, slots=True)
class PriceAnswer:
    """BC's answer for one product line: best price, best line discount, VAT, stock."""

    product_id: str
    variant_id: str
    identifier: str
    item_no: str
    unit_id: str
    currency: str  # ISO code actually priced in ("EUR" for LCY)
    quantity: Decimal
    list_price: Decimal  # best unit price before line discount, excl. VAT
    line_discount_pct: Decimal
    price: Decimal  # net unit price excl. VAT (what the customer pays per unit)
    price_with_vat: Decimal
    vat_pct: Decimal
    stock: Decimal | None  # in the requested unit; None for non-stock items
    default_unit_id: str
    customer_no: str  # "" for anonymous
    quantity_breaks: tuple[QuantityBreak, ...] = ()
    custom_fields: Mapping[str, str] = field(default_factory=dict)
    price_source: str = ""  # which price line won (its id) or "item" — for tests and debugging

    def product_row(self) -> Row:
        """The ``EcomProducts`` response item (Live Integration §3.2 columns)."""
        row: Row = {
            "ProductId": self.product_id,
            "ProductVariantId": self.variant_id,
            "ProductIdentifier": self.identifier,
            "ProductPrice": fmt_number(self.price),
            "ProductPriceWithVat": fmt_number(self.price_with_vat),
            "ProductDefaultUnitId": self.default_unit_id,
        }
        if self.stock is not None:
            row["ProductStock"] = fmt_number(self.stock)
        for name, value in self.custom_fields.items():
            row.setdefault(name, value)
        return row

    def price_rows(self, anonymous_key: str = "") -> list[Row]:
        """The ``EcomPrices`` quantity-break items for this product (joined on id + variant)."""
        rows: list[Row] = []
        for qb in self.quantity_breaks:
            rows.append(
                {
                    "PriceId": f"{self.item_no}.{self.variant_id}.{qb.unit_id}.{fmt_number(qb.quantity)}",
                    "PriceProductId": self.product_id,
                    "PriceProductVariantId": self.variant_id,
                    "PriceUserCustomerNumber": self.customer_no or anonymous_key,
                    "PriceAmount": fmt_number(qb.unit_price),
                    "PriceAmountWithVat": fmt_number(qb.unit_price_with_vat),
                    "PriceQuantity": fmt_number(qb.quantity),
                    "PriceProductUnitId": qb.unit_id,
                    "PriceCurrency": self.currency,
                }
            )
        return rows


@dataclass(frozen=True, slots=True)
class PriceContext:
    """Who buys, in which currency, on which date, with which VAT country and posting group."""

    customer: Customer | None
    currency: str  # ISO code; the LCY code for local currency
    is_lcy: bool
    per_lcy: Decimal  # exchange rate: units of `currency` per 1 LCY
    on: date
    vat_country: str
    vat_posting_group: str = ""  # VAT Bus. Posting Group; "" = the VAT country's own


@dataclass(frozen=True, slots=True)
class LinePrice:
    """The outcome for one item line: the best price before discount, the discount and the net price."""

    item: Item
    variant_id: str
    unit_code: str
    qty_per_unit: int
    list_price: Decimal  # excl. VAT, per requested unit, in the context currency, rounded to cents
    line_discount_pct: Decimal
    net_price: Decimal  # list price less line discount, rounded to cents
    vat_pct: Decimal
    source: str  # id of the winning price line, or "item"


@dataclass(frozen=True, slots=True)
class _Candidate:
    amount: Decimal  # converted, unrounded
    currency_specific: bool
    variant_specific: bool
    allow_line_disc: bool
    source: str


def _beats(cand: _Candidate, best: _Candidate) -> bool:
    """BC's CalcBestUnitPrice: a currency- or variant-specific line beats a general one outright;
    otherwise the lower unit price wins, but never over a more specific line."""
    if (not best.currency_specific and cand.currency_specific) or (
        not best.variant_specific and cand.variant_specific
    ):
        return True
    return (
        (not best.currency_specific or cand.currency_specific)
        and (not best.variant_specific or cand.variant_specific)
        and cand.amount < best.amount
    )


class PricingEngine:
    """Best price, best line discount and quantity breaks. Read-only on the data set, so thread-safe."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    # -- context ------------------------------------------------------------------------------------

    def context(
        self,
        customer_no: str | None,
        currency: str | None,
        on: date,
        vat_country: str | None = None,
        vat_posting_group: str | None = None,
    ) -> PriceContext:
        """The request's VAT country and posting group, when it sends them, win over the customer
        card's country (the shop knows where this sale is taxed: a multi-country shop, an
        anonymous buyer); an unknown posting group is BC's error."""
        ds = self.dataset
        customer = ds.find_customer(customer_no)
        code = (currency or "").strip().upper() or ds.lcy_code
        cur = ds.currencies.get(code)
        if cur is None:
            raise BcError(f"The Currency does not exist. Identification fields and values: Code='{code}'")
        country = (vat_country or "").strip().upper() or (customer.country_code if customer else "")
        if country not in ds.countries:
            country = ds.home_country
        group = (vat_posting_group or "").strip().upper()
        if group and group not in VAT_BUS_POSTING_GROUPS:
            raise BcError(
                "The VAT Business Posting Group does not exist. "
                f"Identification fields and values: Code='{group}'"
            )
        return PriceContext(customer, code, code == ds.lcy_code, cur.per_lcy, on, country, group)

    # -- the rules ---------------------------------------------------------------------------------

    def _price_vat_pct(self, item: Item) -> Decimal:
        """VAT % a price-including-VAT line was entered with (home country, the item's VAT group)."""
        return self.dataset.vat_pct(item, self.dataset.home_country)

    def _sales_type_matches(self, sales_type: str, sales_code: str, customer: Customer | None) -> bool:
        if sales_type == SALES_TYPE_ALL:
            return True
        if customer is None:
            return False
        if sales_type == SALES_TYPE_CUSTOMER:
            return sales_code == customer.no
        if sales_type == SALES_TYPE_PRICE_GROUP:
            return bool(customer.price_group) and sales_code == customer.price_group
        if sales_type == SALES_TYPE_DISC_GROUP:
            return bool(customer.disc_group) and sales_code == customer.disc_group
        return False

    def _applicable_prices(
        self, item: Item, variant_id: str, unit_code: str, ctx: PriceContext
    ) -> list[SalesPrice]:
        """Price lines that apply to everything but the quantity. Their ``minimum_quantity`` is as
        entered, not converted: a line without a unit counts base units, a unit line counts the
        requested unit (the only one it applies to); callers convert via ``_reaches`` /
        ``_in_requested_unit``."""
        result = [
            line
            for line in self.dataset.sales_prices.get(item.no, ())
            if self._applies(line, variant_id, unit_code, ctx)
        ]
        # On equal prices the more specific agreement wins: customer, then price group, then all.
        result.sort(key=lambda line: _SALES_TYPE_RANK.get(line.sales_type, 9))
        return result

    def _applicable_discounts(
        self, item: Item, variant_id: str, unit_code: str, ctx: PriceContext
    ) -> list[LineDiscount]:
        candidates = [
            *self.dataset.item_line_discounts.get(item.no, ()),
            *self.dataset.group_line_discounts.get(item.item_disc_group, ()),
        ]
        return [disc for disc in candidates if self._applies(disc, variant_id, unit_code, ctx)]

    def _applies(
        self, line: SalesPrice | LineDiscount, variant_id: str, unit_code: str, ctx: PriceContext
    ) -> bool:
        """Whether a price or discount line applies to this variant, unit, currency, date and
        customer (BC filters both tables by the same fields; the quantity is checked later)."""
        return (
            (not line.variant_id or line.variant_id == variant_id)
            and (not line.unit_code or line.unit_code == unit_code)
            and (not line.currency_code or line.currency_code == ctx.currency)
            and (line.starting_date is None or ctx.on >= line.starting_date)
            and (line.ending_date is None or ctx.on <= line.ending_date)
            and self._sales_type_matches(line.sales_type, line.sales_code, ctx.customer)
        )

    def _convert(self, item: Item, line: SalesPrice | None, qty_per_unit: int, ctx: PriceContext) -> Decimal:
        amount = line.unit_price if line is not None else item.unit_price
        if line is not None and line.price_includes_vat:
            amount = amount * HUNDRED / (HUNDRED + self._price_vat_pct(item))
        if line is None or not line.unit_code:
            amount = amount * qty_per_unit
        if line is None or not line.currency_code:
            amount = amount * ctx.per_lcy
        return amount

    @staticmethod
    def _reaches(minimum: Decimal, line_unit: str, quantity: Decimal, qty_per_unit: int) -> bool:
        counted = quantity * qty_per_unit if not line_unit else quantity
        return minimum <= counted

    def _best(
        self,
        item: Item,
        variant_id: str,
        unit_code: str,
        qty_per_unit: int,
        quantity: Decimal,
        ctx: PriceContext,
        prices: list[SalesPrice],
        discounts: list[LineDiscount],
    ) -> tuple[Decimal, str, Decimal]:
        best: _Candidate | None = None
        for line in prices:
            if not self._reaches(line.minimum_quantity, line.unit_code, quantity, qty_per_unit):
                continue
            cand = _Candidate(
                self._convert(item, line, qty_per_unit, ctx),
                bool(line.currency_code),
                bool(line.variant_id),
                line.allow_line_disc,
                line.id,
            )
            if best is None or _beats(cand, best):
                best = cand
        if best is None:
            best = _Candidate(self._convert(item, None, qty_per_unit, ctx), False, False, True, "item")
        discount = ZERO
        if best.allow_line_disc and (ctx.customer is None or ctx.customer.allow_line_disc):
            for disc in discounts:
                if self._reaches(disc.minimum_quantity, disc.unit_code, quantity, qty_per_unit):
                    discount = max(discount, disc.discount_pct)
        return money(best.amount), best.source, discount

    def price_line(
        self,
        item: Item,
        variant_id: str,
        unit_code: str,
        quantity: Decimal,
        ctx: PriceContext,
        *,
        candidates: tuple[list[SalesPrice], list[LineDiscount]] | None = None,
    ) -> LinePrice:
        """Price one line; the unit must be one of the item's units (BcError otherwise)."""
        unit = item.unit(unit_code)
        if unit is None:
            raise BcError(
                f"The Item Unit of Measure does not exist. Item No.='{item.no}', Code='{unit_code}'"
            )
        if variant_id and variant_id not in item.variant_ids:
            raise BcError(f"The Item Variant does not exist. Item No.='{item.no}', Code='{variant_id}'")
        quantity = Decimal(quantity)
        quantity = quantity if quantity > 0 else ONE
        prices, discounts = candidates or self.candidates(item, variant_id, unit.code, ctx)
        list_price, source, pct = self._best(
            item, variant_id, unit.code, unit.qty_per_unit, quantity, ctx, prices, discounts
        )
        net = money(list_price * (HUNDRED - pct) / HUNDRED)
        return LinePrice(
            item,
            variant_id,
            unit.code,
            unit.qty_per_unit,
            list_price,
            pct,
            net,
            self.dataset.vat_pct(item, ctx.vat_country, ctx.vat_posting_group),
            source,
        )

    def candidates(
        self, item: Item, variant_id: str, unit_code: str, ctx: PriceContext
    ) -> tuple[list[SalesPrice], list[LineDiscount]]:
        """The price lines and line discounts that apply to this line whatever its quantity."""
        return (
            self._applicable_prices(item, variant_id, unit_code, ctx),
            self._applicable_discounts(item, variant_id, unit_code, ctx),
        )

    def quantity_breaks(
        self,
        item: Item,
        variant_id: str,
        unit_code: str,
        ctx: PriceContext,
        *,
        candidates: tuple[list[SalesPrice], list[LineDiscount]] | None = None,
    ) -> list[tuple[Decimal, Decimal]]:
        """(from quantity, net unit price) for each quantity where the customer's price changes."""
        unit = item.unit(unit_code)
        if unit is None:
            return []
        prices, discounts = candidates or self.candidates(item, variant_id, unit.code, ctx)
        thresholds = {ONE}
        for line in prices:
            thresholds.add(self._in_requested_unit(line.minimum_quantity, line.unit_code, unit.qty_per_unit))
        for disc in discounts:
            thresholds.add(self._in_requested_unit(disc.minimum_quantity, disc.unit_code, unit.qty_per_unit))
        result: list[tuple[Decimal, Decimal]] = []
        for q in sorted(thresholds):
            list_price, _source, pct = self._best(
                item, variant_id, unit.code, unit.qty_per_unit, q, ctx, prices, discounts
            )
            net = money(list_price * (HUNDRED - pct) / HUNDRED)
            if not result or result[-1][1] != net:
                result.append((q, net))
            if len(result) >= MAX_QUANTITY_BREAKS:
                break
        return result

    @staticmethod
    def _in_requested_unit(minimum: Decimal, line_unit: str, qty_per_unit: int) -> Decimal:
        if minimum <= ONE:
            return ONE
        if line_unit:
            return minimum
        return (minimum / qty_per_unit).to_integral_value(rounding=ROUND_CEILING) or ONE

    # -- product info ------------------------------------------------------------------------------

    def product_info(
        self,
        customer_no: str | None,
        lines: Sequence[PriceQuery],
        currency: str | None,
        on: date,
        *,
        vat_country: str | None = None,
        vat_posting_group: str | None = None,
    ) -> list[PriceAnswer | None]:
        contexts: dict[str, PriceContext] = {}
        answers: list[PriceAnswer | None] = []
        ds = self.dataset
        for query in lines:
            code = query.currency if query.currency is not None else currency
            key = (code or "").upper()
            ctx = contexts.get(key)
            if ctx is None:
                ctx = contexts[key] = self.context(customer_no, code, on, vat_country, vat_posting_group)
            item = ds.find_item(query.product_id, query.product_number)
            if item is None or item.blocked:
                answers.append(None)
                continue
            unit = item.unit(query.unit_id)
            if unit is None or (query.variant_id and query.variant_id not in item.variant_ids):
                answers.append(None)
                continue
            found = self.candidates(item, query.variant_id, unit.code, ctx)
            priced = self.price_line(item, query.variant_id, unit.code, query.quantity, ctx, candidates=found)
            breaks = tuple(
                QuantityBreak(q, net, money(net * (HUNDRED + priced.vat_pct) / HUNDRED), unit.code)
                for q, net in self.quantity_breaks(item, query.variant_id, unit.code, ctx, candidates=found)
            )
            stock: Decimal | None = None
            if item.item_type == 0:
                stock = (ds.stock(item, query.variant_id) / unit.qty_per_unit).to_integral_value(
                    rounding=ROUND_FLOOR
                )
            answers.append(
                PriceAnswer(
                    product_id=query.product_id,
                    variant_id=query.variant_id,
                    identifier=query.identifier,
                    item_no=item.no,
                    unit_id=unit.code,
                    currency=ctx.currency,
                    quantity=query.quantity,
                    list_price=priced.list_price,
                    line_discount_pct=priced.line_discount_pct,
                    price=priced.net_price,
                    price_with_vat=money(priced.net_price * (HUNDRED + priced.vat_pct) / HUNDRED),
                    vat_pct=priced.vat_pct,
                    stock=stock,
                    default_unit_id=item.base_unit,
                    customer_no=ctx.customer.no if ctx.customer is not None else "",
                    quantity_breaks=breaks,
                    custom_fields=dict(query.custom_fields),
                    price_source=priced.source,
                )
            )
        return answers
