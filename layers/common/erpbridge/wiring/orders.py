"""The order graph: the order use case wired to its adapters, shared by the live API and by
Export Failed Orders.

With AWS settings (``ERPBRIDGE_CACHE_TABLE``, ``ERPBRIDGE_BREAKER_TABLE``,
``ERPBRIDGE_ORDERS_XML_BUCKET``) the shared stores are DynamoDB and S3; without them (``erpbridge
serve`` on a laptop) they are in memory and in a local folder, so the API runs with nothing but
an ERP URL and a database URL. Orders and idempotency records are in the shop database in both
cases (the same transaction boundary as the order itself).

Everything heavy (SQLAlchemy, requests, lxml, boto3) is imported when a service is first used, not
when the Lambda module is imported, so the cold start pays only for what the first request needs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar, overload

if TYPE_CHECKING:
    # Settings pull in pydantic-settings (~25 ms); they are read on the first request instead.
    from sqlalchemy.engine import Engine

    from erpbridge.erp.endpoints import EndpointMap, ErpEndpoint
    from erpbridge.erp.ports import BreakerStore
    from erpbridge.live.cache import TieredCache
    from erpbridge.live.degradation import DegradationPolicy
    from erpbridge.live.order_documents import OrderDocumentPolicy
    from erpbridge.live.order_view import OrderView
    from erpbridge.live.orders import OrderService
    from erpbridge.live.ports import (
        ErpStatusView,
        LiveErp,
        Metric,
        MetricsSink,
        XmlCopyStore,
    )
    from erpbridge.settings import ErpSettings, Settings

log = logging.getLogger("erpbridge.live")
T = TypeVar("T")
S = TypeVar("S", bound="_Builds")


class _Builds(Protocol):
    _build_lock: threading.RLock


class built_once(Generic[S, T]):  # lower case: used like functools.cached_property
    """``functools.cached_property`` with a lock: the first thread that asks for a service builds
    it while the others wait, and every thread gets that one object.

    ``cached_property`` has no lock since Python 3.12, so threads arriving together on a cold start
    each built their own engine (and ran the migrations side by side: "database is locked" on
    SQLite), their own cache, breaker and order service. Once built, the value sits in the
    instance's ``__dict__`` and is read without the lock (this is a non-data descriptor).
    """

    def __init__(self, build: Callable[[S], T]) -> None:
        self._build = build
        self._name = build.__name__
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> Self: ...

    @overload
    def __get__(self, instance: S, owner: type | None = None) -> T: ...

    def __get__(self, instance: S | None, owner: type | None = None) -> Self | T:
        if instance is None:
            return self
        with instance._build_lock:  # reentrant: building one service builds the ones it needs
            values: dict[str, Any] = instance.__dict__
            if self._name not in values:
                values[self._name] = self._build(instance)
            return values[self._name]  # type: ignore[no-any-return]


class LoggingMetrics:
    """Metrics as log lines (local runs); Lambda handlers pass a Powertools EMF sink instead."""

    def emit(self, metric: Metric) -> None:
        log.info("metric %s=%s", metric.name, metric.value)


class TimedErp:
    """The ERP client, with each call's latency published as ``ErpLatency`` (milliseconds)."""

    def __init__(self, erp: LiveErp, metrics: MetricsSink) -> None:
        self._erp = erp
        self._metrics = metrics

    def call(self, request_xml: bytes, *, kind: Any) -> str:
        from erpbridge.live.ports import Metric

        started = time.perf_counter()
        try:
            return self._erp.call(request_xml, kind=kind)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            self._metrics.emit(Metric("ErpLatency", elapsed_ms, unit="Milliseconds"))

    def status(self) -> ErpStatusView:
        return self._erp.status()


