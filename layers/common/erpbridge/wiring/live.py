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
    from erpbridge.erp.endpoints import ErpEndpoint
    from erpbridge.live.baskets import BasketService
    from erpbridge.live.cache import TieredCache
    from erpbridge.live.documents import DocumentService
    from erpbridge.live.health import HealthService
    from erpbridge.live.ports import LiveErp, MetricsSink, ShopPriceData
    from erpbridge.live.prices import PriceService


class LiveServices(OrderServices):
    """Every live use case, each built on first access and then reused (one per container).

    Prices, baskets and documents are per ERP endpoint (:meth:`at`); ``prices``, ``baskets`` and
    ``documents`` are the default endpoint's. Orders are one service that sends each order to its
    shop's endpoint; health has a line per endpoint.
    """

    def at(self, shop_id: str | None, currency: str | None = None) -> EndpointServices:
        """The use cases of the endpoint serving ``shop_id`` (None or "": the default shop) in
        ``currency``; an unknown shop raises :class:`~erpbridge.errors.UnknownShopError`."""
        endpoint = self.endpoints.for_shop(shop_id, currency)
        found = self._at.get(endpoint.name)
        if found is None:
            with self._build_lock:
                found = self._at.setdefault(endpoint.name, EndpointServices(self, endpoint))
        return found

    @built_once
    def _at(self) -> dict[str, EndpointServices]:
        return {}

    @property
    def prices(self) -> PriceService:
        return self.at(None).prices

    @property
    def baskets(self) -> BasketService:
        return self.at(None).baskets

    @property
    def documents(self) -> DocumentService:
        return self.at(None).documents

    @built_once
    def health(self) -> HealthService:
        from erpbridge.adapters.sql.orders import SqlOrderStore
        from erpbridge.live.health import HealthService

        return HealthService(
            erp=self.erp,
            orders=SqlOrderStore(self.engine),
            endpoints=[(e.name, tuple(e.shops), self.endpoint_erp(e)) for e in self.endpoints],
        )

    @built_once
    def tokens(self) -> JwtCustomerTokens:
        from erpbridge.adapters.jwt.customer_tokens import JwtCustomerTokens

        return JwtCustomerTokens(self.settings)


class EndpointServices:
    """The live use cases of one ERP endpoint: its client (breaker, limiter principal) and its cache
    namespace, over the services every endpoint shares (shop database, cache stores, policies)."""

    def __init__(self, services: LiveServices, endpoint: ErpEndpoint) -> None:
        self._services = services
        self.endpoint = endpoint
        self._build_lock = services._build_lock

    @built_once
    def erp(self) -> LiveErp:
        return self._services.endpoint_erp(self.endpoint)

    @built_once
    def cache(self) -> TieredCache:
        return self._services.cache.namespaced(self.endpoint.cache_namespace)

    @built_once
    def prices(self) -> PriceService:
        from erpbridge.live.prices import PriceService, PricingPolicy

        services = self._services
        settings = services.settings
        return PriceService(
            metrics=services._metrics,
            erp=self.erp,
            cache=self.cache,
            shop_prices=_LazyShopPrices(services),
            policy=PricingPolicy(
                max_products_per_request=settings.max_products_per_request,
                ttl_s=settings.price_cache_ttl_s,
                negative_ttl_s=settings.negative_cache_ttl_s,
                keep_stale_s=settings.stale_fallback_s,
                deadline_s=settings.live_deadline_s,
                anonymous_user_key=settings.anonymous_user_key,
                local_currency=settings.local_currency,
                degradation=services.degradation,
            ),
        )

    @built_once
    def baskets(self) -> BasketService:
        from erpbridge.live.baskets import BasketService

        return BasketService(
            erp=self.erp,
            cache=self.cache,
            prices=self.prices,
            policy=self._services.document_policy,
            ttl_s=self._services.settings.basket_cache_ttl_s,
            degradation=self._services.degradation,
        )

    @built_once
    def documents(self) -> DocumentService:
        from erpbridge.live.documents import DocumentService

        return DocumentService(erp=self.erp, degradation=self._services.degradation)


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
