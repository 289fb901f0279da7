"""Sales documents: cart calculation, order creation (idempotent), and the customer-center history.

Order calculation (the response Dynamicweb reads, live-integration-anchor §3.3):

* Product lines (``OrderLineType`` empty/0/2) are priced with the best price and line discount of
  pricing.py for the order's customer, currency and date; discount (1/3) and tax (4) lines the
  shop sends are ignored — BC recalculates them.
* ``ErpControlsDiscount`` True (the default when absent): product lines carry the price before
  discount, each line discount comes back as a product-discount line (type 3, negative, parent =
  the product line) and the customer's invoice discount as an order-discount line (type 1).
  False: the shop owns discounts, BC applies none.
* VAT per line at the rate of the VAT country (``VatCountryCode`` when sent, else the customer's
  country, else the home country) and business posting group (``VatPostingGroup`` when sent:
  DOMESTIC = home rates, EU = the VAT country's rates, EXPORT = no VAT; else the country's own
  group) for the item's VAT group; both are echoed in the answer. An unknown posting group is BC's
  error. US-style sales tax comes back as tax lines (type 4).
* ``OrderDeliveryAddressId`` (calculate and create) must be one of the customer's ship-to codes (or
  their external ids), else BC's error; the answer echoes it with the ship-to's delivery columns.
  Without it the request's ``OrderDelivery*`` columns are the delivery address (echoed too).
* Shipping: when the shop sends ``OrderShippingMethodId`` it controls shipping and its fee is added
  to the totals as sent; otherwise BC charges 4.95 (LCY, excl. VAT, converted) below a goods
  amount of 100 LCY and nothing from there on.
* Create assigns ``SO-100001``, ``SO-100002`` …; the same shop ``OrderId`` always gets the same
  sales order back (``created_now`` False) and the first calculation is kept.

History (invoices, credit memos, shipments, open orders) is generated per customer on first use
from (seed, customer), so it costs nothing until asked for and never depends on the order of calls.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from bc_emulator import _names
from bc_emulator._model import (
    DOC_CREDIT,
    DOC_INVOICE,
    DOC_OPEN_ORDER,
    DOC_SHIPMENT,
    DOCUMENT_TYPES,
    FREE_SHIPPING_FROM_LCY,
    HUNDRED,
    ONE,
    SHIPPING_FEE_LCY,
    ZERO,
    BcError,
    Customer,
    DocumentLine,
    Row,
    SalesDocument,
    ShipToAddress,
    fmt_bool,
    fmt_date,
    fmt_number,
    mix,
    money,
)

if TYPE_CHECKING:
    from bc_emulator.dataset import Dataset
    from bc_emulator.pricing import PricingEngine

FIRST_CREATED_ORDER_NO = 100001
PRODUCT_LINE_TYPES = frozenset({"", "0", "2"})


@dataclass
class CalculatedOrder:
    """BC's answer to an order request: typed totals plus the response rows, ready to serialise."""

    shop_order_id: str
    customer_no: str  # "" for an anonymous order
    currency_code: str  # "" = LCY (as the shop sends it)
    lines: list[DocumentLine]
    subtotal_without_vat: Decimal
    subtotal_with_vat: Decimal
    total_without_vat: Decimal
    total_with_vat: Decimal
    sales_discount: Decimal
    shipping_fee: Decimal
    shipping_fee_with_vat: Decimal
    shipping_method: str
    shipping_warning: str
    header_row: Row
    line_rows: list[Row]

    def tables(self) -> dict[str, list[Row]]:
        return {"EcomOrders": [self.header_row], "EcomOrderLines": self.line_rows}


def _text(row: Mapping[str, str | None], name: str) -> str:
    value = row.get(name)
    return value.strip() if isinstance(value, str) else ""


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", ".")) if text else ZERO
    except InvalidOperation:
        raise BcError(f"'{text}' is not a valid number for {what}.") from None
    if not value.is_finite():
        raise BcError(f"'{text}' is not a valid number for {what}.")
    return value


def _bool(text: str, default: bool) -> bool:
    if not text:
        return default
    return text.strip().lower() == "true"