class OrderServices:
    """The order use case and what it stands on (the ERP client behind its breaker, the shop
    database, the shared cache, the XML copies), each built on first access and then reused.

    The live API extends it (:class:`erpbridge.wiring.live.LiveServices`); Export Failed Orders
    uses it alone (:func:`erpbridge.wiring.batch.order_export`). Safe to share between threads:
    each service is built once (:class:`built_once`), and the services keep no request state
    (docs/live-concurrency.md lists what they share).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        erp: LiveErp | None = None,
        metrics: MetricsSink | None = None,
        migrate: bool = False,
    ) -> None:
        self.settings = settings
        self._erp = erp
        self._metrics: MetricsSink = metrics or LoggingMetrics()
        self._migrate = migrate
        self._build_lock = threading.RLock()
        self._endpoint_clients: dict[str, LiveErp] = {}  # every endpoint's but the default's

    # --- adapters -------------------------------------------------------------------------------

    @built_once
    def endpoints(self) -> EndpointMap:
        """The ERP endpoints (ERPBRIDGE_ERP_* is the default one; ERPBRIDGE_ERP_ENDPOINTS more)."""
        from erpbridge.erp.endpoints import EndpointMap

        return EndpointMap.from_settings(self.settings)

    @built_once
    def erp(self) -> LiveErp:
        """The default endpoint's client (or the one passed in)."""
        if self._erp is not None:
            return self._erp
        return self._client_of(self.endpoints.default)

    # --- the ErpRouter port (erpbridge.live.ports) of the order use case -------------------------

    def endpoint_of(self, shop_id: str, currency: str | None) -> str:
        return self.endpoints.for_shop(shop_id, currency).name

    def erp_for(self, shop_id: str, currency: str | None, endpoint: str = "") -> LiveErp:
        known = self.endpoints
        if endpoint and endpoint in known:
            return self.endpoint_erp(known.named(endpoint))
        if endpoint:
            log.warning("ERP endpoint %r is no longer configured: sending to shop %r's", endpoint, shop_id)
        return self.endpoint_erp(known.for_shop(shop_id, currency))

    def endpoint_erp(self, endpoint: ErpEndpoint) -> LiveErp:
        """One endpoint's client with its own breaker and limiter principal, built on first use."""
        if endpoint.is_default:
            return self.erp
        client = self._endpoint_clients.get(endpoint.name)
        if client is None:
            with self._build_lock:
                client = self._endpoint_clients.get(endpoint.name)
                if client is None:
                    client = self._endpoint_clients[endpoint.name] = self._client_of(endpoint)
        return client

    @built_once
    def breaker_store(self) -> BreakerStore:
        if self.settings.breaker_table:
            from erpbridge.adapters.aws.dynamodb_breaker import DynamoDbBreakerStore

            return DynamoDbBreakerStore(self.settings.breaker_table)
        from erpbridge.erp.ports import InMemoryBreakerStore

        return InMemoryBreakerStore()

    def _client_of(self, endpoint: ErpEndpoint) -> LiveErp:
        from erpbridge.erp.breaker import CircuitBreaker
        from erpbridge.erp.client import SoapErpClient
        from erpbridge.live.ports import Metric
        from erpbridge.settings import credential_reloader
        from erpbridge.wiring.erp_limits import limiter_store_for

        settings = endpoint.settings
        breaker = CircuitBreaker(
            self.breaker_store,
            name=endpoint.breaker_name,
            failure_threshold=settings.erp_breaker_failures,
            cooldown_s=settings.erp_breaker_cooldown_s,
            clock=time.time,  # shared across containers: wall-clock seconds
            on_open=lambda: self._metrics.emit(Metric("BreakerOpened")),
        )
        client = SoapErpClient(
            settings,
            breaker=breaker,
            reload=_reloader_of(endpoint.name, credential_reloader(self.settings)),
            limiter_store=limiter_store_for(settings),
        )
        return TimedErp(client, self._metrics)

    @built_once
    def engine(self) -> Engine:
        from erpbridge.shopdb import engine_for, upgrade

        if self._migrate:
            upgrade(self.settings.database_url)
        return engine_for(self.settings.database_url)

    @built_once
    def cache(self) -> TieredCache:
        from erpbridge.adapters.local.memory_cache import MemoryCacheStore
        from erpbridge.live.cache import TieredCache

        shared = None
        if self.settings.cache_table:
            from erpbridge.adapters.aws.dynamodb_cache import DynamoDbCacheStore

            shared = DynamoDbCacheStore(self.settings.cache_table)
        return TieredCache(
            local=MemoryCacheStore(), shared=shared, local_ttl_s=self.settings.local_cache_ttl_s
        )

    @built_once
    def xml_store(self) -> XmlCopyStore:
        if self.settings.orders_xml_bucket:
            from erpbridge.adapters.aws.s3_xml_copies import S3XmlCopyStore

            return S3XmlCopyStore(self.settings.orders_xml_bucket, prefix=self.settings.orders_xml_prefix)
        from pathlib import Path

        from erpbridge.adapters.local.xml_copies import FolderXmlCopyStore

        return FolderXmlCopyStore(Path(self.settings.state_dir) / self.settings.orders_xml_prefix)

    # --- use cases ------------------------------------------------------------------------------

    @built_once
    def degradation(self) -> DegradationPolicy:
        from erpbridge.live.degradation import DegradationPolicy

        return DegradationPolicy.from_settings(self.settings)

    @built_once
    def document_policy(self) -> OrderDocumentPolicy:
        from erpbridge.live.order_documents import OrderDocumentPolicy

        return OrderDocumentPolicy(
            anonymous_user_key=self.settings.anonymous_user_key,
            local_currency=self.settings.local_currency,
            shipping_item_type=self.settings.erp_shipping_item_type,
            shipping_item_key=self.settings.erp_shipping_item_key,
        )

    @built_once
    def orders(self) -> OrderService:
        from erpbridge.adapters.sql.idempotency import SqlIdempotencyStore
        from erpbridge.adapters.sql.orders import SqlOrderStore
        from erpbridge.live.orders import OrderPolicy, OrderService

        return OrderService(
            erp=self.erp,
            orders=SqlOrderStore(self.engine),
            idempotency=SqlIdempotencyStore(self.engine),
            xml_store=self.xml_store,
            policy=OrderPolicy(
                documents=self.document_policy,
                max_attempts=self.settings.order_max_attempts,
                export_after_s=self.settings.order_export_after_s,
                export_batch=self.settings.order_export_batch,
                lookup_search_field=self.settings.order_lookup_search_field or None,
                lookup_number_column=self.settings.order_lookup_number_column,
                unknown_settle_s=self.settings.order_unknown_settle_s,
            ),
            degradation=self.degradation,
            router=self,
            cache=self.cache,
            cache_invalidation_ttl_s=self.settings.price_cache_ttl_s + self.settings.stale_fallback_s,
            metrics=self._metrics,
        )


def _reloader_of(endpoint: str, reload: Callable[[], Settings] | None) -> Callable[[], ErpSettings] | None:
    """How an endpoint reads its settings again for rotated credentials (None: they cannot change)."""
    from erpbridge.erp.endpoints import DEFAULT_ENDPOINT

    if reload is None or endpoint == DEFAULT_ENDPOINT:
        return reload

    def again() -> ErpSettings:
        from erpbridge.settings import endpoint_erp_settings

        settings = reload()
        return endpoint_erp_settings(settings, endpoint, settings.erp_endpoints[endpoint])

    return again


def order_view(settings: Settings) -> OrderView:
    """Orders read from the shop database alone, with no ERP client: for read-only commands."""
    from erpbridge.adapters.sql.orders import SqlOrderStore
    from erpbridge.live.order_view import OrderView
    from erpbridge.shopdb import engine_for

    return OrderView(SqlOrderStore(engine_for(settings.database_url)))
