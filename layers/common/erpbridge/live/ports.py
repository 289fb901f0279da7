"""Ports of the live use cases: what they need from the outside world, as typing.Protocol.

Adapters (``erpbridge.adapters``) implement them for AWS (DynamoDB, S3), for the shop database
(SQLAlchemy: SQLite, PostgreSQL) and for a laptop (memory, files). Use cases never import an
adapter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from erpbridge.live.models import OrderStatus

JsonValue = Any  # a JSON-compatible value (dict/list/str/int/float/bool/None)


class ErpStatusView(Protocol):
    """What the ERP client reports about the ERP (cached by the client)."""

    @property
    def reachable(self) -> bool: ...
    @property
    def checked_at(self) -> datetime | None: ...
    @property
    def breaker_state(self) -> Any: ...
    @property
    def last_success(self) -> datetime | None: ...
    @property
    def condition(self) -> str: ...  # ok, misconfigured, unreachable, slow, busy
    @property
    def reason(self) -> str | None: ...
    @property
    def setting(self) -> str | None: ...
    @property
    def endpoint(self) -> str: ...


class LiveErp(Protocol):
    """The ERP as the live use cases see it: one request XML in, the inner response string out.

    ``kind`` is an ``erpbridge.erp.ports.RequestKind``; it decides retry policy in the client
    (create/export are never retried blindly) and the error raised after a timeout.
    """

    def call(self, request_xml: bytes, *, kind: Any) -> str: ...

    def status(self) -> ErpStatusView: ...


class ErpRouter(Protocol):
    """The ERP endpoints (:mod:`erpbridge.erp.endpoints`): an order is stored with the name of its
    shop's endpoint, and sent, re-sent and looked up there."""

    def endpoint_of(self, shop_id: str, currency: str | None) -> str:
        """The name of the endpoint serving the shop in the currency (UnknownShopError: none)."""
        ...

    def erp_for(self, shop_id: str, currency: str | None, endpoint: str = "") -> LiveErp:
        """The endpoint named ``endpoint`` while it is configured, else the shop's."""
        ...


# --- caches -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CacheRecord:
    """One cached value. ``fresh_until`` ends normal use; the record may be kept longer (up to
    ``keep_until``) so it can still serve as a labelled fallback while the ERP is down."""

    key: str
    value: JsonValue
    stored_at: float  # epoch seconds
    fresh_until: float
    keep_until: float

    def is_fresh(self, now: float) -> bool:
        return now < self.fresh_until


class CacheStore(Protocol):
    """A shared key/value store with expiry (DynamoDB with TTL in AWS, memory locally)."""

    def get_many(self, keys: Sequence[str]) -> dict[str, CacheRecord]: ...

    def put_many(self, records: Sequence[CacheRecord]) -> None: ...

    def delete_many(self, keys: Sequence[str]) -> None: ...


# --- object store -----------------------------------------------------------------------------


class XmlCopyStore(Protocol):
    """Where request/response XML copies are kept (S3 in AWS, a folder locally)."""

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "application/xml") -> str:
        """Store ``data`` under ``key``; return the key (or a URI) to record in the timeline."""
        ...

    def get_bytes(self, key: str) -> bytes: ...


# --- shop database ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShopPrice:
    """A batch-imported price the shop database holds for exactly what was asked (currency, unit,
    customer, quantity, today)."""

    price: Decimal | None
    price_with_vat: Decimal | None
    stock: Decimal | None
    as_of: datetime | None


@dataclass(frozen=True, slots=True)
class NoShopPrice:
    """The shop database has no price that matches the request; ``reason`` says which part did not."""

    reason: str


@dataclass(frozen=True, slots=True)
class ShopPriceRow:
    """One ``EcomPrices`` row (blank fields apply to everyone, as in Business Central)."""

    product_id: str
    variant_id: str
    unit: str
    currency: str
    quantity: Decimal | None
    amount: Decimal | None
    with_vat: bool
    customer_number: str
    price_group: str
    user_id: str
    shop_id: str
    valid_from: date | None
    valid_to: date | None


@dataclass(frozen=True, slots=True)
class ShopProduct:
    """The ``EcomProducts`` figures a fallback may use (the list price is in the local currency
    and the product's default unit)."""

    list_price: Decimal | None
    default_unit: str
    stock: Decimal | None
    updated: datetime | None


@dataclass(frozen=True, slots=True)
class ShopPriceData:
    """What the shop database knows about some products' prices, for one customer and shop."""

    rows: Mapping[str, Sequence[ShopPriceRow]]  # by product id
    products: Mapping[tuple[str, str], ShopProduct]  # by (product id, variant id)
    customer_groups: frozenset[str]  # the customer's price groups (AccessUserGroups)
    local_currency: str | None  # EcomCurrencies' default currency, when the shop has one


class ShopPrices(Protocol):
    def read(self, product_ids: Sequence[str], *, customer_number: str | None, shop_id: str) -> ShopPriceData:
        """The price rows, products and customer groups that can apply to ``product_ids``."""
        ...


