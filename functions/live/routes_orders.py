"""POST /v1/orders (Idempotency-Key required) and GET /v1/orders/{order_id}."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Response, Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from live_errors import BODY_ERROR_RESPONSES, ERROR_RESPONSES, answer
from routes_prices import Authorization

from erpbridge.live.models import OrderDetail, OrderRequest, OrderResponse
from erpbridge.wiring.live import services

router = Router()

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=200,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="one per order attempt; the same key and body return the first result",
    ),
]
OrderId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._-]+$")]
ORDER_RESPONSE: dict[str, Any] = {"application/json": {"model": OrderResponse}}


@router.post(
    "/v1/orders",
    summary="Place an order: stored first, then created in the ERP",
    description="201 created in the ERP; 202 accepted and queued (ERP down or busy) or unknown (sent, no "
    "answer: checked with the ERP before any re-send). Same Idempotency-Key + same body = the first "
    "result; a different body = 409.",
    responses={
        201: {"description": "created in the ERP", "content": ORDER_RESPONSE},
        202: {"description": "accepted: queued or unknown", "content": ORDER_RESPONSE},
        **BODY_ERROR_RESPONSES,
    },
    tags=["orders"],
)
def post_order(
    request: OrderRequest, idempotency_key: IdempotencyKey, authorization: Authorization = None
) -> Response[OrderResponse]:
    services().tokens.caller(authorization).ensure_may_order_for(request.customer_number)
    status_code, body = services().orders.place_order(request, idempotency_key)
    # A dict body is validated against OrderResponse and serialised by Powertools.
    return Response(status_code=status_code, content_type="application/json", body=body)


@router.get(
    "/v1/orders/<order_id>",
    summary="An order's status and the timeline of every attempt",
    responses={**answer(OrderDetail, "the order and its timeline"), **ERROR_RESPONSES},
    tags=["orders"],
)
def get_order(order_id: OrderId, authorization: Authorization = None) -> OrderDetail:
    caller = services().tokens.caller(authorization)
    order = services().orders.get_order(order_id)
    caller.ensure_may_access_order(order.customer_number)
    return services().orders.detail(order)
