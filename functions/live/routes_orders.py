"""POST /v1/orders (Idempotency-Key required) and GET /v1/orders/{order_id}."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Response, Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path
from live_contract import (
    CUSTOMER_TOKEN,
    DEGRADED,
    ERP_REFUSED,
    IDEMPOTENCY,
    JSON_BODY,
    NOT_FOUND,
    PARAMETERS,
    SHOP,
    SHOP_DATABASE,
    STOREFRONT_OR_CUSTOMER,
    examples,
    responses,
    success,
)
from routes_prices import Authorization

from erpbridge.live import examples as example
from erpbridge.live.models import OrderDetail, OrderRequest, OrderResponse, OrderStatus
from erpbridge.wiring.live import services

router = Router()

# The HTTP status of a placed order: 201 created, else 202 accepted (queued, or sent with no answer).
# A refusal or a decline is an error, answered by live_errors.STATUS.
PLACED: dict[OrderStatus, int] = {OrderStatus.CREATED: 201}
ACCEPTED = 202

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=200,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="one per order attempt; the same key and body return the first result",
        openapi_examples=examples(checkout=example.IDEMPOTENCY_KEY),
    ),
]
OrderId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9._-]+$",
        openapi_examples=examples(web_order=example.ORDER_ID),
    ),
]


@router.post(
    "/v1/orders",
    summary="Place an order: stored first, then created in the ERP",
    description="201 created in the ERP; 202 accepted and queued (ERP down or busy) or unknown (sent, no "
    "answer: checked with the ERP before any re-send); 422 erp_rejected: the ERP refused it (erp_message "
    "says why; kept as rejected, never sent again on its own); 503 when the ERP is down and "
    "ERPBRIDGE_DEGRADE_CHECKOUT=refuse. Same Idempotency-Key + same body = the first result; a "
    "different body = 409.",
    operation_id="createOrder",
    security=STOREFRONT_OR_CUSTOMER,
    responses=responses(
        success(201, "created in the ERP", OrderResponse, example.ORDER_CREATED, name="created"),
        success(202, "accepted: queued or unknown", OrderResponse, example.ORDER_QUEUED, name="queued"),
        fails=(JSON_BODY, SHOP, CUSTOMER_TOKEN, IDEMPOTENCY, SHOP_DATABASE, ERP_REFUSED, DEGRADED),
    ),
    tags=["orders"],
)
def post_order(
    request: Annotated[OrderRequest, Body(openapi_examples=examples(one_line=example.ORDER_REQUEST))],
    idempotency_key: IdempotencyKey,
    authorization: Authorization = None,
) -> Response[OrderResponse]:
    services().tokens.caller(authorization).ensure_may_order_for(request.customer_number)
    placed = services().orders.place_order(request, idempotency_key)
    status_code = PLACED.get(placed.status, ACCEPTED)
    # A dict body is validated against OrderResponse and serialised by Powertools.
    return Response(status_code=status_code, content_type="application/json", body=placed.body)  # type: ignore[arg-type]


@router.get(
    "/v1/orders/<order_id>",
    summary="An order's status and the timeline of every attempt",
    operation_id="getOrder",
    security=STOREFRONT_OR_CUSTOMER,
    responses=responses(
        success(200, "the order and its timeline", OrderDetail, example.ORDER_DETAIL),
        fails=(PARAMETERS, CUSTOMER_TOKEN, NOT_FOUND, SHOP_DATABASE),
    ),
    tags=["orders"],
)
def get_order(order_id: OrderId, authorization: Authorization = None) -> OrderDetail:
    caller = services().tokens.caller(authorization)
    order = services().orders.get_order(order_id)
    caller.ensure_may_access_order(order.customer_number)
    return services().orders.detail(order)
