"""Two-level cache: a small in-memory layer per container over a shared store.

The shared store (DynamoDB in AWS) is what makes a cached price visible to every container; the
local layer saves its round trip for hot keys. Records carry two deadlines: ``fresh_until`` (the
TTL; a fresh record is served as ``cache``) and ``keep_until`` (how long a stale record may still be
served as a labelled ``fallback`` while the ERP is down).

An ERP endpoint other than the default one has its own *namespace* (:meth:`TieredCache.namespaced`,
a key prefix over the same stores): two ERPs never answer from each other's records. Stamps are not
prefixed: invalidating a shop's product marks it stale whichever endpoint cached it, and a batch
import's stamp (``namespace_stamp_key("")``, below) covers every endpoint's records.

Invalidation (after an order, the ordered products' prices and stock are stale) writes one
*stamp* per product instead of finding every (customer, unit, quantity) key: a record stored
before its product's stamp is treated as expired. Stamps are read in the same round trip as the
records, so invalidation costs no extra call.

A batch import of prices or stock makes *every* cached figure of its namespace stale at once: it
writes the namespace's stamp (:meth:`TieredCache.invalidate_namespace`), which lookups that name it
(``namespace_stamp``) read in the same round trip — one key per request, not per item. Stale
records stay usable as labelled fallbacks while the ERP is down (docs/commerce-context.md).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from erpbridge.live.ports import CacheRecord, CacheStore, JsonValue

STAMP_PREFIX = "stamp|"


def _escape(part: object) -> str:
    text = str(part)
    if "%" in text or "|" in text:
        return text.replace("%", "%25").replace("|", "%7C")
    return text


def cache_key(kind: str, *parts: object) -> str:
    """A readable key; '%' and '|' inside a value are percent-encoded, so parts cannot collide.
    ``kind`` may itself be a key built here (a prefix shared by many keys)."""
    body = "|".join(map(str, parts))
    if "%" in body or body.count("|") != len(parts) - 1:  # some part needs escaping (rare)
        body = "|".join(map(_escape, parts))
    return f"{kind}|{body}" if parts else kind


@functools.lru_cache(maxsize=8192)  # every price lookup needs one per item; the catalogue repeats
def product_stamp_key(shop_id: str, product_id: str) -> str:
    return STAMP_PREFIX + cache_key("p", shop_id, product_id)


def namespace_stamp_key(namespace: str = "") -> str:
    """The stamp a batch import writes for every live figure of ``namespace`` (the cache namespace
    of one ERP endpoint; "" = the default)."""
    return STAMP_PREFIX + cache_key("ns", namespace)


class CacheHit(NamedTuple):  # a NamedTuple: a 50-item lookup makes 50, built at C speed
    value: JsonValue
    stored_at: float
    fresh: bool


class TieredCache:
    def __init__(
        self,
        *,
        local: CacheStore,
        shared: CacheStore | None,
        local_ttl_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._local = local
        self._shared = shared
        self._local_ttl_s = local_ttl_s
        self._clock = clock
        self._namespace = ""
        self._base = self  # the un-prefixed cache a namespaced view reads and writes through

    def namespaced(self, namespace: str) -> TieredCache:
        """This cache's stores, with every record key (not the stamps) prefixed by ``namespace``."""
        if not namespace:
            return self
        view = TieredCache(
            local=self._local, shared=self._shared, local_ttl_s=self._local_ttl_s, clock=self._clock
        )
        view._namespace = self._namespace + namespace
        view._base = self._base
        return view

    def get_many(
        self,
        keys: Sequence[str],
        *,
        stamps: dict[str, str] | None = None,
        namespace_stamp: str | None = None,
    ) -> dict[str, CacheHit]:
        """Look ``keys`` up. ``stamps`` maps a key to its product's stamp key; a record stored
        before ``namespace_stamp`` (a :func:`namespace_stamp_key`) is stale too (see module doc)."""
        if self._namespace:
            prefix = self._namespace
            inner = {prefix + key: key for key in keys}
            stamped = {prefix + key: stamp for key, stamp in (stamps or {}).items()}
            found = self._base.get_many(list(inner), stamps=stamped, namespace_stamp=namespace_stamp)
            return {inner[key]: hit for key, hit in found.items()}
        now = self._clock()
        stamps = stamps or {}
        extra = () if namespace_stamp is None else (namespace_stamp,)
        wanted = list(dict.fromkeys([*keys, *stamps.values(), *extra]))
        records = self._local.get_many(wanted)
        missing = [key for key in wanted if key not in records]
        if missing and self._shared is not None:
            from_shared = self._shared.get_many(missing)
            # Most products have no stamp: remember that locally too (for the local layer's short
            # lifetime), or every request would ask the shared store for 50 absent stamps.
            absent = [
                CacheRecord(key, None, now, now + self._local_ttl_s, now + self._local_ttl_s)
                for key in missing
                if key.startswith(STAMP_PREFIX) and key not in from_shared
            ]
            if from_shared or absent:
                self._local.put_many([self._localised(r, now) for r in from_shared.values()] + absent)
                records.update(from_shared)
        hits: dict[str, CacheHit] = {}
        whole = None if namespace_stamp is None else records.get(namespace_stamp)
        since = float(whole.value) if whole is not None and whole.value is not None else None
        for key in keys:
            record = records.get(key)
            if record is None or record.keep_until <= now:
                continue
            stamp_key = stamps.get(key)
            stamp = None if stamp_key is None else records.get(stamp_key)
            invalidated = (
                stamp is not None and stamp.value is not None and float(stamp.value) >= record.stored_at
            ) or (since is not None and since >= record.stored_at)
            hits[key] = CacheHit(
                record.value, record.stored_at, fresh=record.is_fresh(now) and not invalidated
            )
        return hits

    def put_many(self, values: Iterable[tuple[str, JsonValue, float]], *, keep_for_s: float) -> None:
        """Store (key, value, ttl_s) triples; each is kept ``keep_for_s`` beyond its TTL as fallback."""
        if self._namespace:
            prefix = self._namespace
            self._base.put_many(((prefix + k, v, ttl) for k, v, ttl in values), keep_for_s=keep_for_s)
            return
        now = self._clock()
        records = [
            CacheRecord(key, value, now, now + ttl_s, now + ttl_s + keep_for_s)
            for key, value, ttl_s in values
        ]
        if not records:
            return
        self._local.put_many([self._localised(record, now) for record in records])
        if self._shared is not None:
            self._shared.put_many(records)

    def invalidate_products(self, shop_id: str, product_ids: Iterable[str], *, ttl_s: float) -> None:
        """Mark every cached entry of these products stale (all customers, units, quantities)."""
        self._stamp(
            [product_stamp_key(shop_id, product_id) for product_id in sorted(set(product_ids))], ttl_s
        )

    def invalidate_namespace(self, namespace: str = "", *, ttl_s: float) -> None:
        """Mark every entry of ``namespace`` stale: all customers, products, baskets (a batch
        import changed prices or stock). Other containers see it within ``local_ttl_s``."""
        self._stamp([namespace_stamp_key(namespace)], ttl_s)

    def _stamp(self, keys: Sequence[str], ttl_s: float) -> None:
        """Write "stale before now" stamps; ``ttl_s`` must outlive every record a stamp can
        invalidate, fallback window included."""
        now = self._clock()
        stamps = [CacheRecord(key, now, now, now + ttl_s, now + ttl_s) for key in keys]
        self._local.put_many(stamps)
        if self._shared is not None:
            self._shared.put_many(stamps)

    def _localised(self, record: CacheRecord, now: float) -> CacheRecord:
        """The local copy lives at most ``local_ttl_s``, then the shared store is asked again, so
        another container's invalidation reaches this one within that time."""
        if self._shared is None:  # the local layer is the only store: keep the whole lifetime
            return record
        keep_until = min(record.keep_until, now + self._local_ttl_s)
        fresh_until = min(record.fresh_until, keep_until)
        return CacheRecord(record.key, record.value, record.stored_at, fresh_until, keep_until)
