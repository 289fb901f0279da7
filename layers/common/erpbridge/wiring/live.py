"""The live API's services: the order graph (:mod:`erpbridge.wiring.orders`) plus prices,
baskets, customer documents, health and the customer tokens, built on first use from the
process settings (Lambda), or installed whole (``erpbridge serve``, tests)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from erpbridge.wiring.orders import OrderServices, built_once

if TYPE_CHECKING:
    from collections.abc import Sequence

    from erpbridge.adapters.jwt.customer_tokens import JwtCustomerTokens
    from erpbridge.live.baskets import BasketService
    from erpbridge.live.documents import DocumentService
    from erpbridge.live.health import HealthService
    from erpbridge.live.ports import MetricsSink, ShopPriceData
    from erpbridge.live.prices import PriceService


class LiveServices(OrderServices):
    """Every live use case, each built on first access and then reused (one per container)."""

    # --- use cases ------------------------------------------------------------------------------

    @built_once
    def prices(self) -> PriceService:
        from erpbridge.live.prices import PriceService, PricingPolicy

        return PriceService(
            metrics=self._metrics,
            erp=self.erp,
            cache=self.cache,
            shop_prices=_LazyShopPrices(self),
            policy=PricingPolicy(
                max_products_per_request=self.settings.max_products_per_request,
                ttl_s=self.settings.price_cache_ttl_s,
                negative_ttl_s=self.settings.negative_cache_ttl_s,
                keep_stale_s=self.settings.stale_fallback_s,
                deadline_s=self.settings.live_deadline_s,
                anonymous_user_key=self.settings.anonymous_user_key,
                local_currency=self.settings.local_currency,
                degradation=self.degradation,
            ),
        )

    @built_once
    def baskets(self) -> BasketService:
        from erpbridge.live.baskets import BasketService

        return BasketService(
            erp=self.erp,
            cache=self.cache,
            prices=self.prices,
            policy=self.document_policy,
            ttl_s=self.settings.basket_cache_ttl_s,
            degradation=self.degradation,
        )

    @built_once
    def documents(self) -> DocumentService:
        from erpbridge.live.documents import DocumentService

        return DocumentService(erp=self.erp, degradation=self.degradation)

    @built_once
    def health(self) -> HealthService:
        from erpbridge.adapters.sql.orders import SqlOrderStore
        from erpbridge.live.health import HealthService

        return HealthService(erp=self.erp, orders=SqlOrderStore(self.engine))

    @built_once
    def tokens(self) -> JwtCustomerTokens:
        from erpbridge.adapters.jwt.customer_tokens import JwtCustomerTokens

        return JwtCustomerTokens(self.settings)


class _LazyShopPrices:
    """Fallback prices from the shop database, connecting only when a fallback is needed."""

    def __init__(self, services: LiveServices) -> None:
        self._services = services

    def read(self, product_ids: Sequence[str], *, customer_number: str | None, shop_id: str) -> ShopPriceData:
        from erpbridge.adapters.sql.shop_prices import SqlShopPrices

        return SqlShopPrices(self._services.engine).read(
            product_ids, customer_number=customer_number, shop_id=shop_id
        )


_services: LiveServices | None = None
_services_lock = threading.Lock()
_default_metrics: MetricsSink | None = None


def use_metrics(sink: MetricsSink) -> None:
    """The metrics sink of services built from the process settings (Lambda: Powertools EMF)."""
    global _default_metrics
    _default_metrics = sink


def services() -> LiveServices:
    """The process-wide services, from the process settings."""
    global _services
    with _services_lock:
        if _services is None:
            from erpbridge.settings import get_settings

            _services = LiveServices(get_settings(), metrics=_default_metrics)
        return _services


def use_services(replacement: LiveServices | None) -> None:
    """Install the services the handlers use (``erpbridge serve``, tests); None = rebuild from settings."""
    global _services
    with _services_lock:
        _services = replacement
