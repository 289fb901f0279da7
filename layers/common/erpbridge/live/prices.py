"""Prices and stock for a list of products: cache first, then the ERP in chunks, then fallbacks.

* Every answer carries its provenance: ``erp`` (asked just now), ``cache`` (asked within the TTL)
  or ``fallback`` (the ERP was down or slower than the deadline: a stale cache entry, else the
  shop database's batch-imported price). The storefront can say "price confirmed at checkout".
* Cache misses go to the ERP in one request per chunk of ``max_products_per_request`` items —
  never one request per product — and chunks run in parallel (a few at a time: Business Central
  allows only a handful of concurrent requests per user).
* Products the ERP does not know are cached negatively (shorter TTL), so a catalogue page with a
  discontinued item does not ask the ERP again on every view (Dynamicweb PR #52).
* A chunk slower than the deadline is answered from fallbacks; when its answer arrives later it
  still fills the cache for the next request.
* For the price audit (:mod:`erpbridge.batch.price_audit`): :meth:`PriceService.get_prices_traced`
  says which fallback source answered each item, :meth:`PriceService.quote` asks the ERP directly
  (no cache, no fallback) and :meth:`PriceService.from_shop_database` reads the batch prices alone.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

# pydantic reads typing.TypedDict only on Python 3.12+; the code also runs on 3.11.
from typing_extensions import TypedDict

from erpbridge.erp.ports import RequestKind
from erpbridge.live.cache import TieredCache, cache_key, namespace_stamp_key, product_stamp_key
from erpbridge.live.degradation import DegradationPolicy, PriceFallback, StockWhenDown, describe
from erpbridge.live.errors import DegradedRefusalError
from erpbridge.live.models import (
    Amount,
    PriceItemRequest,
    PriceRequest,
    PriceResponse,
    PriceSource,
)
from erpbridge.live.ports import (
    JsonValue,
    LiveErp,
    Metric,
    MetricsSink,
    NoShopPrice,
    ShopPrice,
    ShopPriceData,
    ShopPrices,
    fingerprint,
)
from erpbridge.live.shop_fallback import shop_price

if TYPE_CHECKING:
    from erpbridge.protocol.response_parsers import ProductInfo

log = logging.getLogger("erpbridge.live.prices")

# Part of every price cache key: a release that changes what is cached changes this, so it never
# reads entries written by the previous one (Dynamicweb PRs #21/#22: keys not unique across versions).
CACHE_VERSION = "price.v4"
_FRAGMENT = "json"  # the item's rendered JSON, stored beside its data
_ORIGIN = "_fallback"  # which fallback source answered an item (see get_prices_traced)
_PRIVATE = frozenset({_FRAGMENT, _ORIGIN})  # keys of an answer that are not PriceItem fields
_AS_ERP = '"source":"erp"'  # unambiguous: quotes inside values are escaped in JSON
_AS_CACHE = '"source":"cache"'
_SOURCE_METRICS = {
    PriceSource.ERP: "PricesFromErp",
    PriceSource.CACHE: "PricesFromCache",
    PriceSource.FALLBACK: "PricesFromFallback",
}


@dataclass(frozen=True)
class PricingPolicy:
    """How prices are asked for and reused; built from the settings' pricing section in wiring."""

    max_products_per_request: int
    ttl_s: float
    negative_ttl_s: float
    keep_stale_s: float  # how long an expired entry may still serve as a fallback
    deadline_s: float
    anonymous_user_key: str
    local_currency: str | None
    degradation: DegradationPolicy
    unit_prices: bool = True
    parallel_chunks: int = 4
    cache_namespace: str = ""  # whose batch imports make these entries stale (namespace_stamp_key)


UNKNOWN_TO_ERP = "the ERP does not know this product"


