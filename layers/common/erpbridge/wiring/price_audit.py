"""The price audit's graph: its sample read from the shop database, "what the API serves" from the
live price use case in-process (the same cache, fallbacks and ERP client as the live API), BC's
fresh quote from that use case's direct ERP request (no cache, no fallback, request kind
``PRICE_AUDIT``: the shared limiter lets it wait the batch budget), and the run in the runs table.

Several ERP endpoints (docs/erp-endpoints.md): every shop of the endpoint map is sampled, and each
probe is served and quoted by the live use case of the endpoint of its shop and currency (its
client, breaker, limiter principal and cache namespace).

In AWS the audit function has the live API's cache, breaker and limiter tables, so "cached" and
"stale" mean what the storefront sees. Locally (``erpbridge audit prices``) the cache is this
process's own unless ``ERPBRIDGE_CACHE_TABLE`` names a shared one (docs/price-audit.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from erpbridge.batch.models import Trigger
from erpbridge.batch.price_audit import AuditRun, run_price_audit
from erpbridge.batch.price_audit_values import Figure, Origin, Probe, Served
from erpbridge.erp.ports import RequestKind
from erpbridge.live.degradation import PriceFallback
from erpbridge.live.models import MAX_PRICE_ITEMS, PriceItem, PriceItemRequest, PriceRequest, PriceSource
from erpbridge.wiring.live import LiveServices

if TYPE_CHECKING:
    from erpbridge.batch.ports import RunRecorder
    from erpbridge.erp.endpoints import EndpointMap
    from erpbridge.live.ports import Metric
    from erpbridge.live.prices import PriceService
    from erpbridge.settings import Settings

_SERVED_FROM = {PriceSource.ERP: Origin.FRESH, PriceSource.CACHE: Origin.CACHED}


def _requests(probes: Sequence[Probe]) -> list[PriceRequest]:
    """The probes (one shop, customer and currency) as the live API's price requests."""
    first = probes[0]
    items = [
        PriceItemRequest(product_id=p.product_id, variant_id=p.variant_id, unit=p.unit, quantity=p.quantity)
        for p in probes
    ]
    return [
        PriceRequest(
            customer_number=first.customer,
            currency=first.currency,
            shop_id=first.shop,
            items=items[start : start + MAX_PRICE_ITEMS],
        )
        for start in range(0, len(items), MAX_PRICE_ITEMS)
    ]


def _figure(item: PriceItem) -> Figure:
    return Figure(item.price, item.price_with_vat) if item.found is True else Figure()


class _OnPriceService:
    """An audit port on the live price use case of the endpoint of the probes' shop and currency."""

    def __init__(self, services: LiveServices) -> None:
        self._services = services

    def _prices(self, probes: Sequence[Probe]) -> PriceService:
        return self._services.at(probes[0].shop, probes[0].currency).prices


class InProcessServedPrices(_OnPriceService):
    """:class:`~erpbridge.batch.ports.ServedPrices` on the live price use case (not over HTTP)."""

    def serve(self, probes: Sequence[Probe]) -> list[Served]:
        served: list[Served] = []
        prices = self._prices(probes)
        for request in _requests(probes):
            response, fallbacks = prices.get_prices_traced(request)
            for item, fallback in zip(response.items, fallbacks, strict=True):
                origin = _SERVED_FROM.get(item.source)
                if origin is None:
                    origin = Origin.STALE if fallback is PriceFallback.CACHE_STALE else Origin.FALLBACK
                served.append(Served(origin, _figure(item)))
        return served

    def batch(self, probes: Sequence[Probe]) -> list[Figure | None]:
        figures: list[Figure | None] = []
        prices = self._prices(probes)
        for request in _requests(probes):
            items = prices.from_shop_database(request).items
            figures.extend(_figure(item) if item.found is True else None for item in items)
        return figures


class DirectQuotes(_OnPriceService):
    """:class:`~erpbridge.batch.ports.FreshQuotes`: the live use case's ERP request, asked directly."""

    def quote(self, probes: Sequence[Probe]) -> list[Figure]:
        figures: list[Figure] = []
        prices = self._prices(probes)
        for request in _requests(probes):
            response = prices.quote(request, kind=RequestKind.PRICE_AUDIT)
            figures.extend(_figure(item) for item in response.items)
        return figures


class _Unmetered:
    """The audit's own price lookups are not the storefront's: they stay out of its metrics."""

    def emit(self, metric: Metric) -> None:
        return None


@dataclass
class PriceAuditor:
    """The audit wired to the live services and a runs table."""

    services: LiveServices
    runs: RunRecorder

    def run(
        self,
        *,
        sample: int,
        trigger: Trigger,
        seed: int | None = None,
        scheduled_time: datetime | None = None,
        shop: str | None = None,
    ) -> AuditRun:
        """Audit every shop of the endpoint map (``sample`` probes each), or only ``shop``."""
        from erpbridge.adapters.sql.audit_candidates import SqlAuditCandidates

        endpoints = self.services.endpoints
        if shop is not None:
            endpoints.for_shop(shop)  # an unknown shop is refused before anything is recorded
        return run_price_audit(
            candidates=SqlAuditCandidates(self.services.engine),
            served=InProcessServedPrices(self.services),
            quotes=DirectQuotes(self.services),
            runs=self.runs,
            sample=sample,
            trigger=trigger,
            seed=seed,
            scheduled_time=scheduled_time,
            shops=[shop] if shop is not None else audited_shops(endpoints),
            endpoint_of=lambda probe: endpoints.for_shop(probe.shop, probe.currency).name,
            parameters={"shop": shop} if shop is not None else None,
        )


def audited_shops(endpoints: EndpointMap) -> list[str]:
    """The shops an audit samples: the default endpoint's named shops (``ERPBRIDGE_ERP_DEFAULT_SHOPS``),
    or when it names none the default shop "" (a request without a shop: every customer and
    product), then each other endpoint's shops."""
    shops = sorted(endpoints.default.shops) or [""]
    for endpoint in endpoints:
        if not endpoint.is_default:
            shops += sorted(endpoint.shops)
    return list(dict.fromkeys(shops))


def runs_for(settings: Settings) -> RunRecorder:
    """The runs table alone: DynamoDB when ``ERPBRIDGE_RUNS_TABLE`` is set, else the local state's."""
    if settings.runs_table:
        from erpbridge.adapters.aws.dynamodb_runs import DynamoDbRunRecorder

        return DynamoDbRunRecorder(settings.runs_table)
    from erpbridge.adapters.local.sqlite_batch_state import LocalBatchState

    return LocalBatchState.open(settings.state_dir).runs


def price_auditor(settings: Settings | None = None, *, services: LiveServices | None = None) -> PriceAuditor:
    """The auditor of these settings (default: the process's): its own live services, unmetered,
    unless ``services`` (a running local API's, tests) are given."""
    from erpbridge.settings import get_settings

    loaded = settings or get_settings()
    built = services or LiveServices(loaded, metrics=_Unmetered())
    return PriceAuditor(built, runs_for(loaded))
