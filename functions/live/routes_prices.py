"""POST /v1/prices and POST /v1/baskets/calculate."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Response, Router
from aws_lambda_powertools.event_handler.openapi.params import Header
from live_errors import BODY_ERROR_RESPONSES, answer

from erpbridge.live.models import BasketRequest, BasketResponse, PriceRequest, PriceResponse
from erpbridge.wiring.live import services

router = Router()
PRICE_RESPONSE: dict[str, Any] = {"application/json": {"model": PriceResponse}}
Authorization = Annotated[str | None, Header(alias="Authorization", description="Bearer <customer token>")]


@router.post(
    "/v1/prices",
    summary="Prices and stock for a list of products",
    description="Cache first (TTL), misses from the ERP in chunks; fallback figures when the ERP is down. "
    "Every item says where its figures come from (source) and when they were produced (as_of).",
    responses={
        200: {"description": "prices, stock and provenance per item", "content": PRICE_RESPONSE},
        **BODY_ERROR_RESPONSES,
    },
    tags=["prices"],
)
def post_prices(request: PriceRequest, authorization: Authorization = None):
    # The hot path: JSON text straight from the use case, built from items validated when the ERP
    # answered (PriceService.get_prices_json); no return annotation, so Powertools does not
    # validate and encode the response a second time. The OpenAPI schema comes from `responses`.
    services().tokens.caller(authorization).ensure_may_access(request.customer_number)
    body = services().prices.get_prices_json(request)
    return Response(status_code=200, content_type="application/json", body=body)


@router.post(
    "/v1/baskets/calculate",
    summary="The basket priced by the ERP (CreateOrder=False)",
    description="An unchanged basket is answered from the cache without an ERP call; when the ERP is down "
    "the totals are computed from cached or shop prices and say so (source=fallback).",
    responses={**answer(BasketResponse, "the priced basket"), **BODY_ERROR_RESPONSES},
    tags=["baskets"],
)
def post_basket(request: BasketRequest, authorization: Authorization = None) -> BasketResponse:
    services().tokens.caller(authorization).ensure_may_access(request.customer_number)
    return services().baskets.calculate(request)
