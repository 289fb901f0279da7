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

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from erpbridge.live.models import BasketRequest, OrderRequest, PricedLine, Totals

if TYPE_CHECKING:
    from erpbridge.protocol.response_parsers import OrderResult


@dataclass(frozen=True)
class OrderDocumentPolicy:
    anonymous_user_key: str = "Anonymous"
    local_currency: str | None = None
    shipping_item_type: str = "ItemCharge"
    shipping_item_key: str = "DW-SHIP"
    unit_prices: bool = True


def build_order_xml(
    request: BasketRequest,
    order_id: str,
    *,
    create: bool,
    submit_type: str = "LiveOrderOrCart",
    policy: OrderDocumentPolicy,
    order_date: datetime | None = None,
) -> bytes:
    from erpbridge.protocol.request_builders import identifier_of
    from erpbridge.protocol.tables import Column, build_tables

    customer = request.customer_number or policy.anonymous_user_key
    currency = "" if request.currency == (policy.local_currency or "") else request.currency
    billing = request.billing_address if isinstance(request, OrderRequest) else None
    delivery = (request.delivery_address or billing) if isinstance(request, OrderRequest) else None
    shipping = request.shipping
    header: dict[str, Any] = {
        "OrderCustomerAccessUserExternalId": customer,
        "OrderCustomerNumber": customer,
        "OrderCustomerName": billing.name if billing else "",
        "OrderCustomerAddress": billing.address if billing else "",
        "OrderCustomerAddress2": billing.address2 if billing else "",
        "OrderCustomerCity": billing.city if billing else "",
        "OrderCustomerState": billing.state if billing else "",
        "OrderCustomerZip": billing.zip if billing else "",
        "OrderCustomerCountryCode": billing.country_code if billing else "",
        "OrderCustomerEmail": billing.email if billing else "",
        "OrderCustomerPhone": billing.phone if billing else "",
        "OrderCustomerCompany": billing.company if billing else "",
        "OrderCustomerComment": request.comment if isinstance(request, OrderRequest) else "",
        "OrderDeliveryName": (delivery.name or (billing.name if billing else "")) if delivery else "",
        "OrderDeliveryAddress": delivery.address if delivery else "",
        "OrderDeliveryAddress2": delivery.address2 if delivery else "",
        "OrderDeliveryCity": delivery.city if delivery else "",
        "OrderDeliveryState": delivery.state if delivery else "",
        "OrderDeliveryZip": delivery.zip if delivery else "",
        "OrderDeliveryCountryCode": delivery.country_code if delivery else "",
        "OrderDeliveryEmail": delivery.email if delivery else "",
        "OrderDeliveryPhone": delivery.phone if delivery else "",
        "OrderDeliveryCompany": delivery.company if delivery else "",
        "CreateOrder": create,
        "OrderId": order_id,
        "OrderIntegrationOrderId": "",
        "OrderCurrencyCode": currency,
        "OrderDate": (order_date or datetime.now(UTC)).replace(tzinfo=None, microsecond=0),
        "OrderPaymentMethodName": Column(
            request.payment_method if isinstance(request, OrderRequest) else "", informational=True
        ),
        "OrderReference": request.reference if isinstance(request, OrderRequest) else "",
    }
    if request.erp_controls_shipping or shipping is None:
        header["OrderShippingMethodName"] = Column("", informational=True)
        header["OrderShippingMethodId"] = ""
        header["OrderShippingFee"] = ""
    else:
        header["OrderShippingMethodName"] = Column(shipping.method_name, informational=True)
        header["OrderShippingMethodId"] = shipping.method_id
        header["OrderShippingFee"] = shipping.fee if shipping.fee is not None else Decimal(0)
        header["OrderShippingFeeWithoutVat"] = (
            shipping.fee_without_vat if shipping.fee_without_vat is not None else shipping.fee or Decimal(0)
        )
        header["OrderShippingItemType"] = policy.shipping_item_type
        header["OrderShippingItemKey"] = policy.shipping_item_key
    header["OrderVoucherCode"] = request.voucher_code
    header["ErpControlsDiscount"] = request.erp_controls_discount

    lines: list[dict[str, Any]] = []
    for number, line in enumerate(request.lines, start=1):
        lines.append(
            {
                "OrderLineId": f"{order_id}-{number}",
                "OrderLineOrderId": order_id,
                "OrderLineParentLineId": "",
                "OrderLineProductId": line.product_id,
                "OrderLineProductVariantId": line.variant_id,
                "OrderLineProductNumber": line.product_id,
                "OrderLineProductName": line.name,
                "OrderLineProductIdentifier": identifier_of(
                    line.product_id, line.variant_id, request.language, line.unit, policy.unit_prices
                ),
                "OrderLineQuantity": line.quantity,
                "OrderLineUnitId": line.unit,
                "OrderLineType": "0",
                "OrderLineTypeName": "Product",
                "OrderLineBom": False,
            }
        )
    if not request.erp_controls_discount:
        for number, discount in enumerate(request.discounts, start=len(lines) + 1):
            product_discount = bool(discount.product_id)
            lines.append(
                {
                    "OrderLineId": f"{order_id}-{number}",
                    "OrderLineOrderId": order_id,
                    "OrderLineParentLineId": "",
                    "OrderLineProductId": discount.product_id,
                    "OrderLineProductNumber": discount.product_id,
                    "OrderLineProductName": discount.name,
                    "OrderLineQuantity": Decimal(1),
                    "OrderLinePriceWithoutVat": -discount.amount,
                    "OrderLineUnitPriceWithoutVat": -discount.amount,
                    "OrderLineType": "3" if product_discount else "1",
                    "OrderLineTypeName": "ProductDiscount" if product_discount else "Discount",
                    "OrderLineBom": False,
                    "OrderLineDiscountName": discount.name,
                    "OrderLineDiscountType": "Amount",
                    "OrderLineDiscountValue": discount.amount,
                }
            )
    return build_tables(
        {"EcomOrders": [header], "EcomOrderLines": lines},
        root_attributes={
            "source": "LiveIntegration",
            "submitType": submit_type,
            "referenceName": "OrdersPut",
        },
    )


