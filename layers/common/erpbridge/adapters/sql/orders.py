"""Orders in the shop database (SQLAlchemy Core; SQLite and PostgreSQL): ``OrderStore``.

Orders live in EcomOrders/EcomOrderLines plus the export state, timeline and worker claims of
migration m0100. Claims: on PostgreSQL candidates are locked with ``SELECT … FOR UPDATE SKIP
LOCKED`` (concurrent workers skip each other's rows instead of waiting); on SQLite (one writer at a
time) each claim is a conditional ``UPDATE`` whose row count says who won. Either way a claim
expires, so a worker that died frees its orders.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from erpbridge.adapters.sql.live_tables import ATTEMPTS, LIVE_ORDERS, aware, now_naive, utc_naive
from erpbridge.live.ports import (
    Attempt,
    AttemptOutcome,
    ExportClaim,
    JsonValue,
    OrderState,
    OrderTrigger,
    StoredOrder,
    fingerprint,
)
from erpbridge.shopdb.schema import table

WAITING_STATES = (OrderState.RECEIVED, OrderState.SENDING, OrderState.QUEUED, OrderState.UNKNOWN)


class SqlOrderStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._orders = table("EcomOrders")
        self._lines = table("EcomOrderLines")

    # --- orders ---------------------------------------------------------------------------------

    def add(self, order: StoredOrder) -> StoredOrder:
        existing = self.get(order.order_id)
        if existing is not None:
            return existing
        now = utc_naive(order.created_at or datetime.now(UTC))
        body = order.body
        billing = body.get("billing_address") or {}
        delivery = body.get("delivery_address") or billing
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    sa.insert(self._orders).values(
                        OrderID=order.order_id,
                        OrderComplete=True,
                        OrderCart=False,
                        OrderIsExported=False,
                        OrderCompletedDate=now,
                        OrderDate=now,
                        OrderShopId=order.shop_id,
                        OrderLanguageId=body.get("language") or None,
                        OrderCurrencyCode=order.currency or None,
                        OrderCustomerNumber=order.customer_number,
                        **{f"OrderCustomer{_camel(k)}": v for k, v in _address(billing).items()},
                        **{f"OrderDelivery{_camel(k)}": v for k, v in _address(delivery).items()},
                        OrderPaymentMethodId=body.get("payment_method") or None,
                        OrderShippingMethodId=(body.get("shipping") or {}).get("method_id") or None,
                        OrderComment=body.get("comment") or None,
                    )
                )
                lines = [
                    {
                        "OrderLineID": f"{order.order_id}-{number}",
                        "OrderLineOrderID": order.order_id,
                        "OrderLineProductId": line["product_id"],
                        "OrderLineProductVariantId": line.get("variant_id") or None,
                        "OrderLineProductNumber": line["product_id"],
                        "OrderLineProductName": line.get("name") or None,
                        "OrderLineQuantity": Decimal(str(line["quantity"])),
                        "OrderLineUnitId": line.get("unit") or None,
                        "OrderLineType": "0",
                    }
                    for number, line in enumerate(body.get("lines", []), start=1)
                ]
                if lines:
                    connection.execute(sa.insert(self._lines), lines)
                connection.execute(
                    sa.insert(LIVE_ORDERS).values(
                        order_id=order.order_id,
                        state=order.state.value,
                        customer_number=order.customer_number,
                        shop_id=order.shop_id,
                        currency=order.currency,
                        erp_endpoint=order.erp_endpoint,
                        fingerprint=order.fingerprint,
                        body=json.dumps(body, default=str),
                        attempts=0,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except sa.exc.IntegrityError:
            # Someone stored the same order id between our read and our insert.
            stored = self.get(order.order_id)
            if stored is None:
                raise
            return stored
        stored = self.get(order.order_id)
        assert stored is not None
        return stored

    def get(self, order_id: str) -> StoredOrder | None:
        with self._engine.connect() as connection:
            row = (
                connection.execute(sa.select(LIVE_ORDERS).where(LIVE_ORDERS.c.order_id == order_id))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return StoredOrder(
            order_id=row["order_id"],
            customer_number=row["customer_number"],
            currency=row["currency"],
            shop_id=row["shop_id"],
            erp_endpoint=row["erp_endpoint"],
            body=json.loads(row["body"]),
            fingerprint=row["fingerprint"],
            state=OrderState(row["state"]),
            erp_order_id=row["erp_order_id"],
            attempts=row["attempts"],
            last_error=row["last_error"],
            created_at=aware(row["created_at"]),
            updated_at=aware(row["updated_at"]),
            result=json.loads(row["result"]) if row["result"] else None,
        )

    def set_state(
        self,
        order_id: str,
        state: OrderState,
        *,
        erp_order_id: str | None = None,
        error: str | None = None,
        count_attempt: bool = False,
        result: Mapping[str, JsonValue] | None = None,
    ) -> None:
        values: dict[str, Any] = {"state": state.value, "updated_at": now_naive()}
        if erp_order_id is not None:
            values["erp_order_id"] = erp_order_id
        if error is not None:
            values["last_error"] = error[:4000]
        if count_attempt:
            values["attempts"] = LIVE_ORDERS.c.attempts + 1
        if result is not None:
            values["result"] = json.dumps(result, default=str)
        with self._engine.begin() as connection:
            connection.execute(
                sa.update(LIVE_ORDERS).where(LIVE_ORDERS.c.order_id == order_id).values(**values)
            )
            if state is OrderState.CREATED:
                order_values: dict[str, Any] = {"OrderIsExported": True}
                if erp_order_id is not None:
                    order_values["OrderIntegrationOrderId"] = erp_order_id
                totals = (result or {}).get("totals") or {}
                if totals.get("total_with_vat") is not None:
                    order_values["OrderPriceWithVAT"] = Decimal(str(totals["total_with_vat"]))
                if totals.get("total") is not None:
                    order_values["OrderPriceWithoutVAT"] = Decimal(str(totals["total"]))
                if totals.get("shipping_fee") is not None:
                    order_values["OrderShippingFee"] = Decimal(str(totals["shipping_fee"]))
                connection.execute(
                    sa.update(self._orders).where(self._orders.c.OrderID == order_id).values(**order_values)
                )

    def add_attempt(self, order_id: str, attempt: Attempt) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                sa.insert(ATTEMPTS).values(
                    order_id=order_id,
                    at=utc_naive(attempt.at),
                    trigger=str(attempt.trigger),
                    outcome=str(attempt.outcome),
                    erp_message=attempt.erp_message,
                    erp_order_id=attempt.erp_order_id,
                    duration_ms=attempt.duration_ms,
                    request_xml=attempt.request_xml,
                    response_xml=attempt.response_xml,
                )
            )

    def attempts(self, order_id: str) -> list[Attempt]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(ATTEMPTS).where(ATTEMPTS.c.order_id == order_id).order_by(ATTEMPTS.c.id)
            ).mappings()
            return [
                Attempt(
                    at=aware(row["at"]) or datetime.now(UTC),
                    trigger=OrderTrigger(row["trigger"]),
                    outcome=AttemptOutcome(row["outcome"]),
                    erp_message=row["erp_message"],
                    erp_order_id=row["erp_order_id"],
                    duration_ms=row["duration_ms"],
                    request_xml=row["request_xml"],
                    response_xml=row["response_xml"],
                )
                for row in rows
            ]

    # --- claims ---------------------------------------------------------------------------------

    def claim_for_export(
        self, *, older_than: datetime, limit: int, max_attempts: int, owner: str, claim_for_s: float
    ) -> list[ExportClaim]:
        self.adopt_shop_orders(older_than=older_than, limit=limit)
        now = now_naive()
        token = f"{owner}:{secrets.token_hex(6)}"
        until = now + timedelta(seconds=claim_for_s)
        candidates = (
            sa.select(LIVE_ORDERS.c.order_id)
            .where(
                LIVE_ORDERS.c.state.in_([s.value for s in WAITING_STATES]),
                LIVE_ORDERS.c.created_at <= utc_naive(older_than),
                LIVE_ORDERS.c.attempts < max_attempts,
                sa.or_(LIVE_ORDERS.c.claimed_until.is_(None), LIVE_ORDERS.c.claimed_until < now),
            )
            .order_by(LIVE_ORDERS.c.created_at, LIVE_ORDERS.c.order_id)
            .limit(limit)
        )
        if self._engine.dialect.name == "postgresql":
            with self._engine.begin() as connection:
                ids = list(connection.execute(candidates.with_for_update(skip_locked=True)).scalars())
                if ids:
                    connection.execute(
                        sa.update(LIVE_ORDERS)
                        .where(LIVE_ORDERS.c.order_id.in_(ids))
                        .values(claimed_by=token, claimed_until=until)
                    )
            return [ExportClaim(order_id, token) for order_id in ids]
        # SQLite: read the candidates, then claim each in its own short write transaction whose
        # first statement is the write (a read-then-write transaction cannot wait for the lock).
        with self._engine.connect() as connection:
            ids = list(connection.execute(candidates).scalars())
        claims: list[ExportClaim] = []
        for order_id in ids:
            with self._engine.begin() as connection:
                if self._try_claim(connection, order_id, token, now, until):
                    claims.append(ExportClaim(order_id, token))
        return claims

    def claim_one(self, order_id: str, *, owner: str, claim_for_s: float) -> ExportClaim | None:
        now = now_naive()
        token = f"{owner}:{secrets.token_hex(6)}"
        with self._engine.begin() as connection:
            if self._try_claim(connection, order_id, token, now, now + timedelta(seconds=claim_for_s)):
                return ExportClaim(order_id, token)
        return None

    def adopt_shop_orders(self, *, older_than: datetime, limit: int) -> int:
        """Give export state to complete, unexported orders the shop wrote into EcomOrders itself
        (not through the API), so Export Failed Orders sends them too — Dynamicweb's queued-orders
        task semantics. Their request body is rebuilt from EcomOrders/EcomOrderLines."""
        o, line = self._orders.c, self._lines.c
        with self._engine.connect() as connection:
            rows = (
                connection.execute(
                    sa.select(self._orders)
                    .where(
                        o.OrderComplete.is_(True),
                        o.OrderCart.is_(False),
                        o.OrderIsExported.is_(False),
                        sa.or_(o.OrderIntegrationOrderId.is_(None), o.OrderIntegrationOrderId == ""),
                        o.OrderCompletedDate <= utc_naive(older_than),
                        ~sa.exists().where(LIVE_ORDERS.c.order_id == o.OrderID),
                    )
                    .order_by(o.OrderCompletedDate)
                    .limit(limit)
                )
                .mappings()
                .all()
            )
            lines: dict[str, list[dict[str, Any]]] = {row["OrderID"]: [] for row in rows}
            if rows:
                for found in connection.execute(
                    sa.select(self._lines)
                    .where(line.OrderLineOrderID.in_(list(lines)))
                    .order_by(line.OrderLineOrderID, line.OrderLineID)
                ).mappings():
                    lines[found["OrderLineOrderID"]].append(dict(found))
        adopted = 0
        for row in rows:
            body = _body_from_shop_order(dict(row), lines[row["OrderID"]])
            stamp = row["OrderCompletedDate"] or now_naive()
            try:
                with self._engine.begin() as connection:
                    connection.execute(
                        sa.insert(LIVE_ORDERS).values(
                            order_id=row["OrderID"],
                            state=OrderState.QUEUED.value,
                            customer_number=body["customer_number"],
                            shop_id=body["shop_id"],
                            currency=body["currency"],
                            fingerprint=fingerprint({**body, "order_id": None}),  # as place_order
                            body=json.dumps(body),
                            attempts=0,
                            created_at=stamp,
                            updated_at=now_naive(),
                        )
                    )
                adopted += 1
            except sa.exc.IntegrityError:
                continue  # another worker adopted it first
        return adopted

    @staticmethod
    def _try_claim(connection: Connection, order_id: str, token: str, now: datetime, until: datetime) -> bool:
        result = connection.execute(
            sa.update(LIVE_ORDERS)
            .where(
                LIVE_ORDERS.c.order_id == order_id,
                sa.or_(LIVE_ORDERS.c.claimed_until.is_(None), LIVE_ORDERS.c.claimed_until < now),
            )
            .values(claimed_by=token, claimed_until=until)
        )
        return result.rowcount == 1

    def release(self, claim: ExportClaim) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                sa.update(LIVE_ORDERS)
                .where(LIVE_ORDERS.c.order_id == claim.order_id, LIVE_ORDERS.c.claimed_by == claim.token)
                .values(claimed_by=None, claimed_until=None)
            )

    def counts(self) -> Mapping[OrderState, int]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(LIVE_ORDERS.c.state, sa.func.count()).group_by(LIVE_ORDERS.c.state)
            ).all()
        return {OrderState(state): int(count) for state, count in rows}


def _body_from_shop_order(order: Mapping[str, Any], lines: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """An order request (the API's shape) rebuilt from a shop-written EcomOrders row."""

    def text(value: Any, limit: int = 100) -> str:
        return str(value or "")[:limit]

    def address(prefix: str) -> dict[str, str]:
        return {key: text(order.get(f"{prefix}{_camel(key)}")) for key in _ADDRESS_KEYS}

    body: dict[str, Any] = {
        "order_id": order["OrderID"],
        "customer_number": order.get("OrderCustomerNumber") or None,
        "currency": text(order.get("OrderCurrencyCode"), 3),
        "shop_id": text(order.get("OrderShopId"), 50),
        "language": text(order.get("OrderLanguageId"), 50),
        "billing_address": address("OrderCustomer"),
        "delivery_address": address("OrderDelivery"),
        "comment": text(order.get("OrderComment"), 500),
        "payment_method": text(order.get("OrderPaymentMethodId"), 50),
        "lines": [
            {
                "product_id": text(line.get("OrderLineProductNumber") or line.get("OrderLineProductId"), 50),
                "variant_id": text(line.get("OrderLineProductVariantId"), 50),
                "unit": text(line.get("OrderLineUnitId"), 50),
                "quantity": str(line.get("OrderLineQuantity") or 0),
                "name": text(line.get("OrderLineProductName")),
            }
            for line in lines
            if (line.get("OrderLineType") or "0") in ("0", "2")  # products and fixed lines
        ],
    }
    if order.get("OrderShippingMethodId"):
        body["shipping"] = {"method_id": text(order["OrderShippingMethodId"], 50)}
    return body


_ADDRESS_KEYS = ("name", "company", "address", "address2", "zip", "city", "country_code", "email", "phone")


def _camel(name: str) -> str:
    return {"address2": "Address2", "country_code": "CountryCode"}.get(name, name.capitalize())


def _address(address: Mapping[str, Any]) -> dict[str, Any]:
    return {key: (address.get(key) or None) for key in _ADDRESS_KEYS}
