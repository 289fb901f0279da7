"""What each live capability does when the ERP cannot answer: a policy, read from the settings.

The ERP being down, busy, slow or failing (not refusing a request: that is always the ERP's
answer) leaves each capability a choice, made once per deployment (docs/degradation.md has the
trade-offs):

| capability | choices (default first) |
| --- | --- |
| prices | fallback sources in order (``cache-stale``, ``shop-prices``), or none: refuse (503) |
| stock | ``last-known`` (with its age), ``hide``, ``unknown`` |
| basket | ``estimate`` (erpbridge's sum, flagged ``estimate``), ``refuse`` (503) |
| checkout | ``queue`` (202, sent later), ``refuse`` (503; the order is kept as ``declined``) |
| documents | 503 (there is nothing to fall back to) |

Every refusal is 503 with ``Retry-After: retry_after_s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from erpbridge.errors import ErpError

if TYPE_CHECKING:
    from erpbridge.settings import DegradationSettings


def describe(error: BaseException) -> str:
    """Why the ERP could not answer, for the storefront: never a stack trace or a secret."""
    if isinstance(error, ErpError):
        return type(error).__name__.removesuffix("Error").replace("Erp", "ERP ").strip() or "ERP error"
    return "ERP request failed"


class PriceFallback(StrEnum):
    CACHE_STALE = "cache-stale"  # an expired cache entry (within the stale window)
    SHOP_PRICES = "shop-prices"  # the batch-imported price in the shop database


class StockWhenDown(StrEnum):
    LAST_KNOWN = "last-known"  # the fallback's stock figure, with its age
    HIDE = "hide"  # no figure, stock_status hidden: show nothing
    UNKNOWN = "unknown"  # no figure, stock_status unknown: show "availability unknown"


class BasketWhenDown(StrEnum):
    ESTIMATE = "estimate"
    REFUSE = "refuse"


class CheckoutWhenDown(StrEnum):
    QUEUE = "queue"
    REFUSE = "refuse"


@dataclass(frozen=True)
class DegradationPolicy:
    """The choices of ``ERPBRIDGE_DEGRADE_*``; the defaults are the settings' (:meth:`from_settings`)."""

    prices: tuple[PriceFallback, ...]
    stock: StockWhenDown
    basket: BasketWhenDown
    checkout: CheckoutWhenDown
    retry_after_s: float

    @classmethod
    def from_settings(cls, settings: DegradationSettings) -> DegradationPolicy:
        """The policy of ``ERPBRIDGE_DEGRADE_*`` (validated by the settings model)."""
        prices = settings.degrade_prices
        return cls(
            prices=() if prices == "refuse" else tuple(dict.fromkeys(map(PriceFallback, prices.split(",")))),
            stock=StockWhenDown(settings.degrade_stock),
            basket=BasketWhenDown(settings.degrade_basket),
            checkout=CheckoutWhenDown(settings.degrade_checkout),
            retry_after_s=settings.degrade_retry_after_s,
        )
