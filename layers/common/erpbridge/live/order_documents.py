"""The order XML (calculate and create share one shape) and the reading of the ERP's answer.

Columns and their order follow live-integration-anchor §3.3 (EcomOrders, EcomOrderLines):
``CreateOrder`` False = calculate the basket, True = create the sales order. Who computes
discounts and shipping is per request (§6.6): when the ERP controls discounts the shop sends no
discount lines and reads the ERP's discount lines back; when the shop controls them its discounts
travel as discount lines (type 1 order discount / 3 product discount) with their metadata. When the
ERP controls shipping the shipping columns are sent empty and the fee comes back in
``OrderShippingFee``; otherwise the shop's fee travels with its item type/key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from erpbridge.live.models import (
    Address,
    BasketRequest,
    OrderRequest,
    PricedLine,
    Shipping,
    ShopDiscount,
    Totals,
)
from erpbridge.live.shop_discounts import vat_of, with_shop_discounts
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
from erpbridge.protocol.request_builders import identifier_of

if TYPE_CHECKING:
    from erpbridge.protocol.response_parsers import OrderResult


@dataclass(frozen=True)
class OrderDocumentPolicy:
    """What an order document takes from the settings (pricing and order sections, in wiring)."""

    anonymous_user_key: str
    local_currency: str | None
    shipping_item_type: str
    shipping_item_key: str
    unit_prices: bool = True


def order_document(
    request: BasketRequest,
    order_id: str,
    *,
    policy: OrderDocumentPolicy,
    order_date: datetime | None = None,
) -> OrderDocument:
    """The storefront's basket or order as the protocol's :class:`OrderDocument`.

    The customer number (the anonymous key without one) is also the external user id; the
    currency is empty when it is the ERP's local currency; the delivery address defaults to the
    billing address, its name to the billing name; the ship-to code, the VAT context and the custom
    fields travel as they came (docs/commerce-context.md). Lines are numbered ``<order id>-<n>``: the
    products, then the shop's discounts when the shop controls them (as ``Amount`` discounts).
    """
    customer = request.customer_number or policy.anonymous_user_key
    order = request if isinstance(request, OrderRequest) else None
    billing = order.billing_address if order else Address()
    delivery = request.delivery_address or billing
    header = OrderHeader(
        order_id=order_id,
        customer_access_user_external_id=customer,
        customer_number=customer,
        customer_name=billing.name,
        customer_address=billing.address,
        customer_address2=billing.address2,
        customer_city=billing.city,
        customer_state=billing.state,
        customer_zip=billing.zip,
        customer_country_code=billing.country_code,
        customer_email=billing.email,
        customer_phone=billing.phone,
        customer_company=billing.company,
        customer_comment=order.comment if order else "",
        delivery_name=delivery.name or billing.name,
        delivery_address=delivery.address,
        delivery_address2=delivery.address2,
        delivery_city=delivery.city,
        delivery_state=delivery.state,
        delivery_zip=delivery.zip,
        delivery_country_code=delivery.country_code,
        delivery_email=delivery.email,
        delivery_phone=delivery.phone,
        delivery_company=delivery.company,
        delivery_address_id=request.ship_to_code or None,
        currency_code="" if request.currency == (policy.local_currency or "") else request.currency,
        order_date=(order_date or datetime.now(UTC)).replace(tzinfo=None, microsecond=0),
        payment_method_name=order.payment_method if order else "",
        reference=order.reference if order else "",
        voucher_code=request.voucher_code,
        erp_controls_discount=request.erp_controls_discount,
        vat_country_code=request.vat_country,
        vat_posting_group=request.vat_posting_group,
        custom_fields=request.custom_fields,
        **_shipping_columns(request.shipping if not request.erp_controls_shipping else None, policy),
    )
    lines = [
        OrderLine(
            f"{order_id}-{number}",
            order_id,
            product_id=line.product_id,
            product_variant_id=line.variant_id,
            product_number=line.product_id,
            product_name=line.name,
            product_identifier=identifier_of(
                line.product_id, line.variant_id, request.language, line.unit, policy.unit_prices
            ),
            quantity=line.quantity,
            unit_id=line.unit,
            field_values=[OrderLineFieldValue(name, value) for name, value in line.custom_fields.items()],
        )
        for number, line in enumerate(request.lines, start=1)
    ]
    if not request.erp_controls_discount:
        lines += [
            _discount_line(f"{order_id}-{number}", order_id, discount)
            for number, discount in enumerate(request.discounts, start=len(lines) + 1)
        ]
    return OrderDocument(header, lines)


def _shipping_columns(shipping: Shipping | None, policy: OrderDocumentPolicy) -> dict[str, Any]:
    """The header's shipping fields: the shop's method and fee, or none (the ERP charges)."""
    if shipping is None:
        return {"erp_controls_shipping": True}
    fee = shipping.fee if shipping.fee is not None else Decimal(0)
    return {
        "erp_controls_shipping": False,
        "shipping_method_name": shipping.method_name,
        "shipping_method_id": shipping.method_id,
        "shipping_fee": fee,
        "shipping_fee_without_vat": shipping.fee_without_vat if shipping.fee_without_vat is not None else fee,
        "shipping_item_type": policy.shipping_item_type,
        "shipping_item_key": policy.shipping_item_key,
    }


def _discount_line(line_id: str, order_id: str, discount: ShopDiscount) -> OrderLine:
    product_discount = bool(discount.product_id)
    return OrderLine(
        line_id,
        order_id,
        product_id=discount.product_id,
        product_number=discount.product_id,
        product_name=discount.name,
        price_without_vat=-discount.amount,
        unit_price_without_vat=-discount.amount,
        line_type=OrderLineType.PRODUCT_DISCOUNT if product_discount else OrderLineType.DISCOUNT,
        line_type_name="ProductDiscount" if product_discount else "Discount",
        discount=OrderLineDiscount(name=discount.name, discount_type="Amount", value=discount.amount),
    )


def build_order_xml(
    request: BasketRequest,
    order_id: str,
    *,
    create: bool,
    submit_type: str = SubmitType.LIVE_ORDER_OR_CART,
    policy: OrderDocumentPolicy,
    order_date: datetime | None = None,
) -> bytes:
    """The calculate (``create=False``) or create request of a basket or order."""
    document = order_document(request, order_id, policy=policy, order_date=order_date)
    return build_order_request(document, create=create, submit_type=submit_type)


LINE_TYPE_NAMES: dict[int, Literal["product", "discount", "product_discount", "tax", "fixed"]] = {
    0: "product",
    1: "discount",
    2: "fixed",
    3: "product_discount",
    4: "tax",
}


def returned_fields(row: Mapping[str, str | None], names: Iterable[str]) -> dict[str, str | None]:
    """The values the ERP answered for the custom fields ``names`` (the ones it left out are left
    out: Dynamicweb writes back only what comes back)."""
    return {name: row[name] for name in names if name in row}


def priced_lines(result: OrderResult, line_fields: Iterable[str] = ()) -> list[PricedLine]:
    """The ERP's lines (products, discounts, tax), in the order it sent them, each with its answer
    to the line custom fields ``line_fields``."""
    names = tuple(line_fields)
    return [
        PricedLine(
            line_type=LINE_TYPE_NAMES.get(line.line_type, "product"),
            product_id=line.product_number or line.product_id,
            variant_id=line.product_variant_id,
            name=line.product_name,
            unit=line.unit_id,
            quantity=line.quantity if line.quantity is not None else Decimal(0),
            unit_price=line.unit_price_without_vat,
            unit_price_with_vat=line.unit_price_with_vat,
            price=line.price_without_vat,
            price_with_vat=line.price_with_vat,
            custom_fields=returned_fields(line.row, names) if names else {},
        )
        for line in result.lines
    ]


def totals_of(result: OrderResult) -> Totals:
    total_with_vat = result.total_with_vat
    total = result.total_without_vat
    return Totals(
        subtotal=result.subtotal_without_vat if result.subtotal_without_vat is not None else total,
        subtotal_with_vat=result.subtotal_with_vat
        if result.subtotal_with_vat is not None
        else total_with_vat,
        shipping_fee=result.shipping_fee,
        discount=result.sales_discount,
        vat=vat_of(total, total_with_vat),
        total=total,
        total_with_vat=total_with_vat,
    )


def priced_result(request: BasketRequest, result: OrderResult) -> tuple[list[PricedLine], Totals]:
    """The ERP's lines and totals, with the shop's own discounts applied when the shop controls
    discounts and the ERP did not apply them (Dynamicweb recalculates its discounts after applying
    the ERP's prices, anchor §6.3), by :func:`~erpbridge.live.shop_discounts.with_shop_discounts`."""
    line_fields = dict.fromkeys(name for line in request.lines for name in line.custom_fields)
    lines, totals = priced_lines(result, line_fields), totals_of(result)
    if request.erp_controls_discount or not request.discounts:
        return lines, totals
    if any(line.line_type in ("discount", "product_discount") for line in lines):
        return lines, totals  # the ERP applied them itself
    return with_shop_discounts(lines, totals, request.discounts)
