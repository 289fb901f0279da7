"""The price audit's values: what is probed, the figures each side gives, what the sample is drawn
from. Both the audit (:mod:`erpbridge.batch.price_audit`) and its ports
(:mod:`erpbridge.batch.ports`) speak in them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class Origin(StrEnum):
    """What produced the figure compared with BC's quote."""

    FRESH = "fresh"  # the API asked the ERP just now
    CACHED = "cached"  # a fresh cache entry
    STALE = "stale"  # an expired cache entry, served as a fallback
    FALLBACK = "fallback"  # the shop database's price served as a fallback (or no figure at all)
    BATCH = "batch"  # the shop database's batch-imported price, checked whatever the API served


SERVED_ORIGINS = (Origin.FRESH, Origin.CACHED, Origin.STALE, Origin.FALLBACK)


class Outcome(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    MISSING = "missing"
    NOT_QUOTED = "not_quoted"


@dataclass(frozen=True, order=True)
class Probe:
    """One priced combination. ``customer`` None: anonymous; ``currency`` as the shop spells it;
    ``shop`` "": the default shop (a request without ``shop_id``)."""

    customer: str | None
    currency: str
    product_id: str
    variant_id: str
    unit: str
    quantity: Decimal
    shop: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "shop": self.shop,
            "customer": self.customer,
            "currency": self.currency,
            "product_id": self.product_id,
            "variant_id": self.variant_id,
            "unit": self.unit,
            "quantity": amount_text(self.quantity),
        }


@dataclass(frozen=True)
class Figure:
    """A price as one side gives it (no amount: not found, or no source had one)."""

    price: Decimal | None = None
    price_with_vat: Decimal | None = None


@dataclass(frozen=True)
class Served:
    origin: Origin
    figure: Figure


@dataclass(frozen=True)
class Quote:
    """BC's answer for one probe, or why there is none (``error``)."""

    figure: Figure | None
    error: str | None = None


@dataclass(frozen=True)
class ProductRef:
    product_id: str
    variant_id: str = ""
    unit: str = ""


@dataclass(frozen=True)
class Candidates:
    """What the sample is drawn from (read from the shop database), for one shop."""

    customers: Sequence[str | None]  # None: anonymous
    products: Sequence[ProductRef]
    currencies: Sequence[str]
    price_breaks: Mapping[str, Sequence[Decimal]] = field(default_factory=dict)  # product → quantities > 1
    shop: str = ""
    whole_catalogue: bool = True  # False: the shop's own products; True: every product (none recorded)


def amount_text(value: Decimal | None) -> str | None:
    """An amount as plain text (no exponent, no trailing zeros); None stays None."""
    return None if value is None else format(value.normalize(), "f")
