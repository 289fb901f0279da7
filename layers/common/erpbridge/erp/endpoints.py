"""Which ERP endpoint serves a request: the endpoint map (docs/erp-endpoints.md).

The default endpoint is the one the ``ERPBRIDGE_ERP_*`` settings describe;
``ERPBRIDGE_ERP_ENDPOINTS`` adds more by name, each serving some shops (and, optionally, only
some of their currencies). A request for (shop, currency) goes to the entry naming both, else to
the entry naming the shop with no currencies, else to the default endpoint (a shop's other
currencies too), which serves the shop ``""`` (no shop given), the shops of
``ERPBRIDGE_ERP_DEFAULT_SHOPS`` and, when that list is empty, every shop no entry names. With the
list set, any other shop is refused (:class:`~erpbridge.errors.UnknownShopError`).

Each endpoint gets its own client, breaker, limiter principal, cache namespace and health line; the
wiring builds them (:mod:`erpbridge.wiring.orders`). Without the map there is one endpoint, named
``default``, and erpbridge behaves as it always did.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from erpbridge.errors import ConfigurationError, UnknownShopError
from erpbridge.settings import ErpSettings, Settings, endpoint_erp_settings

DEFAULT_ENDPOINT = "default"


@dataclass(frozen=True, slots=True)
class ErpEndpoint:
    name: str
    settings: ErpSettings
    shops: frozenset[str] = frozenset()
    currencies: frozenset[str] = frozenset()  # empty: every currency of its shops

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_ENDPOINT

    @property
    def cache_namespace(self) -> str:
        """The prefix of this endpoint's cache keys ("" for the default: the keys it always had)."""
        return "" if self.is_default else f"ep={self.name}|"

    @property
    def breaker_name(self) -> str:
        """The breaker's name; the default's is "erp" (the name the shared breaker table holds)."""
        return "erp" if self.is_default else f"erp:{self.name}"


class EndpointMap:
    """The endpoints by name, and the one rule that picks one for a shop and currency."""

    def __init__(
        self, default: ErpEndpoint, others: tuple[ErpEndpoint, ...] = (), *, strict: bool = False
    ) -> None:
        self.default = default
        self._by_name = {default.name: default, **{e.name: e for e in others}}
        self._strict = strict  # ERPBRIDGE_ERP_DEFAULT_SHOPS is set: unnamed shops are unknown
        self._routes: dict[tuple[str, str | None], ErpEndpoint] = {}
        for endpoint in others:
            for shop in endpoint.shops:
                for currency in endpoint.currencies or (None,):
                    taken = self._routes.setdefault((shop, currency), endpoint)
                    if taken is not endpoint:
                        what = f"shop {shop!r}" + (f" in {currency}" if currency else "")
                        raise ConfigurationError(
                            f"ERPBRIDGE_ERP_ENDPOINTS: {what} is served by both {taken.name!r} "
                            f"and {endpoint.name!r}"
                        )
        self._known = frozenset(shop for e in self._by_name.values() for shop in e.shops)
        clash = sorted(shop for shop in default.shops if (shop, None) in self._routes)
        if clash:
            raise ConfigurationError(
                f"ERPBRIDGE_ERP_DEFAULT_SHOPS names {', '.join(clash)}, "
                "which ERPBRIDGE_ERP_ENDPOINTS serves too"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> EndpointMap:
        if DEFAULT_ENDPOINT in settings.erp_endpoints:
            raise ConfigurationError(
                f"ERPBRIDGE_ERP_ENDPOINTS: {DEFAULT_ENDPOINT!r} is the ERPBRIDGE_ERP_* endpoint's name; "
                "choose another"
            )
        others = tuple(
            ErpEndpoint(
                name,
                endpoint_erp_settings(settings, name, entry),
                shops=frozenset(_routing(entry, "shops") or (name,)),
                currencies=frozenset(c.upper() for c in _routing(entry, "currencies")),
            )
            for name, entry in settings.erp_endpoints.items()
        )
        default = ErpEndpoint(DEFAULT_ENDPOINT, settings, shops=frozenset(settings.erp_default_shops))
        return cls(default, others, strict=bool(settings.erp_default_shops))

    def __iter__(self) -> Iterator[ErpEndpoint]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def named(self, name: str) -> ErpEndpoint:
        return self._by_name[name]

    def known_shops(self) -> tuple[str, ...]:
        return tuple(sorted(self._known))

    def for_shop(self, shop_id: str | None, currency: str | None = None) -> ErpEndpoint:
        """The endpoint of a request for ``shop_id`` (None or "": the default shop) in ``currency``."""
        if not shop_id:
            return self.default
        if currency:
            found = self._routes.get((shop_id, currency.upper()))
            if found is not None:
                return found
        found = self._routes.get((shop_id, None))
        if found is not None:
            return found
        if self._strict and shop_id not in self._known:  # a known shop in another currency: default
            raise UnknownShopError(shop_id, self.known_shops())
        return self.default


def _routing(entry: dict[str, object], key: str) -> list[str]:
    for name, value in entry.items():
        if name.lower() == key:
            return list(value) if isinstance(value, list) else []
    return []