class DocumentStore:
    """Orders created through the emulator plus generated history, per customer."""

    def __init__(self, dataset: Dataset, pricing: PricingEngine) -> None:
        self.dataset = dataset
        self.pricing = pricing
        # True: a create repeated with the same OrderId answers the first sales order. False: every
        # create commits a new one, as a plug-in unit without duplicate protection would.
        self.dedup = True
        self.created: dict[str, SalesDocument] = {}  # sales order no → order
        self._by_shop_id: dict[str, tuple[str, CalculatedOrder]] = {}
        self._history: dict[str, dict[str, list[SalesDocument]]] = {}
        self._numbering: list[tuple[int, int, int, int]] | None = None
        self._next_order_no = FIRST_CREATED_ORDER_NO
        # Customers blocked through the control API (the data set blocks none).
        self.blocked_customers: set[str] = set()

    def reset(self) -> None:
        self.created.clear()
        self._by_shop_id.clear()
        self._next_order_no = FIRST_CREATED_ORDER_NO
        self.blocked_customers.clear()

    def _blocked(self, customer: Customer | None) -> str | None:
        """BC's message when ``customer`` is blocked, else None."""
        if customer is None or not (customer.blocked or customer.no in self.blocked_customers):
            return None
        return (
            f"You cannot create this type of document when Customer {customer.no} is blocked with type All."
        )

    # -- orders ------------------------------------------------------------------------------------

    def _resolve_customer(self, header: Mapping[str, str | None]) -> Customer | None:
        ds = self.dataset
        for column in ("OrderCustomerNumber", "OrderCustomerAccessUserExternalId"):
            value = _text(header, column)
            customer = ds.find_customer(value)
            if customer is not None:
                return customer
            for cust in ds.customers if value.upper().startswith("CT") else ():
                if any(ct.no == value for ct in cust.contacts):
                    return cust
        return None

    def calculate_order(
        self, header: Mapping[str, str | None], lines: Sequence[Mapping[str, str | None]], today: date
    ) -> CalculatedOrder:
        ds = self.dataset
        customer = self._resolve_customer(header)
        blocked = self._blocked(customer)
        if blocked is not None:
            raise BcError(blocked)
        currency_in = _text(header, "OrderCurrencyCode")
        ctx = self.pricing.context(
            customer.no if customer else None,
            currency_in,
            today,
            _text(header, "VatCountryCode"),
            _text(header, "VatPostingGroup"),
        )
        delivery = self._delivery(header, customer)
        erp_discounts = _bool(_text(header, "ErpControlsDiscount"), True)
        country = ds.countries[ctx.vat_country]
        language = customer.language_code if customer else ds.default_language.code

        doc_lines: list[DocumentLine] = []
        line_rows: list[Row] = []
        discount_rows: list[Row] = []
        tax_rows: list[Row] = []
        goods = ZERO
        goods_with_vat = ZERO
        line_discounts = ZERO
        warnings: list[str] = []
        vat_weighted = ZERO  # Σ line amount × VAT %, to put VAT on the invoice discount
        tax_total = ZERO
        product_lines = [ln for ln in lines if _text(ln, "OrderLineType") in PRODUCT_LINE_TYPES]
        for n, line in enumerate(product_lines, start=1):
            product_id = _text(line, "OrderLineProductId")
            number = _text(line, "OrderLineProductNumber")
            item = ds.find_item(product_id, number)
            if item is None:
                raise BcError(
                    f"The Item does not exist. Identification fields and values: No.='{number or product_id}'"
                )
            if item.blocked:
                raise BcError(f"Item {item.no} is blocked.")
            quantity = _decimal(_text(line, "OrderLineQuantity") or "1", f"the quantity of item {item.no}")
            if quantity <= 0:
                raise BcError(f"Quantity must be positive for item {item.no}.")
            variant_id = _text(line, "OrderLineProductVariantId")
            priced = self.pricing.price_line(item, variant_id, _text(line, "OrderLineUnitId"), quantity, ctx)
            pct = priced.line_discount_pct if erp_discounts else ZERO
            gross = money(priced.list_price * quantity)
            discount = money(gross * pct / HUNDRED)
            net = gross - discount
            vat_pct = priced.vat_pct
            line_id = _text(line, "OrderLineId") or str(n)
            unit_vat = money(priced.list_price * vat_pct / HUNDRED)
            gross_vat = money(gross * vat_pct / HUNDRED)
            line_rows.append(
                {
                    "OrderLineId": line_id,
                    "OrderLineParentLineId": _text(line, "OrderLineParentLineId"),
                    "OrderLineProductId": product_id or item.no,
                    "OrderLineProductVariantId": variant_id,
                    "OrderLineProductNumber": item.no,
                    "OrderLineProductName": item.names.get(language, item.names[ds.default_language.code]),
                    "OrderLineType": "0",
                    "OrderLineQuantity": fmt_number(quantity),
                    "OrderLineUnitId": priced.unit_code,
                    "OrderLineUnitPriceWithoutVat": fmt_number(priced.list_price),
                    "OrderLineUnitPriceWithVat": fmt_number(priced.list_price + unit_vat),
                    "OrderLineUnitPriceVat": fmt_number(unit_vat),
                    "OrderLinePriceWithoutVat": fmt_number(gross),
                    "OrderLinePriceWithVat": fmt_number(gross + gross_vat),
                    "OrderLinePriceVat": fmt_number(gross_vat),
                    "OrderLineVatPercent": fmt_number(vat_pct),
                }
            )
            disc_vat = money(discount * vat_pct / HUNDRED)
            if discount:
                discount_rows.append(
                    {
                        "OrderLineId": f"{line_id}-DISC",
                        "OrderLineParentLineId": line_id,
                        "OrderLineProductId": product_id or item.no,
                        "OrderLineProductVariantId": variant_id,
                        "OrderLineProductNumber": item.no,
                        "OrderLineProductName": f"Line discount {fmt_number(pct)}%",
                        "OrderLineType": "3",
                        "OrderLineQuantity": "1",
                        "OrderLineUnitId": priced.unit_code,
                        "OrderLineUnitPriceWithoutVat": fmt_number(-discount),
                        "OrderLineUnitPriceWithVat": fmt_number(-(discount + disc_vat)),
                        "OrderLinePriceWithoutVat": fmt_number(-discount),
                        "OrderLinePriceWithVat": fmt_number(-(discount + disc_vat)),
                        "OrderLinePriceVat": fmt_number(-disc_vat),
                    }
                )
            net_vat = gross_vat - disc_vat  # so the response lines add up to the totals to the cent
            doc_lines.append(
                DocumentLine(
                    n,
                    item.no,
                    variant_id,
                    item.names[ds.default_language.code],
                    quantity,
                    priced.unit_code,
                    priced.list_price,
                    pct,
                    net,
                    vat_pct,
                    net + net_vat,
                )
            )
            goods += net
            goods_with_vat += net + net_vat
            line_discounts += discount
            vat_weighted += net * vat_pct
            if country.sales_tax_pct:
                tax = money(net * country.sales_tax_pct / HUNDRED)
                tax_total += tax
                tax_rows.append(
                    {
                        "OrderLineId": f"{line_id}-TAX",
                        "OrderLineParentLineId": line_id,
                        "OrderLineProductId": product_id or item.no,
                        "OrderLineProductVariantId": variant_id,
                        "OrderLineProductNumber": item.no,
                        "OrderLineProductName": f"Sales tax {fmt_number(country.sales_tax_pct)}%",
                        "OrderLineType": "4",
                        "OrderLineQuantity": "1",
                        "OrderLinePriceWithoutVat": fmt_number(tax),
                        "OrderLinePriceWithVat": fmt_number(tax),
                        "OrderLinePriceVat": "0",
                    }
                )
            if item.item_type == 0:
                available = ds.stock(item, variant_id) / priced.qty_per_unit
                if quantity > available:
                    warnings.append(
                        f"Item {item.no}: only {fmt_number(available.to_integral_value())} available"
                    )

        # Invoice discount, from the goods amount in LCY.
        inv_disc = ZERO
        inv_disc_vat = ZERO
        if erp_discounts and customer is not None and customer.invoice_disc_code and goods > 0:
            goods_lcy = goods / ctx.per_lcy
            pct = ZERO
            for tier in ds.invoice_discounts.get(customer.invoice_disc_code, ()):
                if goods_lcy >= tier.minimum_amount:
                    pct = tier.discount_pct
            if pct:
                inv_disc = money(goods * pct / HUNDRED)
                inv_disc_vat = money(vat_weighted * pct / HUNDRED / HUNDRED)
                discount_rows.append(
                    {
                        "OrderLineId": "INVDISC",
                        "OrderLineProductName": f"Invoice discount {fmt_number(pct)}%",
                        "OrderLineType": "1",
                        "OrderLineQuantity": "1",
                        "OrderLineUnitPriceWithoutVat": fmt_number(-inv_disc),
                        "OrderLineUnitPriceWithVat": fmt_number(-(inv_disc + inv_disc_vat)),
                        "OrderLinePriceWithoutVat": fmt_number(-inv_disc),
                        "OrderLinePriceWithVat": fmt_number(-(inv_disc + inv_disc_vat)),
                        "OrderLinePriceVat": fmt_number(-inv_disc_vat),
                    }
                )
                doc_lines.append(
                    DocumentLine(
                        len(doc_lines) + 1,
                        "",
                        "",
                        f"Invoice discount {fmt_number(pct)}%",
                        ONE,
                        "",
                        -inv_disc,
                        ZERO,
                        -inv_disc,
                        ZERO,
                        -(inv_disc + inv_disc_vat),
                        line_type=1,
                    )
                )
        for row in tax_rows:
            # On the sales order, sales tax is part of "Amount Including VAT", not of "Amount".
            amount = Decimal(row["OrderLinePriceWithoutVat"] or "0")
            doc_lines.append(
                DocumentLine(
                    len(doc_lines) + 1,
                    row["OrderLineProductNumber"] or "",
                    "",
                    row["OrderLineProductName"] or "",
                    ONE,
                    "",
                    ZERO,
                    ZERO,
                    ZERO,
                    ZERO,
                    amount,
                    line_type=4,
                )
            )

        subtotal = goods - inv_disc
        subtotal_with_vat = goods_with_vat - inv_disc - inv_disc_vat + tax_total

        # Shipping.
        shop_controls_shipping = bool(_text(header, "OrderShippingMethodId"))
        std_vat = ds.vat_rate("STANDARD", ctx.vat_country, ctx.vat_posting_group)
        if shop_controls_shipping:
            fee_with_vat = _decimal(_text(header, "OrderShippingFee"), "OrderShippingFee")
            fee_text = _text(header, "OrderShippingFeeWithoutVat")
            fee = (
                _decimal(fee_text, "OrderShippingFeeWithoutVat")
                if fee_text
                else money(fee_with_vat * HUNDRED / (HUNDRED + std_vat))
            )
            method = _text(header, "OrderShippingMethodName") or _text(header, "OrderShippingMethodId")
        elif not product_lines or subtotal / ctx.per_lcy >= FREE_SHIPPING_FROM_LCY:
            fee, fee_with_vat, method = ZERO, ZERO, "Free shipping"
        else:
            fee = money(SHIPPING_FEE_LCY * ctx.per_lcy)
            fee_with_vat = fee + money(fee * std_vat / HUNDRED)
            method = "Standard delivery"
        total = subtotal + fee
        total_with_vat = subtotal_with_vat + fee_with_vat
        sales_discount = line_discounts + inv_disc
        warning = "; ".join(warnings)

        header_row: Row = {
            "OrderId": _text(header, "OrderId"),
            "OrderCustomerNumber": customer.no if customer else _text(header, "OrderCustomerNumber"),
            "OrderCurrencyCode": currency_in,
            "OrderPriceWithVat": fmt_number(total_with_vat),
            "OrderPriceWithoutVat": fmt_number(total),
            "OrderPriceBeforeFeesWithVat": fmt_number(subtotal_with_vat),
            "OrderPriceBeforeFeesWithoutVat": fmt_number(subtotal),
            "OrderSalesDiscount": fmt_number(sales_discount),
            "OrderShippingFee": fmt_number(fee_with_vat),
            "OrderShippingFeeWithoutVat": fmt_number(fee),
            "OrderShippingMethodName": method,
            "VatCountryCode": ctx.vat_country,
            "VatPostingGroup": ctx.vat_posting_group or country.vat_bus_posting_group,
        }
        if delivery is not None:
            header_row |= {
                "OrderDeliveryAddressId": _text(header, "OrderDeliveryAddressId"),
                "OrderDeliveryName": delivery.name,
                "OrderDeliveryAddress": delivery.address,
                "OrderDeliveryZip": delivery.zip,
                "OrderDeliveryCity": delivery.city,
                "OrderDeliveryCountryCode": delivery.country_code,
            }
        if warning:
            header_row["OrderShippingWarning"] = warning
        return CalculatedOrder(
            shop_order_id=_text(header, "OrderId"),
            customer_no=customer.no if customer else "",
            currency_code="" if ctx.is_lcy else ctx.currency,
            lines=doc_lines,
            subtotal_without_vat=subtotal,
            subtotal_with_vat=subtotal_with_vat,
            total_without_vat=total,
            total_with_vat=total_with_vat,
            sales_discount=sales_discount,
            shipping_fee=fee,
            shipping_fee_with_vat=fee_with_vat,
            shipping_method=method,
            shipping_warning=warning,
            header_row=header_row,
            line_rows=line_rows + discount_rows + tax_rows,
        )

    def create_order(
        self,
        header: Mapping[str, str | None],
        lines: Sequence[Mapping[str, str | None]],
        today: date,
        now: datetime,
    ) -> tuple[CalculatedOrder, str, bool]:
        """Create the sales order once per shop OrderId; a repeat returns the first one unchanged.

        With ``dedup`` off every call commits a new sales order (the third value is then True for
        each); ``order_for_shop_id`` keeps answering the first one. For a blocked customer nothing
        is created and the answer says so as data, the way a plug-in unit that catches the error
        does: ``OrderCreated`` False and BC's message in ``OrderErrorMessage``.
        """
        shop_order_id = _text(header, "OrderId")
        if not shop_order_id:
            raise BcError("OrderId must have a value in the order request.")
        existing = self._by_shop_id.get(shop_order_id)
        if existing is not None and self.dedup:
            number, calculated = existing
            return calculated, number, False
        if not any(_text(ln, "OrderLineType") in PRODUCT_LINE_TYPES for ln in lines):
            raise BcError("There is nothing to release for the order: it has no product lines.")
        blocked = self._blocked(self._resolve_customer(header))
        if blocked is not None:
            refused = CalculatedOrder(
                shop_order_id,
                "",
                _text(header, "OrderCurrencyCode"),
                [],
                ZERO,
                ZERO,
                ZERO,
                ZERO,
                ZERO,
                ZERO,
                ZERO,
                "",
                "",
                header_row={
                    "OrderId": shop_order_id,
                    "OrderCreated": fmt_bool(False),
                    "OrderErrorMessage": blocked,
                },
                line_rows=[],
            )
            return refused, "", False
        calculated = self.calculate_order(header, lines, today)
        number = f"SO-{self._next_order_no}"
        self._next_order_no += 1
        calculated.header_row["OrderIntegrationOrderId"] = number
        calculated.header_row["OrderCreated"] = fmt_bool(True)
        customer = self.dataset.find_customer(calculated.customer_no)
        doc = SalesDocument(
            doc_type=DOC_OPEN_ORDER,
            no=number,
            customer_no=calculated.customer_no,
            customer_name=customer.name if customer else _text(header, "OrderCustomerName"),
            order_date=today,
            posting_date=today,
            currency_code=calculated.currency_code,
            lines=[ln for ln in calculated.lines if ln.line_type in (0, 1, 4)],
            status="Open",
            external_document_no=shop_order_id,
            ship_to=self._delivery(header, customer),
            bill_to=self._bill_to(header, customer),
            shipping_fee=calculated.shipping_fee,
            shipping_fee_with_vat=calculated.shipping_fee_with_vat,
            shipping_method=calculated.shipping_method,
            created_at=now,
            payment_method=_text(header, "OrderPaymentMethodName") or _text(header, "OrderPaymentMethodId"),
        )
        self.created[number] = doc
        self._by_shop_id.setdefault(shop_order_id, (number, calculated))
        return calculated, number, True

    def order_for_shop_id(self, shop_order_id: str) -> SalesDocument | None:
        entry = self._by_shop_id.get(shop_order_id)
        return self.created.get(entry[0]) if entry else None

    @staticmethod
    def _bill_to(header: Mapping[str, str | None], customer: Customer | None) -> dict[str, str]:
        if customer is not None:
            return {
                "name": customer.name,
                "address": customer.address,
                "address2": customer.address2,
                "zip": customer.zip,
                "city": customer.city,
                "country": customer.country_code,
                "email": customer.email,
                "phone": customer.phone,
            }
        return {
            key: _text(header, f"OrderCustomer{col}")
            for key, col in (
                ("name", "Name"),
                ("address", "Address"),
                ("address2", "Address2"),
                ("zip", "Zip"),
                ("city", "City"),
                ("country", "CountryCode"),
                ("email", "Email"),
                ("phone", "Phone"),
            )
        }

    @staticmethod
    def _delivery(header: Mapping[str, str | None], customer: Customer | None) -> ShipToAddress | None:
        """The customer's ship-to named by ``OrderDeliveryAddressId`` (BcError when it has none of
        that code), else the request's delivery columns (None when they are empty)."""
        address_id = _text(header, "OrderDeliveryAddressId")
        if address_id:
            for ship_to in customer.ship_to if customer is not None else ():
                if address_id in (ship_to.external_id, ship_to.code):
                    return ship_to
            raise BcError(
                "The Ship-to Address does not exist. Identification fields and values: "
                f"Customer No.='{customer.no if customer else ''}',Code='{address_id}'"
            )
        if not _text(header, "OrderDeliveryAddress") and not _text(header, "OrderDeliveryName"):
            return None
        return ShipToAddress(
            customer_no=customer.no if customer else "",
            code="",
            name=_text(header, "OrderDeliveryName"),
            address=_text(header, "OrderDeliveryAddress"),
            address2=_text(header, "OrderDeliveryAddress2"),
            zip=_text(header, "OrderDeliveryZip"),
            city=_text(header, "OrderDeliveryCity"),
            country_code=_text(header, "OrderDeliveryCountryCode"),
            phone=_text(header, "OrderDeliveryPhone"),
            email=_text(header, "OrderDeliveryEmail"),
        )

    # -- history -----------------------------------------------------------------------------------

    def _counts(self, index: int) -> tuple[int, int, int, int]:
        """(open orders, invoices, credit memos, shipments) of the customer with this index."""
        h = mix(self.dataset.seed, index, 0xD0C)
        invoices = 2 + h % 12
        return (h >> 8) % 4, invoices, (h >> 16) % 3, invoices

    def _number_bases(self) -> list[tuple[int, int, int, int]]:
        """Per customer: the first order, invoice, credit memo and shipment number (running sequences)."""
        if self._numbering is None:
            bases = []
            orders, invoices, credits, shipments = 1001, 103001, 104001, 102001
            for cust in self.dataset.customers:
                n_open, n_inv, n_cr, n_ship = self._counts(cust.index)
                bases.append((orders, invoices, credits, shipments))
                orders += n_open + n_inv
                invoices += n_inv
                credits += n_cr
                shipments += n_ship
            self._numbering = bases
        return self._numbering

    def history(self, customer: Customer) -> dict[str, list[SalesDocument]]:
        cached = self._history.get(customer.no)
        if cached is None:
            cached = self._history[customer.no] = self._generate_history(customer)
        return cached

    def _generate_history(self, customer: Customer) -> dict[str, list[SalesDocument]]:
        ds = self.dataset
        rng = random.Random(mix(ds.seed, customer.index, 0x415))
        n_open, n_inv, n_cr, _n_ship = self._counts(customer.index)
        order_no, invoice_no, credit_no, shipment_no = self._number_bases()[customer.index]
        ref = ds.reference_date
        sellable = ds.items
        result: dict[str, list[SalesDocument]] = {t: [] for t in DOCUMENT_TYPES}

        def make_lines(on: date) -> list[DocumentLine]:
            ctx = self.pricing.context(customer.no, customer.currency_code, on)
            lines = []
            for n in range(1, rng.randint(1, 6) + 1):
                item = sellable[rng.randrange(len(sellable))]
                if item.blocked:
                    continue
                variant = item.variant_ids[rng.randrange(len(item.variant_ids))] if item.variant_ids else ""
                unit = item.units[rng.randrange(len(item.units))] if rng.random() < 0.2 else item.units[0]
                qty = Decimal(rng.choice([1, 1, 2, 3, 5, 10, 12, 20, 50]))
                priced = self.pricing.price_line(item, variant, unit.code, qty, ctx)
                gross = money(priced.list_price * qty)
                net = gross - money(gross * priced.line_discount_pct / HUNDRED)
                lines.append(
                    DocumentLine(
                        n,
                        item.no,
                        variant,
                        item.names[ds.default_language.code],
                        qty,
                        unit.code,
                        priced.list_price,
                        priced.line_discount_pct,
                        net,
                        priced.vat_pct,
                        net + money(net * priced.vat_pct / HUNDRED),
                    )
                )
            if not lines:  # every drawn item was blocked: take the first sellable one
                item = next(it for it in sellable if not it.blocked)
                priced = self.pricing.price_line(
                    item, "" if not item.variant_ids else item.variant_ids[0], "", ONE, ctx
                )
                lines.append(
                    DocumentLine(
                        1,
                        item.no,
                        priced.variant_id,
                        item.names[ds.default_language.code],
                        ONE,
                        priced.unit_code,
                        priced.list_price,
                        ZERO,
                        priced.list_price,
                        priced.vat_pct,
                        priced.list_price + money(priced.list_price * priced.vat_pct / HUNDRED),
                    )
                )
            return lines

        def shipping(lines: list[DocumentLine], ctx_rate: Decimal) -> tuple[Decimal, Decimal]:
            goods = sum((ln.line_amount for ln in lines), ZERO)
            if goods >= FREE_SHIPPING_FROM_LCY * ctx_rate:
                return ZERO, ZERO
            fee = money(SHIPPING_FEE_LCY * ctx_rate)
            vat = ds.countries[customer.country_code].vat_rates["STANDARD"]
            return fee, fee + money(fee * vat / HUNDRED)

        rate = ds.currencies[customer.currency_code or ds.lcy_code].per_lcy
        # Who every document of this customer is for (invoices, shipments, credit memos, orders).
        party: dict[str, Any] = dict(
            customer_no=customer.no,
            customer_name=customer.name,
            currency_code=customer.currency_code,
            bill_to=self._bill_to({}, customer),
            ship_to=customer.ship_to[0] if customer.ship_to else None,
        )
        for k in range(n_inv):
            posted = ref - timedelta(days=rng.randint(3, 720))
            ordered = posted - timedelta(days=rng.randint(0, 10))
            lines = make_lines(ordered)
            fee, fee_vat = shipping(lines, rate)
            paid = posted < ref - timedelta(days=45) or rng.random() < 0.3
            order_ref = f"SO-{order_no + k:06d}"
            agent = rng.choice(_names.SHIPPING_AGENTS)
            tracking = f"{agent[:2]}{mix(ds.seed, customer.index, k, 0x7A) % 10**10:010d}"
            common: dict[str, Any] = dict(
                **party,
                order_date=ordered,
                posting_date=posted,
                lines=lines,
                order_no=order_ref,
                shipping_fee=fee,
                shipping_fee_with_vat=fee_vat,
                shipping_method="Standard delivery" if fee else "Free shipping",
                external_document_no=f"WEB{mix(ds.seed, customer.index, k) % 10**6:06d}",
            )
            result[DOC_INVOICE].append(
                SalesDocument(
                    doc_type=DOC_INVOICE,
                    no=f"PSI-{invoice_no + k}",
                    status="Paid" if paid else "Open",
                    due_date=posted + timedelta(days=30),
                    **common,
                )
            )
            result[DOC_SHIPMENT].append(
                SalesDocument(
                    doc_type=DOC_SHIPMENT,
                    no=f"PSS-{shipment_no + k}",
                    status="Shipped",
                    shipment_date=posted,
                    shipping_agent=agent,
                    tracking_no=tracking,
                    **{**common, "shipping_fee": ZERO, "shipping_fee_with_vat": ZERO},
                )
            )
        for k in range(n_cr):
            invoice = result[DOC_INVOICE][rng.randrange(len(result[DOC_INVOICE]))]
            returned = []
            for n, ln in enumerate(invoice.lines[: rng.randint(1, 2)], start=1):
                qty = max(ONE, (ln.quantity / 2).to_integral_value())
                net = money(ln.line_amount * qty / ln.quantity)
                returned.append(
                    DocumentLine(
                        n,
                        ln.item_no,
                        ln.variant_id,
                        ln.description,
                        qty,
                        ln.unit_code,
                        ln.unit_price,
                        ln.line_discount_pct,
                        net,
                        ln.vat_pct,
                        net + money(net * ln.vat_pct / HUNDRED),
                    )
                )
            posted = invoice.posting_date + timedelta(days=rng.randint(5, 40))
            result[DOC_CREDIT].append(
                SalesDocument(
                    doc_type=DOC_CREDIT,
                    no=f"PCM-{credit_no + k}",
                    order_date=posted,
                    posting_date=posted,
                    lines=returned,
                    status="Applied" if rng.random() < 0.7 else "Open",
                    applies_to_doc_no=invoice.no,
                    **party,
                )
            )
        for k in range(n_open):
            ordered = ref - timedelta(days=rng.randint(0, 20))
            lines = make_lines(ordered)
            fee, fee_vat = shipping(lines, rate)
            result[DOC_OPEN_ORDER].append(
                SalesDocument(
                    doc_type=DOC_OPEN_ORDER,
                    no=f"SO-{order_no + n_inv + k:06d}",
                    order_date=ordered,
                    posting_date=ordered,
                    lines=lines,
                    status=rng.choice(["Open", "Released", "Pending Approval"]),
                    shipment_date=ordered + timedelta(days=rng.randint(1, 14)),
                    **party,
                    shipping_fee=fee,
                    shipping_fee_with_vat=fee_vat,
                    shipping_method="Standard delivery" if fee else "Free shipping",
                    external_document_no=f"WEB{mix(ds.seed, customer.index, 1000 + k) % 10**6:06d}",
                )
            )
        return result

    def documents(self, doc_type: str, customer_no: str) -> list[SalesDocument]:
        if doc_type not in DOCUMENT_TYPES:
            raise BcError(f"Unknown document type '{doc_type}'. Use one of: {', '.join(DOCUMENT_TYPES)}.")
        customer = self.dataset.find_customer(customer_no)
        docs: list[SalesDocument] = []
        if customer is not None:
            docs.extend(self.history(customer)[doc_type])
        if doc_type == DOC_OPEN_ORDER:
            docs.extend(
                d for d in self.created.values() if d.customer_no == (customer.no if customer else None)
            )
        return docs

    def find(self, doc_type: str, customer_no: str, number: str) -> SalesDocument | None:
        if doc_type == DOC_OPEN_ORDER and number in self.created:
            doc = self.created[number]
            return doc if doc.customer_no == customer_no else None
        return next((d for d in self.documents(doc_type, customer_no) if d.no == number), None)

    # -- customer center ---------------------------------------------------------------------------

    def list_documents(
        self,
        doc_type: str,
        customer_no: str,
        first_item: int,
        amount: int,
        sort_by: str | None,
        direction: str | None,
        search_field: str | None,
        search_value: str | None,
    ) -> tuple[list[Row], int]:
        """One page of a customer's documents; total = the count after searching, before paging."""
        docs = self.documents(doc_type, customer_no)
        columns = LIST_COLUMNS[doc_type]
        by_lower = {name.lower(): name for name in columns}
        if search_field and search_value is not None and search_value != "":
            column = by_lower.get(search_field.lower())
            if column is None:
                raise BcError(f"Cannot search {doc_type} by '{search_field}'. Fields: {', '.join(columns)}.")
            text_of = columns[column][1]
            needle = search_value.lower()
            docs = [d for d in docs if needle in text_of(d).lower()]
        descending = (direction or "").strip().lower() == "desc"
        if sort_by:
            column = by_lower.get(sort_by.lower())
            if column is None:
                raise BcError(f"Cannot sort {doc_type} by '{sort_by}'. Fields: {', '.join(columns)}.")
            key = columns[column][0]
            docs = sorted(docs, key=lambda d: (key(d), d.no), reverse=descending)
        else:  # newest first, as BC's customer ledger pages show them
            docs = sorted(docs, key=lambda d: (d.posting_date, d.no), reverse=True)
        total = len(docs)
        start = max(first_item, 1) - 1
        page = docs[start : start + amount] if amount > 0 else docs[start:]
        return [{name: text(d) for name, (_key, text) in columns.items()} for d in page], total

    def get_document(self, doc_type: str, customer_no: str, number: str) -> tuple[Row, list[Row]] | None:
        doc = self.find(doc_type, customer_no, number)
        if doc is None:
            return None
        return document_header_row(doc), [document_line_row(doc, ln) for ln in doc.lines]