LINE_TYPE_NAMES: dict[int, Literal["product", "discount", "product_discount", "tax", "fixed"]] = {
    0: "product",
    1: "discount",
    2: "fixed",
    3: "product_discount",
    4: "tax",
}


def priced_lines(result: OrderResult) -> list[PricedLine]:
    """The ERP's lines (products, discounts, tax), in the order it sent them."""
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
        )
        for line in result.lines
    ]


def totals_of(result: OrderResult) -> Totals:
    total_with_vat = result.total_with_vat
    total = result.total_without_vat
    vat = total_with_vat - total if total_with_vat is not None and total is not None else None
    return Totals(
        subtotal=result.subtotal_without_vat if result.subtotal_without_vat is not None else total,
        subtotal_with_vat=result.subtotal_with_vat
        if result.subtotal_with_vat is not None
        else total_with_vat,
        shipping_fee=result.shipping_fee,
        discount=result.sales_discount,
        vat=vat,
        total=total,
        total_with_vat=total_with_vat,
    )


def priced_result(request: BasketRequest, result: OrderResult) -> tuple[list[PricedLine], Totals]:
    """The ERP's lines and totals, with the shop's own discounts applied when the shop controls
    discounts and the ERP did not apply them (Dynamicweb recalculates its discounts after applying
    the ERP's prices, anchor §6.3). The with-VAT total is reduced at the lines' average VAT rate."""
    lines, totals = priced_lines(result), totals_of(result)
    if request.erp_controls_discount or not request.discounts:
        return lines, totals
    if any(line.line_type in ("discount", "product_discount") for line in lines):
        return lines, totals  # the ERP applied them itself
    discount = sum((d.amount for d in request.discounts), Decimal(0))
    lines = lines + [
        PricedLine(
            line_type="product_discount" if d.product_id else "discount",
            product_id=d.product_id,
            name=d.name,
            quantity=Decimal(1),
            price=-d.amount,
        )
        for d in request.discounts
    ]
    ratio = Decimal(1)
    if totals.subtotal and totals.subtotal_with_vat:
        ratio = totals.subtotal_with_vat / totals.subtotal
    discount_with_vat = (discount * ratio).quantize(Decimal("0.01"))
    total = None if totals.total is None else totals.total - discount
    total_with_vat = None if totals.total_with_vat is None else totals.total_with_vat - discount_with_vat
    return lines, totals.model_copy(
        update={
            "discount": (totals.discount or Decimal(0)) + discount,
            "total": total,
            "total_with_vat": total_with_vat,
            "vat": None if total is None or total_with_vat is None else total_with_vat - total,
        }
    )
