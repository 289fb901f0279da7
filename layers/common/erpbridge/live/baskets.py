"""Basket calculation by the ERP (``CreateOrder=False``), cached, with an honest fallback.

An unchanged basket (same customer, currency, shop, lines, discounts, shipping, VAT context,
ship-to and custom fields: the key is a fingerprint of the whole request) is answered from
the cache without an ERP call (Dynamicweb's order-hash skip, but shared across containers and
with a TTL). When the ERP is down, busy or fails, the answer is computed here from cached or shop
prices and says so: ``source=fallback`` and a message; the ERP prices the order when it is created.
When the ERP refuses the basket (an item it does not know, a blocked customer), that is the answer
(422 ``erp_rejected`` with its message): an estimate would only postpone the refusal to checkout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from erpbridge.erp.ports import RequestKind
from erpbridge.errors import ErpBridgeError, ErpRejectedError
from erpbridge.live.cache import TieredCache, cache_key, namespace_stamp_key
from erpbridge.live.degradation import BasketWhenDown, DegradationPolicy, describe
from erpbridge.live.errors import DegradedRefusalError
from erpbridge.live.models import (
    BasketRequest,
    BasketResponse,
    PricedLine,
    PriceItemRequest,
    PriceRequest,
    PriceSource,
    Totals,
)
from erpbridge.live.order_documents import (
    OrderDocumentPolicy,
    build_order_xml,
    priced_result,
    returned_fields,
)
from erpbridge.live.ports import LiveErp, fingerprint
from erpbridge.live.prices import PriceService
from erpbridge.live.shop_discounts import vat_of, with_shop_discounts

log = logging.getLogger("erpbridge.live.baskets")


class BasketService:
    def __init__(
        self,
        *,
        erp: LiveErp,
        cache: TieredCache,
        prices: PriceService,
        policy: OrderDocumentPolicy,
        ttl_s: float,
        keep_stale_s: float = 3_600.0,
        degradation: DegradationPolicy,
        cache_namespace: str = "",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._degradation = degradation
        self._namespace_stamp = namespace_stamp_key(cache_namespace)
        self._erp = erp
        self._cache = cache
        self._prices = prices
        self._policy = policy
        self._ttl_s = ttl_s
        self._keep_stale_s = keep_stale_s
        self._now = now

    def calculate(self, request: BasketRequest) -> BasketResponse:
        from erpbridge.protocol.response_parsers import parse_order_response

        basket_print = fingerprint(request.model_dump(mode="json"))
        key = cache_key("basket", request.customer_number or self._policy.anonymous_user_key, basket_print)
        # A batch import of prices or stock makes the cached totals stale (cache.namespace_stamp_key).
        hit = self._cache.get_many([key], namespace_stamp=self._namespace_stamp).get(key)
        if hit is not None and hit.fresh:
            return BasketResponse.model_validate({**hit.value, "source": PriceSource.CACHE})
        try:
            xml = build_order_xml(request, f"CART-{basket_print[:16]}", create=False, policy=self._policy)
            result = parse_order_response(self._erp.call(xml, kind=RequestKind.CALCULATE_ORDER), create=False)
            lines, totals = priced_result(request, result)
        except ErpRejectedError:
            raise  # the ERP refused this basket (unknown item, blocked customer): no estimate hides it
        except (ErpBridgeError, ArithmeticError) as error:  # an answer whose sums overflow is unusable
            log.warning("basket calculation by the ERP failed (%s)", type(error).__name__)
            if self._degradation.basket is BasketWhenDown.REFUSE:
                raise DegradedRefusalError(
                    "basket", describe(error), retry_after_s=self._degradation.retry_after_s
                ) from error
            if hit is not None:
                stale = BasketResponse.model_validate({**hit.value, "source": PriceSource.FALLBACK})
                return stale.model_copy(
                    update={
                        "message": "ERP unavailable: these are the ERP's totals for this basket from "
                        f"{stale.as_of:%Y-%m-%d %H:%M:%S} UTC; the ERP prices the order when it is created"
                    }
                )
            return self._fallback(request)
        response = BasketResponse(
            source=PriceSource.ERP,
            as_of=self._now(),
            currency=request.currency,
            lines=lines,
            totals=totals,
            shipping_method=result.shipping_method or "",
            shipping_warning=result.shipping_warning or "",
            discounts_by="erp" if request.erp_controls_discount else "shop",
            shipping_by="erp" if request.erp_controls_shipping else "shop",
            custom_fields=returned_fields(result.header, request.custom_fields),
        )
        self._cache.put_many(
            [(key, response.model_dump(mode="json"), self._ttl_s)], keep_for_s=self._keep_stale_s
        )
        return response

    def _fallback(self, request: BasketRequest) -> BasketResponse:
        """Totals from cached/shop prices; shop discounts and shop shipping applied, nothing else
        (the shop's discounts as on the ERP's answer, :mod:`erpbridge.live.shop_discounts`)."""
        prices = self._prices.get_prices(
            PriceRequest(
                customer_number=request.customer_number,
                currency=request.currency,
                shop_id=request.shop_id,
                language=request.language,
                vat_country=request.vat_country,
                vat_posting_group=request.vat_posting_group,
                items=[
                    PriceItemRequest(
                        product_id=line.product_id,
                        variant_id=line.variant_id,
                        unit=line.unit,
                        quantity=line.quantity,
                    )
                    for line in request.lines
                ],
            )
        )
        lines: list[PricedLine] = []
        subtotal: Decimal | None = Decimal(0)
        subtotal_with_vat: Decimal | None = Decimal(0)
        for line, item in zip(request.lines, prices.items, strict=True):
            price = None if item.price is None else item.price * line.quantity
            price_with_vat = None if item.price_with_vat is None else item.price_with_vat * line.quantity
            subtotal = None if subtotal is None or price is None else subtotal + price
            subtotal_with_vat = (
                None
                if subtotal_with_vat is None or price_with_vat is None
                else subtotal_with_vat + price_with_vat
            )
            lines.append(
                PricedLine(
                    line_type="product",
                    product_id=line.product_id,
                    variant_id=line.variant_id,
                    name=line.name,
                    unit=line.unit,
                    quantity=line.quantity,
                    unit_price=item.price,
                    unit_price_with_vat=item.price_with_vat,
                    price=price,
                    price_with_vat=price_with_vat,
                )
            )
        shipping_fee: Decimal | None = None
        shipping_without_vat = Decimal(0)
        if not request.erp_controls_shipping and request.shipping is not None:
            shipping_fee = request.shipping.fee
            shipping_without_vat = request.shipping.fee_without_vat or shipping_fee or Decimal(0)
        total = None if subtotal is None else subtotal + shipping_without_vat
        total_with_vat = None if subtotal_with_vat is None else subtotal_with_vat + (shipping_fee or 0)
        totals = Totals(
            subtotal=subtotal,
            subtotal_with_vat=subtotal_with_vat,
            shipping_fee=shipping_fee,
            discount=None if request.erp_controls_discount else Decimal(0),
            vat=vat_of(total, total_with_vat),
            total=total,
            total_with_vat=total_with_vat,
        )
        if not request.erp_controls_discount:
            lines, totals = with_shop_discounts(lines, totals, request.discounts)
        return BasketResponse(
            source=PriceSource.FALLBACK,
            estimate=True,
            as_of=min((item.as_of for item in prices.items), default=self._now()),
            currency=request.currency,
            lines=lines,
            totals=totals,
            discounts_by="erp" if request.erp_controls_discount else "shop",
            shipping_by="erp" if request.erp_controls_shipping else "shop",
            message="ERP unavailable: totals computed by erpbridge from cached or shop prices, without ERP "
            "discounts or ERP shipping; the ERP prices the order when it is created",
        )
