"""Orders: never lost, never created twice.

The order is stored in the shop database *before* the ERP is asked, so a crash or an ERP outage
loses nothing. Every send (the API call, the scheduled Export Failed Orders task, an operator's
re-send) holds a claim on the order, so two workers never send the same order at once, and every
send is recorded in the order's timeline with copies of the request and response XML.

States (``erpbridge.live.ports.OrderState``)::

    received ──send──► sending ──ERP says created──────────────► created
                          ├──ERP refuses it (business rule)─────► rejected (422; operator re-sends)
                          ├──ERP down / busy / failed───────────► queued ──export task──► sending …
                          └──sent, no (usable) answer───────────► unknown ──resolve──► created | queued
    queued/unknown ──K counted failures──► dead_letter (alarm; operator re-sends)
    received ──ERP down, ERPBRIDGE_DEGRADE_CHECKOUT=refuse──► declined (503; the shop may retry it)

A refusal is the ERP answering "no" to this order's content (an unknown item or customer, a
blocked item: a SOAP fault of the application, or ``OrderCreated`` False with a reason; see
:func:`erpbridge.erp.soap.is_refusal`). Sending it again unchanged fails the same way, so the export
task never picks it up; the customer gets the ERP's message at once, and an operator who corrected
the cause (in BC or in the shop) re-sends it. Nothing of a refused order is in the ERP (the plug-in
unit's transaction rolled back), so a re-send needs no lookup.

An order in ``unknown`` (or found in ``sending`` by a later worker: its sender died) may already be
in the ERP. It is resolved before anything is re-sent, by asking the ERP for the customer's open
orders whose ``lookup_search_field`` holds the shop's order id (every page of matches, compared
exactly). The plug-in unit may not deduplicate creates, so the create is sent again only when the
lookup answered *not found* and the last send is older than ``unknown_settle_s`` (an ERP still busy
with a request the client gave up on commits it later). A lookup that fails leaves the order
``unknown``, unsent; it counts as a failed attempt when the ERP answered (fault, timeout) and not
when it was not reached. With no search field configured the create is re-sent at once, which is
only safe with a plug-in unit that treats creates idempotently on ``OrderId``.

Failed attempts that never reached the ERP (down, busy, breaker open) are in the timeline but do
not count towards the dead-letter limit: an ERP outage of a day must not dead-letter every order.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from erpbridge.erp.ports import RequestKind
from erpbridge.errors import (
    ErpAuthError,
    ErpBridgeError,
    ErpBusyError,
    ErpFaultError,
    ErpRejectedError,
    ErpUnavailableError,
    ProtocolError,
)
from erpbridge.live.cache import TieredCache
from erpbridge.live.degradation import CheckoutWhenDown, DegradationPolicy, describe
from erpbridge.live.errors import ConflictError, DegradedRefusalError, OrderRejectedError
from erpbridge.live.models import OrderDetail, OrderRequest, OrderResponse, OrderStatus, Totals
from erpbridge.live.order_documents import (
    OrderDocumentPolicy,
    build_order_xml,
    priced_result,
    returned_fields,
)
from erpbridge.live.order_view import STATUS_OF_STATE, OrderView
from erpbridge.live.ports import (
    Attempt,
    AttemptOutcome,
    ErpRouter,
    ExportClaim,
    IdempotencyStore,
    JsonValue,
    LiveErp,
    Metric,
    MetricsSink,
    OrderState,
    OrderStore,
    OrderTrigger,
    StoredOrder,
    XmlCopyStore,
    fingerprint,
)

if TYPE_CHECKING:
    from erpbridge.protocol.response_parsers import OrderResult

log = logging.getLogger("erpbridge.live.orders")


@dataclass(frozen=True)
class OrderPolicy:
    """How orders are sent and exported; the first fields come from the settings' order section
    (wiring), the rest are fixed by the design."""

    documents: OrderDocumentPolicy
    max_attempts: int  # K: counted failures before dead-letter
    export_after_s: float  # X: only orders older than this are exported by the task
    export_batch: int  # N: at most this many orders per run
    lookup_search_field: str | None  # GetList field holding the shop's order id (None: no lookup)
    lookup_number_column: str
    # How long after an unknown send "not found" is not yet trusted: an ERP still processing the
    # request (the client gave up first) commits it later. Above the ERP's longest create.
    unknown_settle_s: float
    idempotency_lock_s: float = 120.0
    claim_s: float = 300.0  # longer than one ERP create can take, retries included
    lookup_page_size: int = 50  # GetList rows per lookup request
    lookup_max_pages: int = 20  # more matches than this many pages: the lookup is not conclusive
    idempotency_keep_s: float = 7 * 86_400.0  # a client retries within minutes; a week is generous


@dataclass(frozen=True)
class _Lookup:
    """What the ERP said about an order that may exist: found (its number), not found, or no answer."""

    number: str | None = None
    answered: bool = True
    error: ErpBridgeError | None = None


@dataclass
class ExportReport:
    picked: int = 0
    created: int = 0
    queued: int = 0
    unknown: int = 0
    dead_lettered: int = 0
    rejected: int = 0
    idempotency_keys_purged: int = 0
    orders: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class PlacedOrder:
    """What placing an order answers: its status (created, queued or unknown) and the body (an
    :class:`OrderResponse`; a replay gets the first answer's body unchanged)."""

    status: OrderStatus
    body: dict[str, JsonValue]


def new_order_id(now: datetime) -> str:
    return f"WEB-{now:%Y%m%d}-{secrets.token_hex(5).upper()}"


class OrderService:
    def __init__(
        self,
        *,
        erp: LiveErp,
        orders: OrderStore,
        idempotency: IdempotencyStore,
        xml_store: XmlCopyStore,
        policy: OrderPolicy,
        cache: TieredCache | None = None,
        cache_invalidation_ttl_s: float = 86_400.0,
        metrics: MetricsSink | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        worker_id: str | None = None,
        degradation: DegradationPolicy,
        router: ErpRouter | None = None,
    ) -> None:
        self._degradation = degradation
        self._erp = erp
        self._router = router  # the ERP endpoints: each order goes to the one it was stored for
        self._orders = orders
        self._idempotency = idempotency
        self._xml = xml_store
        self._policy = policy
        self._cache = cache
        self._invalidation_ttl_s = cache_invalidation_ttl_s
        self._metrics = metrics
        self._now = now
        self._worker = worker_id or f"worker-{secrets.token_hex(4)}"
        self._view = OrderView(orders, now=now)

    # --- POST /v1/orders ------------------------------------------------------------------------

    def place_order(self, request: OrderRequest, idempotency_key: str) -> PlacedOrder:
        """Store, then create in the ERP. Returns the order's status and the body to answer with.

        The same key with the same body returns the first result; with another body, a conflict.
        A refusal by the ERP (also a replayed one) raises :class:`OrderRejectedError`.
        """
        # An unknown shop is refused here, before anything is stored.
        endpoint = "" if self._router is None else self._router.endpoint_of(request.shop_id, request.currency)
        body = request.model_dump(mode="json")
        request_print = fingerprint(body)
        prior = self._idempotency.begin(
            idempotency_key, request_print, lock_s=self._policy.idempotency_lock_s
        )
        if prior is not None:
            if prior.fingerprint != request_print:
                raise ConflictError("Idempotency-Key was already used with a different request body")
            if prior.outcome is None or prior.response is None:
                raise ConflictError(
                    "a request with this Idempotency-Key is still being processed; retry later"
                )
            if prior.outcome is OrderStatus.REJECTED:  # the first answer was the ERP's refusal
                raise OrderRejectedError(str(prior.response["order_id"]), str(prior.response["erp_message"]))
            return PlacedOrder(prior.outcome, dict(prior.response))
        try:
            now = self._now()
            order_id = request.order_id or new_order_id(now)
            body["order_id"] = order_id
            order_print = fingerprint({**body, "order_id": None})
            stored = self._orders.add(
                StoredOrder(
                    order_id=order_id,
                    customer_number=request.customer_number,
                    currency=request.currency,
                    shop_id=request.shop_id,
                    erp_endpoint=endpoint,
                    body=body,
                    fingerprint=order_print,
                    state=OrderState.RECEIVED,
                    created_at=now,
                    updated_at=now,
                )
            )
            if stored.fingerprint != order_print:
                raise ConflictError(f"order {order_id} already exists with different content")
            response = self._drive(stored, trigger=OrderTrigger.API)
        except BaseException:
            # Nothing answered yet: let the client retry with the same key (the stored order, if
            # any, is found again by its id and continued from its state, never sent twice).
            self._idempotency.abandon(idempotency_key)
            raise
        if response.status is OrderStatus.DECLINED:
            # The customer is told the order was not taken: nothing sends it later (the idempotency
            # key is released, so the shop may retry it; the same order id continues this order).
            self._idempotency.abandon(idempotency_key)
            raise DegradedRefusalError(
                "checkout", response.message or "not sent", retry_after_s=self._degradation.retry_after_s
            )
        if response.status is OrderStatus.REJECTED:
            refused = OrderRejectedError(response.order_id, response.message or "no reason given")
            self._idempotency.complete(
                idempotency_key,
                OrderStatus.REJECTED,
                {"error": "erp_rejected", "order_id": refused.order_id, "erp_message": refused.erp_message},
            )
            raise refused
        payload = response.model_dump(mode="json")
        self._idempotency.complete(idempotency_key, response.status, payload)
        return PlacedOrder(response.status, payload)

    # --- GET /v1/orders/{id} --------------------------------------------------------------------

    def get_order(self, order_id: str) -> StoredOrder:
        return self._view.get_order(order_id)

    def detail(self, order: StoredOrder) -> OrderDetail:
        """The status and timeline of an order read with :meth:`get_order`."""
        return self._view.detail(order)

    # --- Export Failed Orders and operator re-send ----------------------------------------------

    def export_failed_orders(
        self, *, older_than_s: float | None = None, limit: int | None = None
    ) -> ExportReport:
        """The scheduled task: claim up to N waiting orders older than X and send each once."""
        after = self._policy.export_after_s if older_than_s is None else older_than_s
        claims = self._orders.claim_for_export(
            older_than=self._now() - timedelta(seconds=after),
            limit=self._policy.export_batch if limit is None else limit,
            max_attempts=self._policy.max_attempts,
            owner=self._worker,
            claim_for_s=self._policy.claim_s,
        )
        report = ExportReport(picked=len(claims))
        for claim in claims:
            try:
                order = self._orders.get(claim.order_id)
                if order is None:
                    continue
                response = self._drive(order, trigger=OrderTrigger.EXPORT, claim=claim)
                state = self._orders.get(claim.order_id)
                final = state.state if state else OrderState.QUEUED
                report.orders.append({"order_id": claim.order_id, "state": final.value})
                if final is OrderState.CREATED:
                    report.created += 1
                elif final is OrderState.DEAD_LETTER:
                    report.dead_lettered += 1
                elif final is OrderState.REJECTED:
                    report.rejected += 1
                elif response.status is OrderStatus.UNKNOWN:
                    report.unknown += 1
                else:
                    report.queued += 1
            except Exception:
                # One order's trouble (a database hiccup, a bug) must not stop the others; it stays
                # waiting and the next run picks it up again.
                log.exception("export of order %s failed unexpectedly", claim.order_id)
                report.orders.append({"order_id": claim.order_id, "state": "error"})
            finally:
                self._orders.release(claim)
        # Housekeeping rides along: finished Idempotency-Key records older than the keep window.
        report.idempotency_keys_purged = self._idempotency.purge(
            older_than=self._now() - timedelta(seconds=self._policy.idempotency_keep_s)
        )
        return report

    def resend(self, order_id: str) -> OrderResponse:
        """Operator re-send (also of a dead-lettered or rejected order). Never re-creates a created
        order."""
        self.get_order(order_id)  # 404 before anything else
        claim = self._orders.claim_one(order_id, owner=self._worker, claim_for_s=self._policy.claim_s)
        if claim is None:
            raise ConflictError(f"order {order_id} is being sent by another worker right now")
        try:
            # Read under the claim: another worker may have created it since anyone last looked.
            order = self.get_order(order_id)
            if order.state is OrderState.CREATED:
                return self._response(order, message=f"already created in the ERP as {order.erp_order_id}")
            if order.state is OrderState.DEAD_LETTER:
                # Its last attempt may have reached the ERP: look it up before sending again.
                self._orders.set_state(order_id, OrderState.UNKNOWN)
                order.state = OrderState.UNKNOWN
            return self._drive(order, trigger=OrderTrigger.RESEND, claim=claim)
        finally:
            self._orders.release(claim)

    # --- the state machine ----------------------------------------------------------------------

    def _drive(
        self, order: StoredOrder, *, trigger: OrderTrigger, claim: ExportClaim | None = None
    ) -> OrderResponse:
        """Send ``order`` (or find it in the ERP) under a claim. With ``claim`` given, ``order`` must
        have been read after the claim was taken; without, it is claimed and read again here."""
        settled = self._settled(order, trigger)
        if settled is not None:
            return settled
        own_claim = None
        if claim is None:
            own_claim = self._orders.claim_one(
                order.order_id, owner=self._worker, claim_for_s=self._policy.claim_s
            )
            if own_claim is None:
                return self._response(order, message="the order is being sent right now")
        try:
            if own_claim is not None:
                # Another worker may have sent it between our read and our claim: decide on what
                # is stored now, or the order would be sent a second time.
                order = self._orders.get(order.order_id) or order
                settled = self._settled(order, trigger)
                if settled is not None:
                    return settled
            if order.state in (OrderState.UNKNOWN, OrderState.SENDING):
                resolved = self._resolve_unknown(order, trigger)
                if resolved is not None:
                    return resolved
            return self._send(order, trigger)
        finally:
            if own_claim is not None:
                self._orders.release(own_claim)

    def _resolve_unknown(self, order: StoredOrder, trigger: OrderTrigger) -> OrderResponse | None:
        """For an order that may exist in the ERP: the answer, or None when it must be sent again."""
        lookup = self._look_up_in_erp(order, trigger)
        if lookup is None:  # no search field: the plug-in unit's own OrderId check is all there is
            return None
        if lookup.number is not None:
            self._orders.set_state(order.order_id, OrderState.CREATED, erp_order_id=lookup.number)
            self._after_created(order)
            return self._response(self._orders.get(order.order_id) or order)
        if not lookup.answered:
            return self._lookup_failed(order, lookup.error)
        if self._sent_recently(order):
            return self._response(
                order, message="sent, not in the ERP yet; it will be checked again before any re-send"
            )
        return None

    def _settled(self, order: StoredOrder, trigger: OrderTrigger) -> OrderResponse | None:
        """The answer for an order there is nothing to send for, else None."""
        if order.state is OrderState.CREATED:
            return self._response(order)
        if order.state is OrderState.DEAD_LETTER and trigger is not OrderTrigger.RESEND:
            return self._response(
                order, message="export gave up after repeated failures; an operator was alerted"
            )
        if order.state is OrderState.REJECTED and trigger is not OrderTrigger.RESEND:
            return self._response(order, message=order.last_error)  # the ERP's words
        return None

    def _send(self, order: StoredOrder, trigger: OrderTrigger) -> OrderResponse:
        from erpbridge.protocol.response_parsers import parse_order_response

        submit_type = "ScheduledTask" if trigger is OrderTrigger.EXPORT else "LiveOrderOrCart"
        kind = RequestKind.EXPORT_ORDER if trigger is OrderTrigger.EXPORT else RequestKind.CREATE_ORDER
        try:
            request = OrderRequest.model_validate(dict(order.body))
            xml = build_order_xml(
                request, order.order_id, create=True, submit_type=submit_type, policy=self._policy.documents
            )
        except (ValidationError, ProtocolError) as error:
            # Only possible for orders the shop wrote itself (the API validates first): sending
            # cannot fix bad data, so nothing is sent.
            problems = (
                "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:5])
                if isinstance(error, ValidationError)
                else str(error)
            )
            self._orders.set_state(
                order.order_id,
                OrderState.DEAD_LETTER,
                error=f"invalid order data: {problems}",
                count_attempt=True,
            )
            self._orders.add_attempt(
                order.order_id,
                Attempt(
                    at=self._now(),
                    trigger=trigger,
                    outcome=AttemptOutcome.INVALID,
                    erp_message=f"invalid order data: {problems}",
                ),
            )
            self._emit(Metric("OrdersDeadLettered"))
            return self._response(self._orders.get(order.order_id) or order, message="order data is invalid")
        started = self._now()
        request_key = self._keep_xml(order.order_id, started, trigger, "request", xml)
        self._orders.set_state(order.order_id, OrderState.SENDING)
        clock = time.monotonic()
        response_text: str | None = None
        try:
            response_text = self._erp_of(order).call(xml, kind=kind)
            result = parse_order_response(response_text, create=True)
        except ErpBridgeError as error:
            duration = int((time.monotonic() - clock) * 1000)
            response_key = (
                self._keep_xml(order.order_id, started, trigger, "response", response_text.encode())
                if response_text is not None
                else None
            )
            return self._record_failure(order, trigger, error, started, duration, request_key, response_key)
        duration = int((time.monotonic() - clock) * 1000)
        response_key = self._keep_xml(order.order_id, started, trigger, "response", response_text.encode())
        erp_order_id = result.erp_order_id or result.order_id
        # The order exists in the ERP now: whatever its answer holds, it is recorded as created.
        outcome = self._outcome(order.order_id, request, result)
        unrenderable = "created in the ERP, but its totals and lines could not be shown"
        self._orders.set_state(order.order_id, OrderState.CREATED, erp_order_id=erp_order_id, result=outcome)
        self._orders.add_attempt(
            order.order_id,
            Attempt(
                at=started,
                trigger=trigger,
                outcome=AttemptOutcome.CREATED,
                erp_message=(result.shipping_warning or None) if outcome is not None else unrenderable,
                erp_order_id=erp_order_id,
                duration_ms=duration,
                request_xml=request_key,
                response_xml=response_key,
            ),
        )
        self._after_created(order)
        return self._response(
            self._orders.get(order.order_id) or order, message=None if outcome is not None else unrenderable
        )

    def _outcome(
        self, order_id: str, request: OrderRequest, result: OrderResult
    ) -> dict[str, JsonValue] | None:
        """The ERP's totals and lines as the API shows them, or None when they cannot be shown
        (numbers no JSON client can read, arithmetic that overflows): never an error, since the
        order was created."""
        try:
            priced, priced_totals = priced_result(request, result)
            outcome: dict[str, JsonValue] = {
                "totals": priced_totals.model_dump(mode="json"),
                "lines": [line.model_dump(mode="json") for line in priced],
                "custom_fields": returned_fields(result.header, request.custom_fields),
            }
            json.dumps(outcome, allow_nan=False)  # inf/nan (a Decimal beyond float) are not JSON
        except (ArithmeticError, ValueError):
            log.exception("order %s: the ERP's answer cannot be shown; kept as created", order_id)
            return None
        return outcome

    def _record_failure(
        self,
        order: StoredOrder,
        trigger: OrderTrigger,
        error: ErpBridgeError,
        started: datetime,
        duration_ms: int,
        request_key: str | None,
        response_key: str | None,
    ) -> OrderResponse:
        not_sent = isinstance(error, ErpUnavailableError | ErpBusyError | ErpAuthError)
        failed = isinstance(error, ErpFaultError)
        if isinstance(error, ErpRejectedError):
            state, outcome = OrderState.REJECTED, AttemptOutcome.REJECTED
        elif (
            not_sent and trigger is OrderTrigger.API and self._degradation.checkout is CheckoutWhenDown.REFUSE
        ):
            state, outcome = OrderState.DECLINED, AttemptOutcome.DECLINED
        elif not_sent or failed:
            state, outcome = (
                OrderState.QUEUED,
                (AttemptOutcome.NOT_SENT if not_sent else AttemptOutcome.ERP_ERROR),
            )
        else:
            # Sent, and no usable answer (timeout, dropped connection, garbage): it may exist.
            state, outcome = OrderState.UNKNOWN, AttemptOutcome.UNKNOWN
        erp_message = getattr(error, "erp_message", None) or str(error)
        counted = not not_sent
        current = self._orders.get(order.order_id) or order
        if (
            counted
            and state not in (OrderState.REJECTED, OrderState.DECLINED)
            and current.attempts + 1 >= self._policy.max_attempts
        ):
            state = OrderState.DEAD_LETTER
        self._orders.set_state(order.order_id, state, error=erp_message, count_attempt=counted)
        self._orders.add_attempt(
            order.order_id,
            Attempt(
                at=started,
                trigger=trigger,
                outcome=outcome,
                erp_message=erp_message,
                duration_ms=duration_ms,
                request_xml=request_key,
                response_xml=response_key,
            ),
        )
        if state is OrderState.DEAD_LETTER:
            log.error("order %s dead-lettered after %d failed attempts", order.order_id, current.attempts + 1)
            self._emit(Metric("OrdersDeadLettered"))
        elif state is OrderState.REJECTED:
            log.warning("order %s rejected by the ERP", order.order_id)
            self._emit(Metric("OrdersRejected"))
            return self._response(self._orders.get(order.order_id) or order, message=erp_message)
        elif state is OrderState.DECLINED:
            log.warning("order %s declined: the ERP is down and checkout refuses then", order.order_id)
            return self._response(self._orders.get(order.order_id) or order, message=describe(error))
        else:
            log.warning("order %s not created (%s): %s", order.order_id, outcome, type(error).__name__)
        message = {
            OrderState.QUEUED: "accepted and queued: the ERP is down or refused it; it will be sent later",
            OrderState.UNKNOWN: "sent, but the ERP did not confirm; it will be checked before any re-send",
            OrderState.DEAD_LETTER: "not created after repeated attempts; an operator was alerted",
        }[state]
        return self._response(self._orders.get(order.order_id) or order, message=message)

    def _look_up_in_erp(self, order: StoredOrder, trigger: OrderTrigger) -> _Lookup | None:
        """Ask the ERP whether an order with the shop's id exists (None: no search field set).

        The search may match more than the id (BC filters on "contains"), newest first: every page
        of matches is read and compared exactly, so an order whose id begins others' is found too.
        """
        field_name = self._policy.lookup_search_field
        if not field_name or not order.customer_number:
            return None
        started = self._now()
        try:
            numbers = self._matching_orders(order, field_name)
        except ErpBridgeError as error:
            self._orders.add_attempt(
                order.order_id,
                Attempt(
                    at=started, trigger=trigger, outcome=AttemptOutcome.LOOKUP_FAILED, erp_message=str(error)
                ),
            )
            return _Lookup(answered=False, error=error)
        if numbers:
            # More than one: the ERP already holds duplicates (from before this lookup existed, or
            # another system); the first is stored, all are named for the operator.
            message = f"the ERP holds {len(numbers)} orders with this id: {', '.join(numbers)}"
            self._orders.add_attempt(
                order.order_id,
                Attempt(
                    at=started,
                    trigger=trigger,
                    outcome=AttemptOutcome.FOUND_IN_ERP,
                    erp_order_id=numbers[0],
                    erp_message=message if len(numbers) > 1 else None,
                ),
            )
            return _Lookup(number=numbers[0])
        self._orders.add_attempt(
            order.order_id, Attempt(at=started, trigger=trigger, outcome=AttemptOutcome.NOT_FOUND_IN_ERP)
        )
        return _Lookup()

    def _matching_orders(self, order: StoredOrder, field_name: str) -> list[str]:
        """The ERP's numbers of the customer's open orders whose ``field_name`` is the shop's id."""
        from erpbridge.errors import ErpResponseError
        from erpbridge.protocol.request_builders import build_get_list
        from erpbridge.protocol.response_parsers import parse_document_list

        size = self._policy.lookup_page_size
        number_column = self._policy.lookup_number_column
        numbers: list[str] = []
        seen_rows: set[str] = set()
        for page in range(self._policy.lookup_max_pages):
            xml = build_get_list(
                "OpenOrder",
                order.customer_number or "",
                request_amount=size,
                first_item=page * size + 1,
                search_field=field_name,
                search_value=order.order_id,
            )
            listing = parse_document_list(self._erp_of(order).call(xml, kind=RequestKind.GET_LIST))
            before = len(seen_rows)
            for row in listing.items:
                number = row.get(number_column)
                seen_rows.add(number or "")
                if (row.get(field_name) or "") == order.order_id and number and number not in numbers:
                    numbers.append(number)
            seen = (page + 1) * size
            if (
                len(listing.items) < size
                or (listing.total_count is not None and seen >= listing.total_count)
                or len(seen_rows) == before  # an ERP that ignores firstItem answers the same page
            ):
                return numbers
        if numbers:
            return numbers
        raise ErpResponseError(
            f"more than {self._policy.lookup_max_pages * size} open orders match {order.order_id!r}; "
            "the lookup could not look through all of them"
        )

    def _lookup_failed(self, order: StoredOrder, error: ErpBridgeError | None) -> OrderResponse:
        """The ERP could not say whether it holds the order: keep it ``unknown``, never send it."""
        not_reached = isinstance(error, ErpUnavailableError | ErpBusyError | ErpAuthError)
        current = self._orders.get(order.order_id) or order
        state = OrderState.UNKNOWN
        if not not_reached and current.attempts + 1 >= self._policy.max_attempts:
            state = OrderState.DEAD_LETTER
        self._orders.set_state(
            order.order_id, state, error=f"lookup failed: {error}", count_attempt=not not_reached
        )
        if state is OrderState.DEAD_LETTER:
            log.error("order %s dead-lettered: the ERP could not be asked whether it exists", order.order_id)
            self._emit(Metric("OrdersDeadLettered"))
            message = "not resolved after repeated attempts; an operator was alerted"
        else:
            log.warning("order %s not looked up: %s", order.order_id, type(error).__name__)
            message = "sent, but the ERP did not confirm and could not be asked; it will be checked again"
        return self._response(self._orders.get(order.order_id) or order, message=message)

    def _sent_recently(self, order: StoredOrder) -> bool:
        """Whether the ERP may still be processing the order's last send (see ``unknown_settle_s``)."""
        settle = self._policy.unknown_settle_s
        if settle <= 0:
            return False
        last_sent: datetime | None = None
        for attempt in self._orders.attempts(order.order_id):
            if attempt.outcome is AttemptOutcome.UNKNOWN:
                last_sent = attempt.at + timedelta(milliseconds=attempt.duration_ms or 0)
        if last_sent is None and order.state is OrderState.SENDING:
            last_sent = order.updated_at  # its sender died mid-send: set when the send began
        return last_sent is not None and (self._now() - last_sent).total_seconds() < settle

    # --- helpers --------------------------------------------------------------------------------

    def _after_created(self, order: StoredOrder) -> None:
        self._emit(Metric("OrdersCreated"))
        if self._cache is None:
            return
        product_ids = [line["product_id"] for line in order.body.get("lines", [])]
        try:  # stock (and maybe prices) of the ordered products changed
            self._cache.invalidate_products(order.shop_id, product_ids, ttl_s=self._invalidation_ttl_s)
        except Exception:
            log.exception("could not invalidate cached prices after order %s", order.order_id)

    def _erp_of(self, order: StoredOrder) -> LiveErp:
        """The ERP endpoint the order was stored for (older orders: their shop's)."""
        if self._router is None:
            return self._erp
        return self._router.erp_for(order.shop_id, order.currency, order.erp_endpoint)

    def _keep_xml(
        self, order_id: str, at: datetime, trigger: OrderTrigger, what: str, data: bytes
    ) -> str | None:
        key = f"orders/{order_id}/{at:%Y%m%dT%H%M%S%f}-{trigger}-{what}.xml"
        try:
            return self._xml.put_bytes(key, data)
        except Exception:  # a missing copy must never stop an order
            log.exception("could not keep the %s XML of order %s", what, order_id)
            return None

    def _emit(self, metric: Metric) -> None:
        if self._metrics is not None:
            self._metrics.emit(metric)

    def _response(self, order: StoredOrder, *, message: str | None = None) -> OrderResponse:
        result: Mapping[str, Any] = order.result or {}
        totals = result.get("totals")
        return OrderResponse(
            order_id=order.order_id,
            status=STATUS_OF_STATE[order.state],
            erp_order_id=order.erp_order_id,
            totals=Totals.model_validate(totals) if totals else None,
            lines=result.get("lines", []),
            custom_fields=result.get("custom_fields", {}),
            message=message,
        )