def _number(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def quantity_text(quantity: Decimal) -> str:
    """One spelling per quantity (1, 1.0 and 1.00 share a cache entry)."""
    # Remembered: every item's cache key needs it, and a catalogue uses a handful of quantities
    # (equal Decimals hash alike and normalise alike, so 1 and 1.00 share a slot).
    if not quantity.is_finite():  # a signalling NaN cannot be hashed; not a valid quantity anyway
        return format(quantity.normalize(), "f")
    text = _QUANTITY_TEXTS.get(quantity)
    if text is None:
        text = format(quantity.normalize(), "f")
        if len(_QUANTITY_TEXTS) < 1024:
            _QUANTITY_TEXTS[quantity] = text
    return text


_QUANTITY_TEXTS: dict[Decimal, str] = {}


@dataclass(frozen=True, slots=True)
class _Wanted:
    key: str
    item: PriceItemRequest


class PriceService:
    def __init__(
        self,
        *,
        erp: LiveErp,
        cache: TieredCache,
        shop_prices: ShopPrices | None,
        policy: PricingPolicy,
        executor: ThreadPoolExecutor | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        metrics: MetricsSink | None = None,
    ) -> None:
        self._erp = erp
        self._metrics = metrics
        self._cache = cache
        self._shop_prices = shop_prices
        self._policy = policy
        self._now = now
        self._executor = executor
        self._executor_lock = threading.Lock()

    # --- the use case -------------------------------------------------------------------------

    def get_prices(self, request: PriceRequest) -> PriceResponse:
        items, message = self._answer(request)
        return self._validated(request, items, message)

    def get_prices_traced(self, request: PriceRequest) -> tuple[PriceResponse, list[PriceFallback | None]]:
        """The same answer, and per item the fallback source that answered it (None: the ERP or a
        fresh cache entry did, or no source had a figure), which ``source=fallback`` leaves open."""
        items, message = self._answer(request)
        return self._validated(request, items, message), [item.get(_ORIGIN) for item in items]

    def quote(self, request: PriceRequest, *, kind: RequestKind = RequestKind.PRODUCT_INFO) -> PriceResponse:
        """What the ERP quotes for ``request`` now: asked directly, one chunk after another, neither
        reading nor filling the cache, with no fallback (an ERP error is raised). ``kind`` is the
        request kind the ERP client limits it as (the price audit: ``PRICE_AUDIT``)."""
        customer = request.customer_number or self._policy.anonymous_user_key
        wanted = [_Wanted(str(index), item) for index, item in enumerate(request.items)]
        size = self._policy.max_products_per_request
        values: dict[str, JsonValue] = {}
        for start in range(0, len(wanted), size):
            values.update(self._ask_erp(request, customer, wanted[start : start + size], kind))
        items = [self._item_from_cache(w.item, values[w.key], PriceSource.ERP) for w in wanted]
        return self._validated(request, items, None)

    def from_shop_database(self, request: PriceRequest) -> PriceResponse:
        """What the shop database's batch-imported prices answer for ``request``: the figures a
        fallback would serve, read whether or not the ERP is up (``source=fallback``)."""
        wanted = [_Wanted(str(index), item) for index, item in enumerate(request.items)]
        answers = self._from_shop(request, wanted)
        return self._validated(request, [answers[w.key] for w in wanted], None)

    def get_prices_json(self, request: PriceRequest) -> str:
        """The same answer as JSON text. Items answered by the ERP or the cache carry the JSON their
        ERP answer was rendered to (validated once, when it arrived), so a cache hit is assembled
        from fragments instead of validating and serialising every item again."""
        items, message = self._answer(request)
        if message is not None or not all(_FRAGMENT in item for item in items):
            return self._validated(request, items, message).model_dump_json()
        parts = [
            item[_FRAGMENT]
            if item["source"] is PriceSource.ERP
            else item[_FRAGMENT].replace(_AS_ERP, _AS_CACHE, 1)
            for item in items
        ]
        head = json.dumps(_envelope(request, [], None), separators=(",", ":"))
        return head.replace('"items":[]', '"items":[' + ",".join(parts) + "]", 1)

    @staticmethod
    def _validated(request: PriceRequest, items: list[dict[str, Any]], message: str | None) -> PriceResponse:
        plain = [{k: v for k, v in item.items() if k not in _PRIVATE} for item in items]
        return PriceResponse.model_validate(_envelope(request, plain, message))

    def _answer(self, request: PriceRequest) -> tuple[list[dict[str, Any]], str | None]:
        """Every item's answer (in request order) and, when some are fallbacks, why."""
        customer = request.customer_number or self._policy.anonymous_user_key
        # The whole commerce context is in the key: one buyer's VAT country or posting group never
        # answers another's (docs/commerce-context.md).
        prefix = cache_key(
            CACHE_VERSION,
            customer,
            request.currency,
            request.shop_id,
            request.language,
            request.vat_country,
            request.vat_posting_group,
        )
        keys = [self._key(prefix, item) for item in request.items]
        wanted = dict(zip(keys, request.items, strict=True))
        shop_id = request.shop_id
        stamps = {key: product_stamp_key(shop_id, item.product_id) for key, item in wanted.items()}
        hits = self._cache.get_many(
            list(wanted), stamps=stamps, namespace_stamp=namespace_stamp_key(self._policy.cache_namespace)
        )

        # Items are plain dicts until the end: one pydantic validation of the whole response (in
        # pydantic-core) is several times cheaper than building 50 models one by one.
        answers: dict[str, dict[str, Any]] = {}
        misses: list[_Wanted] = []
        for key, item in wanted.items():
            hit = hits.get(key)
            if hit is not None and hit.fresh:
                answers[key] = self._item_from_cache(item, hit.value, PriceSource.CACHE)
            else:
                misses.append(_Wanted(key, item))

        failure: str | None = None
        if misses:
            fetched, failure = self._fetch_from_erp(request, customer, misses)
            for wanted_item in misses:
                value = fetched.get(wanted_item.key)
                if value is not None:
                    answers[wanted_item.key] = self._item_from_cache(wanted_item.item, value, PriceSource.ERP)
            unanswered = [w for w in misses if w.key not in answers]
            if unanswered:
                answers.update(self._fallbacks(request, unanswered, hits, failure))

        items = [answers[key] for key in keys]
        if self._metrics is not None:  # the share answered by the ERP, the cache and fallbacks
            for source in PriceSource:
                count = sum(1 for item in items if item["source"] is source)
                if count:
                    self._metrics.emit(Metric(_SOURCE_METRICS[source], count))
        message = None
        if any(item["source"] is PriceSource.FALLBACK for item in items):
            message = f"ERP unavailable ({failure}); fallback figures are marked source=fallback"
        return items, message

    # --- ERP ------------------------------------------------------------------------------------

    def _fetch_from_erp(
        self, request: PriceRequest, customer: str, misses: Sequence[_Wanted]
    ) -> tuple[dict[str, JsonValue], str | None]:
        """Ask the ERP for ``misses`` in chunks; return the values that arrived before the deadline
        and, if some did not, why."""
        ordered = sorted(misses, key=lambda w: (w.item.product_id, w.item.variant_id, w.item.unit))
        size = self._policy.max_products_per_request
        chunks = [ordered[i : i + size] for i in range(0, len(ordered), size)]
        futures = [self._pool().submit(self._fetch_chunk, request, customer, chunk) for chunk in chunks]
        _, not_done = wait(futures, timeout=self._policy.deadline_s)
        fetched: dict[str, JsonValue] = {}
        failure: str | None = None
        for future in futures:
            if future in not_done:
                failure = f"no answer within {self._policy.deadline_s:g} s"
                continue
            error = future.exception()
            if error is not None:
                failure = describe(error)
                continue
            fetched.update(future.result())
        if not_done:
            log.warning("ERP price request slower than the deadline; answering from fallbacks")
        return fetched, failure

    def _fetch_chunk(
        self, request: PriceRequest, customer: str, chunk: Sequence[_Wanted]
    ) -> dict[str, JsonValue]:
        values = self._ask_erp(request, customer, chunk, RequestKind.PRODUCT_INFO)
        self._cache.put_many(
            (
                (key, value, self._policy.ttl_s if value["found"] else self._policy.negative_ttl_s)
                for key, value in values.items()
            ),
            keep_for_s=self._policy.keep_stale_s,
        )
        return values

    def _ask_erp(
        self, request: PriceRequest, customer: str, chunk: Sequence[_Wanted], kind: RequestKind
    ) -> dict[str, JsonValue]:
        """One product-info request for ``chunk``: each item's cacheable value, by its key."""
        from erpbridge.protocol.request_builders import (
            ProductQuery,
            build_product_info_request,
            product_identifier,
        )
        from erpbridge.protocol.response_parsers import parse_product_info

        queries = [
            ProductQuery(
                product_id=w.item.product_id,
                variant_id=w.item.variant_id,
                number=w.item.product_id,
                unit_id=w.item.unit,
                language_id=request.language,
                quantity=w.item.quantity,
                custom_fields=w.item.custom_fields,
            )
            for w in chunk
        ]
        currency = "" if request.currency == (self._policy.local_currency or "") else request.currency
        xml = build_product_info_request(
            queries,
            customer_number=customer,
            anonymous_user_key=self._policy.anonymous_user_key,
            currency_code=currency,
            vat_country_code=request.vat_country,
            vat_posting_group=request.vat_posting_group,
            unit_prices=self._policy.unit_prices,
        )
        infos = parse_product_info(
            self._erp.call(xml, kind=kind),
            anonymous_user_key=self._policy.anonymous_user_key,
        )
        now = self._now()
        as_of = now.timestamp()
        values: dict[str, JsonValue] = {}
        for w, query in zip(chunk, queries, strict=True):
            info = infos.get(product_identifier(query, unit_prices=self._policy.unit_prices))
            value = _value_from_info(info, w.item.quantity, as_of)
            value[_FRAGMENT] = _item_json(w.item, value, now)
            values[w.key] = value
        return values

    def _pool(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self._policy.parallel_chunks, thread_name_prefix="erp-prices"
                )
            return self._executor

    # --- fallbacks ------------------------------------------------------------------------------

    def _fallbacks(
        self, request: PriceRequest, unanswered: Sequence[_Wanted], hits: dict[str, Any], failure: str | None
    ) -> dict[str, dict[str, Any]]:
        """Answers from the degradation policy's fallback sources, tried in its order (a source's
        item without a price is kept only if no later source has one), stock as the policy says."""
        degradation = self._policy.degradation
        if not degradation.prices:
            raise DegradedRefusalError(
                "prices", failure or "no answer", retry_after_s=degradation.retry_after_s
            )
        answers: dict[str, dict[str, Any]] = {}
        remaining = list(unanswered)
        for source in degradation.prices:
            if source is PriceFallback.CACHE_STALE:
                for w in remaining:
                    hit = hits.get(w.key)
                    if hit is not None:  # stale (or invalidated) but better than nothing, and labelled so
                        answers[w.key] = self._item_from_cache(w.item, hit.value, PriceSource.FALLBACK)
                        answers[w.key][_ORIGIN] = source
            else:
                answers.update(
                    (key, {**answer, _ORIGIN: source})
                    for key, answer in self._from_shop(request, remaining).items()
                )
            remaining = [w for w in remaining if w.key not in answers or answers[w.key]["found"] is not True]
        now = self._now()
        for w in unanswered:
            if w.key not in answers:
                answers[w.key] = {
                    **_unpriced(w.item, now),
                    "reason": "no fallback source has a figure (ERPBRIDGE_DEGRADE_PRICES)",
                }
        for item in answers.values():
            _degrade_stock(item, degradation.stock, now)
        return answers

    def _from_shop(self, request: PriceRequest, from_shop: Sequence[_Wanted]) -> dict[str, dict[str, Any]]:
        answers: dict[str, dict[str, Any]] = {}
        if not from_shop:
            return answers
        data: ShopPriceData | None = None
        if self._shop_prices is not None:
            try:
                data = self._shop_prices.read(
                    [w.item.product_id for w in from_shop],
                    customer_number=request.customer_number,
                    shop_id=request.shop_id,
                )
            except Exception:  # the fallback of a fallback must not turn a degraded answer into a 500
                log.exception("shop database price lookup failed")
        if data is not None and data.local_currency is None and self._policy.local_currency:
            data = dataclasses.replace(data, local_currency=self._policy.local_currency)
        now = self._now()
        for w in from_shop:
            price: ShopPrice | NoShopPrice = (
                NoShopPrice("the shop database could not be read")
                if data is None
                else shop_price(
                    data,
                    product_id=w.item.product_id,
                    variant_id=w.item.variant_id,
                    unit=w.item.unit,
                    quantity=w.item.quantity,
                    currency=request.currency,
                    customer_number=request.customer_number,
                    shop_id=request.shop_id,
                    today=now.date(),
                )
            )
            found = isinstance(price, ShopPrice)
            answers[w.key] = {
                **_unpriced(w.item, now),
                # null: nothing could be asked (no shop database); false: it holds no matching price
                "found": found if data is not None else None,
                "price": price.price if isinstance(price, ShopPrice) else None,
                "price_with_vat": price.price_with_vat if isinstance(price, ShopPrice) else None,
                "stock": price.stock if isinstance(price, ShopPrice) else None,
                "as_of": price.as_of if isinstance(price, ShopPrice) and price.as_of is not None else now,
                "reason": price.reason if isinstance(price, NoShopPrice) else None,
            }
        return answers

    # --- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _key(prefix: str, item: PriceItemRequest) -> str:
        """``prefix`` = the request's customer, currency, shop and language (see get_prices)."""
        quantity = quantity_text(item.quantity)
        if item.custom_fields:  # the ERP may answer differently for other field values
            fields = fingerprint(item.custom_fields)
            return cache_key(prefix, item.product_id, item.variant_id, item.unit, quantity, fields)
        body = f"{item.product_id}|{item.variant_id}|{item.unit}|{quantity}"
        if "%" in body or body.count("|") != 3:  # a part needs cache_key's escaping (rare)
            return cache_key(prefix, item.product_id, item.variant_id, item.unit, quantity)
        return f"{prefix}|{body}"

    @staticmethod
    def _item_from_cache(item: PriceItemRequest, value: JsonValue, source: PriceSource) -> dict[str, Any]:
        """The response item for a cached value (``as_of`` stays epoch seconds: pydantic reads it)."""
        return {
            **value,
            "product_id": item.product_id,
            "variant_id": item.variant_id,
            "unit": item.unit,
            "quantity": item.quantity,
            "source": source,
        }


def _unpriced(item: PriceItemRequest, now: datetime) -> dict[str, Any]:
    """A fallback item without figures (sources fill in what they have)."""
    return {
        "product_id": item.product_id,
        "variant_id": item.variant_id,
        "unit": item.unit,
        "quantity": item.quantity,
        "found": None,
        "price": None,
        "price_with_vat": None,
        "stock": None,
        "source": PriceSource.FALLBACK,
        "as_of": now,
        "reason": None,
        "custom_fields": {},
    }


def _degrade_stock(item: dict[str, Any], policy: StockWhenDown, now: datetime) -> None:
    """A fallback item's stock as the policy says: the last known figure with its age, or none."""
    if policy is StockWhenDown.LAST_KNOWN and item.get("stock") is not None:
        as_of = item["as_of"]
        then = as_of if isinstance(as_of, datetime) else datetime.fromtimestamp(float(as_of), UTC)
        then = then if then.tzinfo is not None else then.replace(tzinfo=UTC)
        item["stock_status"] = "last_known"
        item["stock_age_s"] = max(0.0, round((now - then).total_seconds(), 1))
        return
    item["stock"] = None
    item["stock_status"] = "hidden" if policy is StockWhenDown.HIDE else "unknown"


def _envelope(request: PriceRequest, items: list[dict[str, Any]], message: str | None) -> dict[str, Any]:
    return {
        "customer_number": request.customer_number,
        "currency": request.currency,
        "shop_id": request.shop_id,
        "language": request.language,
        "vat_country": request.vat_country,
        "vat_posting_group": request.vat_posting_group,
        "items": items,
        "degraded": message is not None,
        "message": message,
    }


class _QuantityPriceJson(TypedDict):
    quantity: Amount
    price: Amount | None
    price_with_vat: Amount | None
    unit: str


class _PriceItemJson(TypedDict):
    """PriceItem's fields in PriceItem's order (a TypedDict is written in insertion order)."""

    product_id: str
    variant_id: str
    unit: str
    quantity: Amount
    found: bool | None
    price: Amount | None
    price_with_vat: Amount | None
    stock: Amount | None
    default_unit: str
    quantity_prices: list[_QuantityPriceJson]
    source: PriceSource
    as_of: datetime
    reason: str | None
    stock_status: str
    stock_age_s: float | None
    custom_fields: dict[str, str | None]


# An ERP answer is rendered once, when it arrives, and its JSON cached beside its data. The data
# are ours (parsed, Decimal-checked numbers as text), so they are serialised with PriceItem's own
# field types (Amount → JSON number, as_of → ISO 8601) without validating a PriceItem model per
# item — the same bytes (tests/live compare them) at about half the cost.
@functools.cache
def _item_serializer() -> Any:
    return TypeAdapter(_PriceItemJson).serializer  # built on first use: not at cold import


def _item_json(item: PriceItemRequest, value: dict[str, JsonValue], as_of: datetime) -> str:
    rendered: _PriceItemJson = {
        "product_id": item.product_id,
        "variant_id": item.variant_id,
        "unit": item.unit,
        "quantity": item.quantity,
        "found": value["found"],
        "price": value["price"],
        "price_with_vat": value["price_with_vat"],
        "stock": value["stock"],
        "default_unit": value.get("default_unit", ""),
        "quantity_prices": value.get("quantity_prices", []),
        "source": PriceSource.ERP,
        "as_of": as_of,
        "reason": reason if isinstance(reason := value.get("reason"), str) else None,
        "stock_status": "current",
        "stock_age_s": None,
        "custom_fields": value.get("custom_fields", {}),
    }
    return str(_item_serializer().to_json(rendered).decode())


def _value_from_info(info: ProductInfo | None, quantity: Decimal, as_of: float) -> dict[str, JsonValue]:
    """The cacheable form of one ERP answer (None = the ERP does not know the product)."""
    if info is None:
        return {
            "found": False,
            "price": None,
            "price_with_vat": None,
            "stock": None,
            "as_of": as_of,
            "reason": UNKNOWN_TO_ERP,
        }
    # Stored in the response's own shape, so a cache hit is a dict merge, not a conversion.
    price, price_with_vat = info.price, info.price_with_vat
    if price is None:
        # No list price: the quantity-break row with the largest quantity not above the request.
        eligible = [
            q for q in info.quantity_prices if (q.quantity or Decimal(1)) <= max(quantity, Decimal(1))
        ]
        if eligible:
            best = max(eligible, key=lambda q: q.quantity or Decimal(1))
            price, price_with_vat = best.amount, best.amount_with_vat
    return {
        "found": True,
        "price": _number(price),
        "price_with_vat": _number(price_with_vat),
        "stock": _number(info.stock),
        "default_unit": info.default_unit_id or "",
        "quantity_prices": [
            {
                "quantity": str(q.quantity or 1),
                "price": _number(q.amount),
                "price_with_vat": _number(q.amount_with_vat),
                "unit": q.unit_id or "",
            }
            for q in info.quantity_prices
        ],
        "as_of": as_of,
        "custom_fields": dict(info.custom_fields),
    }
