"""POST /v1/prices and POST /v1/baskets/calculate."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Response, Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from live_contract import (
    CUSTOMER_TOKEN,
    DEGRADED,
    ERP_REFUSED,
    JSON_BODY,
    SHOP,
    STOREFRONT_OR_CUSTOMER,
    examples,
    responses,
    success,
)

from erpbridge.live import examples as example
from erpbridge.live.models import BasketRequest, BasketResponse, PriceRequest, PriceResponse
from erpbridge.wiring.live import services

router = Router()
# The customer token: documented as the CustomerToken security scheme, not as a parameter.
Authorization = Annotated[str | None, Header(alias="Authorization", include_in_schema=False)]


@router.post(
    "/v1/prices",
    summary="Prices and stock for a list of products",
    description="Cache first (TTL), misses from the ERP in chunks; fallback figures when the ERP is down. "
    "Every item says where its figures come from (source) and when they were produced (as_of).",
    operation_id="getPrices",
    security=STOREFRONT_OR_CUSTOMER,
    responses=responses(
        success(200, "prices, stock and provenance per item", PriceResponse, example.PRICE_RESPONSE),
        fails=(JSON_BODY, SHOP, CUSTOMER_TOKEN, DEGRADED),
    ),
    tags=["prices"],
)
def post_prices(  # type: ignore[no-untyped-def]  # no return annotation, see below
    request: Annotated[PriceRequest, Body(openapi_examples=examples(two_products=example.PRICE_REQUEST))],
    authorization: Authorization = None,
):
    # The hot path: JSON text straight from the use case, built from items validated when the ERP
    # answered (PriceService.get_prices_json); no return annotation, so Powertools does not
    # validate and encode the response a second time. The OpenAPI schema comes from `responses`.
    services().tokens.caller(authorization).ensure_may_access(request.customer_number)
    body = services().at(request.shop_id, request.currency).prices.get_prices_json(request)
    return Response(status_code=200, content_type="application/json", body=body)


@router.post(
    "/v1/baskets/calculate",
    summary="The basket priced by the ERP (CreateOrder=False)",
    description="An unchanged basket is answered from the cache without an ERP call; when the ERP is down "
    "the totals are computed from cached or shop prices and say so (source=fallback, estimate=true); "
    "when the ERP refuses the basket (an unknown item, a blocked customer) the answer is 422 "
    "erp_rejected.",
    operation_id="calculateBasket",
    security=STOREFRONT_OR_CUSTOMER,
    responses=responses(
        success(200, "the priced basket", BasketResponse, example.BASKET_RESPONSE),
        fails=(JSON_BODY, SHOP, CUSTOMER_TOKEN, ERP_REFUSED, DEGRADED),
    ),
    tags=["baskets"],
)
def post_basket(
    request: Annotated[BasketRequest, Body(openapi_examples=examples(one_line=example.BASKET_REQUEST))],
    authorization: Authorization = None,
) -> BasketResponse:
    services().tokens.caller(authorization).ensure_may_access(request.customer_number)
    return services().at(request.shop_id, request.currency).baskets.calculate(request)