# --- rows ----------------------------------------------------------------------------------------

_Getter = Callable[[SalesDocument], Any]
_Texter = Callable[[SalesDocument], str]


def _col(key: _Getter, text: _Texter | None = None) -> tuple[_Getter, _Texter]:
    return key, text or (lambda d: str(key(d)))


def _date_col(get: Callable[[SalesDocument], date | None]) -> tuple[_Getter, _Texter]:
    return (lambda d: get(d) or date.min), (lambda d: fmt_date(get(d)))


def _money_col(get: Callable[[SalesDocument], Decimal]) -> tuple[_Getter, _Texter]:
    return get, (lambda d: fmt_number(get(d)))


_COMMON: dict[str, tuple[_Getter, _Texter]] = {
    "No": _col(lambda d: d.no),
    "DocumentType": _col(lambda d: d.doc_type),
    "SellToCustomerNo": _col(lambda d: d.customer_no),
    "SellToCustomerName": _col(lambda d: d.customer_name),
    "CurrencyCode": _col(lambda d: d.currency_code),
}
_AMOUNTS: dict[str, tuple[_Getter, _Texter]] = {
    "Amount": _money_col(lambda d: d.amount),
    "AmountIncludingVAT": _money_col(lambda d: d.amount_including_vat),
}
LIST_COLUMNS: dict[str, dict[str, tuple[_Getter, _Texter]]] = {
    DOC_OPEN_ORDER: {
        **_COMMON,
        "OrderDate": _date_col(lambda d: d.order_date),
        "ShipmentDate": _date_col(lambda d: d.shipment_date),
        "ExternalDocumentNo": _col(lambda d: d.external_document_no),
        **_AMOUNTS,
        "Status": _col(lambda d: d.status),
    },
    DOC_INVOICE: {
        **_COMMON,
        "PostingDate": _date_col(lambda d: d.posting_date),
        "DueDate": _date_col(lambda d: d.due_date),
        "OrderNo": _col(lambda d: d.order_no),
        "ExternalDocumentNo": _col(lambda d: d.external_document_no),
        **_AMOUNTS,
        "RemainingAmount": _money_col(lambda d: ZERO if d.status == "Paid" else d.amount_including_vat),
        "Status": _col(lambda d: d.status),
    },
    DOC_CREDIT: {
        **_COMMON,
        "PostingDate": _date_col(lambda d: d.posting_date),
        "AppliesToDocNo": _col(lambda d: d.applies_to_doc_no),
        **_AMOUNTS,
        "Status": _col(lambda d: d.status),
    },
    DOC_SHIPMENT: {
        **_COMMON,
        "PostingDate": _date_col(lambda d: d.posting_date),
        "ShipmentDate": _date_col(lambda d: d.shipment_date),
        "OrderNo": _col(lambda d: d.order_no),
        "ShippingAgentCode": _col(lambda d: d.shipping_agent),
        "PackageTrackingNo": _col(lambda d: d.tracking_no),
        "Status": _col(lambda d: d.status),
    },
}


