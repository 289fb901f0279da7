"""The live API's Lambda handler (API Gateway REST → Powertools resolver → routes).

Thin on purpose: routes live in ``routes_*.py``, use cases in ``erpbridge.live``, error mapping in
``live_errors``. No Tracer (its X-Ray SDK import costs ~300 ms of cold start; the function has
``Tracing: Active`` instead); services are built on the first request, not at import.

One invocation at a time per process, as Lambda runs them: the Powertools resolver keeps the
current event and route on shared objects, Logger and Metrics keep per-invocation keys and metrics,
so the handler holds a lock while it resolves. A threaded host (``erpbridge serve``, tests) reads
and writes its sockets in parallel and resolves one request after the other
(docs/live-concurrency.md).
"""

from __future__ import annotations

import json
import os
import threading
from typing import TYPE_CHECKING, Any

import routes_documents
import routes_orders
import routes_prices
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.api_gateway import Response
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from live_contract import SECURITY_SCHEMES, finish
from live_errors import (
    error_response,
    map_error,
    method_not_allowed,
    request_problem,
    validation_detail,
)

if TYPE_CHECKING:
    from erpbridge.live.ports import Metric

from erpbridge import __version__
from erpbridge.live.errors import UnsupportedMediaTypeError
from erpbridge.live.request_body import parse_json_body
from erpbridge.wiring.live import use_metrics

logger = Logger()
metrics = Metrics()

TITLE = "erpbridge live API"
DESCRIPTION = (
    "Customer-specific prices and stock, basket totals, orders that are never lost and never created "
    "twice, customer documents and health, live from Business Central."
)

app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=parse_json_body)
app.configure_openapi(
    title=TITLE, version=__version__, description=DESCRIPTION, security_schemes=SECURITY_SCHEMES
)
app.include_router(routes_prices.router)
app.include_router(routes_orders.router)
app.include_router(routes_documents.router)

if os.environ.get("ERPBRIDGE_STAGE", "local") in ("dev", "local"):
    app.enable_swagger(path="/v1/swagger")


@app.exception_handler(RequestValidationError)
def _invalid_request(error: RequestValidationError) -> Response[Any]:
    problem = request_problem(app.current_event)  # a form body fails validation before anything
    if problem is not None:
        return map_error(problem)
    return error_response(
        422, "validation_error", "the request is invalid", detail=validation_detail(error.errors())
    )


@app.exception_handler([RequestUnsupportedContentType, UnicodeDecodeError, ValueError])
def _unreadable_request(error: Exception) -> Response[Any]:
    """Powertools fails this way reading a body of another content type (multipart without a
    boundary: ValueError) or bytes that are not UTF-8: the caller's fault, if so, is said here."""
    problem = request_problem(app.current_event)
    if problem is None and isinstance(error, RequestUnsupportedContentType):
        problem = UnsupportedMediaTypeError("the body must be sent as Content-Type: application/json")
    return map_error(problem or error)


@app.exception_handler(ServiceError)
def _http_error(error: ServiceError) -> Response[Any]:
    """Powertools' own HTTP errors (unknown route = 404, …), in the same body shape."""
    if error.status_code == 404:
        event = app.current_event
        wrong_method = method_not_allowed(app, event.http_method, event.path)
        if wrong_method is not None:
            return map_error(wrong_method)
        return error_response(404, "not_found", _message(error))
    return error_response(error.status_code, "http_error", _message(error))


def _message(error: ServiceError) -> str:
    return error.msg if isinstance(error.msg, str) and error.msg else "no such route"


@app.exception_handler(Exception)
def _any_error(error: Exception) -> Response[Any]:
    return map_error(error)


# Price-chunk workers emit ErpLatency, and one that outlives its request's deadline may do so while
# another invocation flushes: adding and flushing take this lock.
_metrics_lock = threading.Lock()


class PowertoolsMetrics:
    """Use-case metrics as CloudWatch EMF (flushed at the end of each invocation)."""

    def emit(self, metric: Metric) -> None:
        with _metrics_lock:
            metrics.add_metric(name=metric.name, unit=MetricUnit(metric.unit), value=metric.value)


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of this API (``make openapi`` writes it to openapi.json)."""
    schema: dict[str, Any] | str = app.get_openapi_json_schema()
    return finish(schema if isinstance(schema, dict) else json.loads(schema))


use_metrics(PowertoolsMetrics())


# Powertools keeps the event on its BaseRouter class and the route in app.context: two invocations
# resolving at once read each other's path, query, body and headers (another customer's answer).
_one_invocation = threading.Lock()


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with _one_invocation:  # never contended in Lambda; serialises a threaded host's requests
        try:
            return _invoke(event, context)
        finally:
            with _metrics_lock:  # what @metrics.log_metrics does, never while a worker adds one
                metrics.flush_metrics()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def _invoke(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
