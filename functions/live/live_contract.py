"""What openapi.json says about each route beyond its types: who may call it, what it answers.

A route lists the reasons it can fail (``CUSTOMER_TOKEN``, ``JSON_BODY``, ``ERP``, …); each reason
brings the statuses ``live_errors.map_error`` gives for it, so an operation documents the answers
it can really give and no others (health has no 404 or 409). API Gateway answers two of its own on
every route (``GATEWAY``: a missing API key, throttling), in the same ``ErrorBody`` shape
(template.yaml ``GatewayResponses``). 429 and 503 carry ``Retry-After``.

Security: API Gateway requires the storefront's API key (``x-api-key``) on every route; a customer
token (``Authorization: Bearer <JWT>``) may come with it and narrows the call to its customer.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import (
    APIKey,
    APIKeyIn,
    Example,
    HTTPBearer,
    SecurityScheme,
)
from aws_lambda_powertools.event_handler.openapi.types import (
    OpenAPIResponse,
    OpenAPIResponseContentModel,
    OpenAPIResponseHeader,
)

from erpbridge.live.models import ErrorBody

Reason = dict[int, str]

GATEWAY: Reason = {
    403: "API Gateway: the x-api-key header is missing or not a valid key",
    429: "API Gateway: too many requests (Retry-After) or the key's daily quota is used up",
}
CUSTOMER_TOKEN: Reason = {
    401: "the customer token is required but missing, or malformed, expired or wrongly signed",
    403: "the customer token's customer may not access this customer or order",
    503: "the customer token's signing keys (JWKS) cannot be fetched right now",
}
PARAMETERS: Reason = {422: "a path or query parameter is invalid: field and reason in detail"}
JSON_BODY: Reason = {
    400: "the body is not UTF-8, not JSON, too deep or too big",
    415: "the body is not sent as Content-Type: application/json",
    422: "the body or a header is invalid: field and reason in detail",
}
SHOP: Reason = {400: "unknown_shop: no ERP endpoint serves the shop_id (the message lists the known shops)"}
SHOP_DATABASE: Reason = {503: "the shop database is unavailable"}
NOT_FOUND: Reason = {404: "no such order, customer or document"}
IDEMPOTENCY: Reason = {
    409: "the Idempotency-Key was used with another body or is still being processed, or the "
    "order id exists with other content"
}
ERP: Reason = {
    502: "the ERP failed, rejected erpbridge's credentials or answered something unusable",
    503: "the ERP is unreachable or busy",
    504: "the ERP did not answer in time",
}
ERP_REFUSED: Reason = {
    422: "erp_rejected: the ERP refused it (erp_message says why; sending it again unchanged fails "
    "the same way)"
}
DEGRADED: Reason = {503: "the ERP cannot answer and the degradation policy (ERPBRIDGE_DEGRADE_*) refuses"}

RETRY_AFTER: dict[str, OpenAPIResponseHeader] = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
    }
}
_RETRY_STATUSES = (429, 503)

API_KEY_SCHEME = "ApiKey"
BEARER_SCHEME = "CustomerToken"
SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    API_KEY_SCHEME: APIKey(
        name="x-api-key",
        in_=APIKeyIn.header,  # type: ignore[call-arg]  # pydantic alias "in"
        description="The storefront's API key (API Gateway usage plan); required on every route.",
    ),
    BEARER_SCHEME: HTTPBearer(
        bearerFormat="JWT",
        description="A customer-scoped token: the call may only touch the customer in its "
        "customer claim. Required when ERPBRIDGE_JWT_REQUIRED is set.",
    ),
}
STOREFRONT: list[dict[str, list[str]]] = [{API_KEY_SCHEME: []}]
"""The API key alone (the route serves no customer's data)."""
STOREFRONT_OR_CUSTOMER: list[dict[str, list[str]]] = [
    {API_KEY_SCHEME: []},
    {API_KEY_SCHEME: [], BEARER_SCHEME: []},
]
"""The API key, with or without a customer token."""


def examples(**named: Any) -> dict[str, Example]:
    """Named examples of a body or parameter: ``examples(invoice="PSI-103006")``."""
    return {name: Example(value=value) for name, value in named.items()}


def success(
    status: int, description: str, model: type, example: Any, *, name: str = "example"
) -> dict[int, OpenAPIResponse]:
    """A JSON success answer with its schema (``model``) and one example."""
    media: OpenAPIResponseContentModel = {"model": model, "examples": {name: {"value": example}}}
    return {status: {"description": description, "content": {"application/json": media}}}


def responses(*answers: dict[int, OpenAPIResponse], fails: tuple[Reason, ...]) -> dict[int, OpenAPIResponse]:
    """A route's ``responses``: its success answers, then one per status its reasons can give."""
    documented: dict[int, OpenAPIResponse] = {}
    for answer in answers:
        documented.update(answer)
    why: dict[int, list[str]] = {}
    for reason in (GATEWAY, *fails):
        for status, text in reason.items():
            why.setdefault(status, []).append(text)
    for status in sorted(why):
        error: OpenAPIResponse = {
            "description": "; ".join(why[status]),
            "content": {"application/json": {"model": ErrorBody}},
        }
        if status in _RETRY_STATUSES:
            error["headers"] = RETRY_AFTER
        documented[status] = error
    return documented


_POWERTOOLS_422 = "#/components/schemas/HTTPValidationError"


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """Powertools adds its own 422 to every route (health has no input to refuse) and schemas no
    answer uses; both go, so the document holds only what the API answers."""
    for operations in document["paths"].values():
        for operation in operations.values():
            refused = operation["responses"].get("422", {}).get("content", {}).get("application/json", {})
            if refused.get("schema") == {"$ref": _POWERTOOLS_422}:
                del operation["responses"]["422"]
    schemas = document["components"]["schemas"]
    used = _references(document["paths"])
    while True:
        more = _references([schemas[name] for name in used]) - used
        if not more:
            break
        used |= more
    document["components"]["schemas"] = {name: schema for name, schema in schemas.items() if name in used}
    return document


def _references(node: Any) -> set[str]:
    prefix = "#/components/schemas/"
    if isinstance(node, dict):
        found = {node["$ref"][len(prefix) :]} if str(node.get("$ref", "")).startswith(prefix) else set()
        for value in node.values():
            found |= _references(value)
        return found
    if isinstance(node, list):
        return set().union(*(_references(value) for value in node)) if node else set()
    return set()