def document_header_row(doc: SalesDocument) -> Row:
    """A document as an ``EcomOrders`` item (customer-center details, §3.5)."""
    bill = doc.bill_to
    ship = doc.ship_to
    goods = sum((ln.line_amount for ln in doc.lines if ln.line_type == 0), ZERO)
    goods_vat = sum((ln.amount_including_vat for ln in doc.lines if ln.line_type == 0), ZERO)
    discounts = sum(
        (ln.unit_price * ln.quantity - ln.line_amount for ln in doc.lines if ln.line_type == 0), ZERO
    )
    discounts += -sum((ln.line_amount for ln in doc.lines if ln.line_type == 1), ZERO)
    row: Row = {
        "OrderId": doc.no,
        "OrderIntegrationOrderId": doc.no,
        "DocumentType": doc.doc_type,
        "OrderDate": fmt_date(doc.order_date),
        "PostingDate": fmt_date(doc.posting_date),
        "OrderCustomerNumber": doc.customer_no,
        "OrderCustomerName": bill.get("name", doc.customer_name),
        "OrderCustomerAddress": bill.get("address", ""),
        "OrderCustomerAddress2": bill.get("address2", ""),
        "OrderCustomerZip": bill.get("zip", ""),
        "OrderCustomerCity": bill.get("city", ""),
        "OrderCustomerCountryCode": bill.get("country", ""),
        "OrderCustomerEmail": bill.get("email", ""),
        "OrderCustomerPhone": bill.get("phone", ""),
        "OrderDeliveryName": ship.name if ship else bill.get("name", ""),
        "OrderDeliveryAddress": ship.address if ship else bill.get("address", ""),
        "OrderDeliveryAddress2": ship.address2 if ship else bill.get("address2", ""),
        "OrderDeliveryZip": ship.zip if ship else bill.get("zip", ""),
        "OrderDeliveryCity": ship.city if ship else bill.get("city", ""),
        "OrderDeliveryCountryCode": ship.country_code if ship else bill.get("country", ""),
        "OrderCurrencyCode": doc.currency_code,
        "OrderPriceWithoutVat": fmt_number(doc.amount),
        "OrderPriceWithVat": fmt_number(doc.amount_including_vat),
        "OrderPriceBeforeFeesWithoutVat": fmt_number(doc.amount - doc.shipping_fee),
        "OrderPriceBeforeFeesWithVat": fmt_number(doc.amount_including_vat - doc.shipping_fee_with_vat),
        "OrderSalesDiscount": fmt_number(discounts),
        "OrderShippingFee": fmt_number(doc.shipping_fee_with_vat),
        "OrderShippingMethodName": doc.shipping_method,
        "OrderPaymentMethodName": doc.payment_method,
        "OrderStateName": doc.status,
        "ExternalDocumentNo": doc.external_document_no,
        "OrderNo": doc.order_no,
        "AppliesToDocNo": doc.applies_to_doc_no,
        "DueDate": fmt_date(doc.due_date),
        "ShipmentDate": fmt_date(doc.shipment_date),
        "ShippingAgentCode": doc.shipping_agent,
        "PackageTrackingNo": doc.tracking_no,
        "OrderGoodsWithoutVat": fmt_number(goods),
        "OrderGoodsWithVat": fmt_number(goods_vat),
    }
    return row


