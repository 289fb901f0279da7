"""The admin API's Lambda handler: the operator console (HTML) and its JSON API, one function.

Thin: authentication in ``erpbridge.admin.auth``, use cases in ``erpbridge.admin.service``, pages
in ``erpbridge.admin.web``, routes in ``admin_routes``. Every request is identified first (IAM
principal or console token); every POST is an action and, from a browser session, must carry
the page's CSRF value. Nothing changes on GET.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import admin_routes
from admin_routes import current_operator, html, map_error
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.api_gateway import Response
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from erpbridge import __version__

logger = Logger(service="erpbridge-admin")

TITLE = "erpbridge admin API"
DESCRIPTION = (
    "What operators see and do: jobs with Run now, runs, failed files, mappings, orders to rescue and "
    "ERP health. Authorised with IAM (SigV4) in AWS; with the console's token locally."
)

app = APIGatewayRestResolver(enable_validation=True)
app.include_router(admin_routes.router)


def _identify(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    event = app.current_event
    if event.path in ("/login", "/favicon.ico"):
        return next_middleware(app)
    try:
        admin_routes.identify_request(event)
    except Exception as error:
        return map_error(error, wants_html=admin_routes.wants_html(event))
    return next_middleware(app)


app.use([_identify])


@app.exception_handler(RequestValidationError)
def _invalid(error: RequestValidationError) -> Response[Any]:
    detail = [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "reason": str(e.get("msg", "invalid"))}
        for e in error.errors()
    ]
    return Response(
        status_code=422,
        content_type="application/json",
        body=json.dumps({"error": "validation_error", "message": "the request is invalid", "detail": detail}),
    )


@app.exception_handler(ServiceError)
def _http_error(error: ServiceError) -> Response[Any]:
    if admin_routes.wants_html(app.current_event):
        return html("message.html", error.status_code, title="Not found", message=error.msg or "no such page")
    return Response(
        status_code=error.status_code,
        content_type="application/json",
        body=json.dumps(
            {"error": "not_found" if error.status_code == 404 else "http_error", "message": error.msg}
        ),
    )


@app.exception_handler(Exception)
def _any_error(error: Exception) -> Response[Any]:
    return map_error(error, wants_html=admin_routes.wants_html(app.current_event))


def openapi_document() -> dict[str, Any]:
    """The admin API's OpenAPI 3.1 document (``make openapi`` writes admin-openapi.json)."""
    schema: Any = app.get_openapi_json_schema(title=TITLE, version=__version__, description=DESCRIPTION)
    return schema if isinstance(schema, dict) else json.loads(schema)


_one_invocation = threading.Lock()  # Powertools keeps the current event on shared objects


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with _one_invocation:
        current_operator.clear()
        return _invoke(event, context)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def _invoke(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