class OrderState(StrEnum):
    RECEIVED = "received"  # stored in the shop database, not sent yet
    SENDING = "sending"  # a create request is on its way (a crash here means: unknown)
    CREATED = "created"  # the ERP holds the sales order; erp_order_id is set
    QUEUED = "queued"  # not in the ERP; Export Failed Orders will send it
    UNKNOWN = "unknown"  # sent, no answer: must be looked up before any re-send
    DEAD_LETTER = "dead_letter"  # gave up after K failed attempts; an operator must look
    REJECTED = "rejected"  # the ERP refused it (its message kept): never sent again on its own
    DECLINED = "declined"  # not sent, the ERP was down and checkout refuses then (503): never exported


def fingerprint(body: Mapping[str, JsonValue]) -> str:
    """The canonical hash of an order body (:attr:`StoredOrder.fingerprint`, the idempotency
    record's): the same order sent twice has the same fingerprint, whatever its key order."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(slots=True)
class StoredOrder:
    order_id: str
    customer_number: str | None
    currency: str
    shop_id: str
    body: Mapping[str, JsonValue]  # the validated order request (JSON), source of every re-send
    fingerprint: str
    state: OrderState
    erp_endpoint: str = ""  # the ERP endpoint's name ("" before m0120: the shop's endpoint)
    erp_order_id: str | None = None
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    result: Mapping[str, JsonValue] | None = None  # totals and priced lines after creation


class OrderTrigger(StrEnum):
    """What started an attempt on an order (stored as is in the attempts table)."""

    API = "api"  # POST /v1/orders
    EXPORT = "export"  # Export Failed Orders, the scheduled task
    RESEND = "resend"  # an operator's re-send
    OPERATOR = "operator"  # a re-send requested in the admin console (recorded, then sent by resend)


class AttemptOutcome(StrEnum):
    """How one attempt ended (stored as is in the attempts table)."""

    CREATED = "created"  # the ERP created the sales order
    REJECTED = "rejected"  # the ERP refused the order's content
    DECLINED = "declined"  # not sent: the ERP was down and checkout refuses then
    NOT_SENT = "not_sent"  # the ERP was not reached (down, busy, credentials)
    ERP_ERROR = "erp_error"  # the ERP answered with a fault
    UNKNOWN = "unknown"  # sent, no usable answer: it may exist
    INVALID = "invalid"  # the stored order data cannot be sent
    LOOKUP_FAILED = "lookup_failed"  # the ERP could not be asked whether it holds the order
    FOUND_IN_ERP = "found_in_erp"
    NOT_FOUND_IN_ERP = "not_found_in_erp"
    RESEND_REQUESTED = "resend_requested"  # an operator asked for a re-send


@dataclass(frozen=True, slots=True)
class Attempt:
    at: datetime
    trigger: OrderTrigger
    outcome: AttemptOutcome
    erp_message: str | None = None
    erp_order_id: str | None = None
    duration_ms: int | None = None
    request_xml: str | None = None
    response_xml: str | None = None


@dataclass(frozen=True, slots=True)
class ExportClaim:
    order_id: str
    token: str


class OrderStore(Protocol):
    """Orders in the shop database (EcomOrders/EcomOrderLines) plus erpbridge's export state."""

    def add(self, order: StoredOrder) -> StoredOrder:
        """Insert a new order; if ``order_id`` exists, return the stored one unchanged."""
        ...

    def get(self, order_id: str) -> StoredOrder | None: ...

    def set_state(
        self,
        order_id: str,
        state: OrderState,
        *,
        erp_order_id: str | None = None,
        error: str | None = None,
        count_attempt: bool = False,
        result: Mapping[str, JsonValue] | None = None,
    ) -> None: ...

    def add_attempt(self, order_id: str, attempt: Attempt) -> None: ...

    def attempts(self, order_id: str) -> list[Attempt]: ...

    def claim_for_export(
        self, *, older_than: datetime, limit: int, max_attempts: int, owner: str, claim_for_s: float
    ) -> list[ExportClaim]:
        """Claim up to ``limit`` orders waiting for export so no other worker takes them."""
        ...

    def claim_one(self, order_id: str, *, owner: str, claim_for_s: float) -> ExportClaim | None: ...

    def release(self, claim: ExportClaim) -> None: ...

    def counts(self) -> Mapping[OrderState, int]: ...


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    key: str
    fingerprint: str
    outcome: OrderStatus | None  # the first answer's status; None while its request still runs
    response: Mapping[str, JsonValue] | None


class IdempotencyStore(Protocol):
    def begin(self, key: str, fingerprint: str, *, lock_s: float) -> IdempotencyRecord | None:
        """Claim ``key``. None = claimed (go ahead); else the record someone else made first.

        A record still running past ``lock_s`` is taken over (its worker died)."""
        ...

    def complete(self, key: str, outcome: OrderStatus, response: Mapping[str, JsonValue]) -> None:
        """Keep the first answer: its status and the body replayed to a retry."""
        ...

    def abandon(self, key: str) -> None:
        """Forget an unfinished claim (the request failed before anything was stored)."""
        ...

    def purge(self, *, older_than: datetime) -> int:
        """Delete finished records created before ``older_than``; returns how many."""
        ...


@dataclass(frozen=True, slots=True)
class Metric:
    """A count, or a duration with ``unit="Milliseconds"`` (CloudWatch unit names)."""

    name: str
    value: float = 1.0
    unit: str = "Count"


class MetricsSink(Protocol):
    def emit(self, metric: Metric) -> None: ...