def document_line_row(doc: SalesDocument, line: DocumentLine) -> Row:
    """A document line as an ``EcomOrderLines`` item."""
    unit_vat = money(line.unit_price * line.vat_pct / HUNDRED)
    return {
        "OrderLineId": str(line.line_no),
        "OrderLineOrderId": doc.no,
        "OrderLineType": str(line.line_type),
        "OrderLineProductId": line.item_no,
        "OrderLineProductVariantId": line.variant_id,
        "OrderLineProductNumber": line.item_no,
        "OrderLineProductName": line.description,
        "OrderLineQuantity": fmt_number(line.quantity),
        "OrderLineUnitId": line.unit_code,
        "OrderLineUnitPriceWithoutVat": fmt_number(line.unit_price),
        "OrderLineUnitPriceWithVat": fmt_number(line.unit_price + unit_vat),
        "OrderLinePriceWithoutVat": fmt_number(line.line_amount),
        "OrderLinePriceWithVat": fmt_number(line.amount_including_vat),
        "OrderLinePriceVat": fmt_number(line.amount_including_vat - line.line_amount),
        "OrderLineDiscountPercent": fmt_number(line.line_discount_pct),
        "OrderLineVatPercent": fmt_number(line.vat_pct),
    }


__all__ = [
    "LIST_COLUMNS",
    "CalculatedOrder",
    "DocumentStore",
    "document_header_row",
    "document_line_row",
]
