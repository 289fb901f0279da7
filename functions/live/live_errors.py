"""Errors → HTTP, in one place. Bodies are short and clear: never a stack trace, input or secret."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Response

from erpbridge import errors
from erpbridge.live import errors as live
from erpbridge.live.request_body import decode_body

log = logging.getLogger("erpbridge.live.api")


def json_response(status_code: int, body: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        status_code=status_code,
        content_type="application/json",
        body=json.dumps(body, separators=(",", ":"), default=str),
        headers=headers,
    )


def error_response(
    status_code: int,
    error: str,
    message: str,
    *,
    detail: list[dict[str, str]] | None = None,
    retry_after_s: float | None = None,
    headers: dict[str, str] | None = None,
    erp_message: str | None = None,
    order_id: str | None = None,
) -> Response[Any]:
    body: dict[str, Any] = {"error": error, "message": message}
    if detail is not None:
        body["detail"] = detail
    if erp_message is not None:
        body["erp_message"] = erp_message
    if order_id is not None:
        body["order_id"] = order_id
    headers = dict(headers or {})
    if retry_after_s is not None:
        body["retry_after_s"] = retry_after_s
        headers["Retry-After"] = str(max(1, round(retry_after_s)))
    return json_response(status_code, body, headers or None)


def validation_detail(raw_errors: Any) -> list[dict[str, str]]:
    """Field path and reason of each problem; the offending input is not echoed back."""
    detail = []
    for problem in raw_errors:
        location = ".".join(str(part) for part in problem.get("loc", ()))
        reason = problem.get("msg") or problem.get("type") or "invalid"
        detail.append({"field": location, "reason": str(reason)})
    return detail


def unsupported_media_type(event: Any) -> live.UnsupportedMediaTypeError | None:
    """415 when a request carries a body that is not declared as JSON (no Content-Type = JSON)."""
    if event.http_method not in ("POST", "PUT", "PATCH"):
        return None
    content_type = (event.headers.get("content-type") or "").strip()
    # The rule Powertools applies when it reads the body (a parameter such as charset may follow).
    if not content_type or content_type.startswith("application/json"):
        return None
    return live.UnsupportedMediaTypeError("the body must be sent as Content-Type: application/json")


def unreadable_body(event: Any) -> live.BadRequestError | None:
    """400 when the request body's bytes (base64 in the event) are not UTF-8 text."""
    if not event.is_base64_encoded or not event.body:
        return None
    try:
        decode_body(base64.b64decode(event.body, validate=False))
    except live.BadRequestError as error:
        return error
    except binascii.Error:
        return live.BadRequestError("the body is not valid base64")
    return None


def request_problem(event: Any) -> live.LiveApiError | None:
    """What is wrong with the request's body itself (content type, bytes), if anything."""
    return unsupported_media_type(event) or unreadable_body(event)


def method_not_allowed(app: Any, method: str, path: str) -> live.MethodNotAllowedError | None:
    """405 + Allow when the path is a route of other methods (None: the path is unknown, 404)."""
    routes = app._static_routes + app._dynamic_routes  # Powertools keeps no public route table
    allowed = sorted({route.method for route in routes if route.rule.match(path)} - {method.upper()})
    return live.MethodNotAllowedError(method.upper(), tuple(allowed)) if allowed else None


def map_error(error: Exception) -> Response[Any]:
    """The HTTP answer for any error a route raised."""
    match error:
        case live.BadRequestError():
            return error_response(400, "bad_request", str(error))
        case live.UnsupportedMediaTypeError():
            return error_response(415, "unsupported_media_type", str(error))
        case live.MethodNotAllowedError():
            return error_response(
                405, "method_not_allowed", str(error), headers={"Allow": ", ".join(error.allowed)}
            )
        case live.InvalidRequestError():
            detail = [{"field": error.field, "reason": error.reason}]
            return error_response(422, "validation_error", "the request is invalid", detail=detail)
        case live.OrderRejectedError():
            return error_response(
                422, "erp_rejected", str(error), erp_message=error.erp_message, order_id=error.order_id
            )
        case live.DegradedRefusalError():
            return error_response(503, "erp_unavailable", str(error), retry_after_s=error.retry_after_s)
        case live.UnauthorizedError():
            return error_response(401, "unauthorized", str(error))
        case live.ForbiddenError():
            return error_response(403, "forbidden", str(error))
        case live.NotFoundError():
            return error_response(404, "not_found", str(error))
        case live.ConflictError():
            return error_response(409, "conflict", str(error))
        case live.TokenKeysUnavailableError():
            log.error("JWKS unreachable")
            return error_response(503, "token_keys_unavailable", str(error), retry_after_s=30.0)
        case errors.ErpBusyError():
            return error_response(
                503, "erp_busy", "the ERP is busy; try again later", retry_after_s=error.retry_after_s or 5.0
            )
        case errors.ErpUnavailableError():
            return error_response(
                503, "erp_unavailable", "the ERP cannot be reached right now", retry_after_s=30.0
            )
        case errors.ErpTimeoutError():
            return error_response(504, "erp_timeout", "the ERP did not answer in time")
        case errors.ErpAuthError():
            log.error("the ERP rejected erpbridge's credentials")
            return error_response(
                502, "erp_auth", "the ERP rejected erpbridge's credentials; operators were alerted"
            )
        case errors.ErpRejectedError():
            erp_message = (error.erp_message or str(error))[:300]
            return error_response(
                422, "erp_rejected", f"the ERP refused the request: {erp_message}", erp_message=erp_message
            )
        case errors.ErpFaultError():
            message = "the ERP failed to process the request"
            if error.erp_message:
                message += f": {error.erp_message[:300]}"
            return error_response(502, "erp_fault", message)
        case errors.ErpError() | errors.XmlError() | errors.ProtocolError():
            log.warning("unusable ERP answer: %s", type(error).__name__)
            return error_response(502, "erp_bad_response", "the ERP's answer could not be used")
        case errors.ShopDatabaseError():
            log.error("shop database error: %s", type(error).__name__)
            return error_response(
                503, "database_unavailable", "the shop database is unavailable", retry_after_s=5.0
            )
        case errors.ConfigurationError():
            log.error("configuration error: %s", error)
            return error_response(500, "configuration", "erpbridge is misconfigured; operators were alerted")
    if type(error).__module__.startswith(("sqlalchemy", "psycopg", "sqlite3")):
        # Nothing was answered yet; an order's idempotency claim was released, so a retry is safe.
        log.exception("shop database error", exc_info=error)
        return error_response(
            503, "database_unavailable", "the shop database is unavailable", retry_after_s=5.0
        )
    log.exception("unexpected error", exc_info=error)
    return error_response(500, "internal", "internal error")
