"""Errors → HTTP, in one place. Bodies are short and clear: never a stack trace, input or secret."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass
from http import HTTPStatus
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


@dataclass(frozen=True)
class HttpAnswer:
    """How one error class is answered: status, error code, and the message when it is fixed
    (None = the error's own text, for errors whose text is written for the caller)."""

    status: HTTPStatus
    error: str
    message: str | None = None
    retry_after_s: float | None = None
    log_level: int | None = None  # logged (without the exception's text for 5xx) at this level


_BAD_ANSWER = HttpAnswer(
    HTTPStatus.BAD_GATEWAY,
    "erp_bad_response",
    "the ERP's answer could not be used",
    log_level=logging.WARNING,
)
_INTERNAL = HttpAnswer(
    HTTPStatus.INTERNAL_SERVER_ERROR, "internal", "internal error", log_level=logging.CRITICAL
)

# The one table: an error is answered by the entry of the first class in its MRO found here.
STATUS: dict[type[errors.ErpBridgeError], HttpAnswer] = {
    errors.ErpBridgeError: _INTERNAL,
    # the request: fix it and send again
    live.BadRequestError: HttpAnswer(HTTPStatus.BAD_REQUEST, "bad_request"),
    errors.UnknownShopError: HttpAnswer(HTTPStatus.BAD_REQUEST, "unknown_shop"),
    live.UnsupportedMediaTypeError: HttpAnswer(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
    live.MethodNotAllowedError: HttpAnswer(HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed"),
    live.InvalidRequestError: HttpAnswer(
        HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error", "the request is invalid"
    ),
    live.UnauthorizedError: HttpAnswer(HTTPStatus.UNAUTHORIZED, "unauthorized"),
    live.ForbiddenError: HttpAnswer(HTTPStatus.FORBIDDEN, "forbidden"),
    live.NotFoundError: HttpAnswer(HTTPStatus.NOT_FOUND, "not_found"),
    live.ConflictError: HttpAnswer(HTTPStatus.CONFLICT, "conflict"),
    # the ERP refused it for a business reason: correct it, never re-send it unchanged
    live.OrderRejectedError: HttpAnswer(HTTPStatus.UNPROCESSABLE_ENTITY, "erp_rejected"),
    # the degradation policy says refuse while the ERP cannot answer (Retry-After)
    live.DegradedRefusalError: HttpAnswer(HTTPStatus.SERVICE_UNAVAILABLE, "erp_unavailable"),
    live.LiveApiError: _INTERNAL,
    # retry later (Retry-After)
    live.TokenKeysUnavailableError: HttpAnswer(
        HTTPStatus.SERVICE_UNAVAILABLE, "token_keys_unavailable", retry_after_s=30.0, log_level=logging.ERROR
    ),
    errors.ErpBusyError: HttpAnswer(
        HTTPStatus.SERVICE_UNAVAILABLE, "erp_busy", "the ERP is busy; try again later", retry_after_s=5.0
    ),
    errors.ErpUnavailableError: HttpAnswer(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "erp_unavailable",
        "the ERP cannot be reached right now",
        retry_after_s=30.0,
    ),
    errors.ShopDatabaseError: HttpAnswer(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "database_unavailable",
        "the shop database is unavailable",
        retry_after_s=5.0,
        log_level=logging.ERROR,
    ),
    # the ERP did not answer in time: for an order, its outcome is resolved before any re-send
    errors.ErpTimeoutError: HttpAnswer(
        HTTPStatus.GATEWAY_TIMEOUT, "erp_timeout", "the ERP did not answer in time"
    ),
    errors.ErpOutcomeUnknownError: HttpAnswer(
        HTTPStatus.GATEWAY_TIMEOUT, "erp_timeout", "the ERP did not answer in time"
    ),
    # the ERP failed or answered nonsense: operators look
    errors.ErpAuthError: HttpAnswer(
        HTTPStatus.BAD_GATEWAY,
        "erp_auth",
        "the ERP rejected erpbridge's credentials; operators were alerted",
        log_level=logging.ERROR,
    ),
    errors.ErpFaultError: HttpAnswer(
        HTTPStatus.BAD_GATEWAY, "erp_fault", "the ERP failed to process the request"
    ),
    errors.ErpRejectedError: HttpAnswer(HTTPStatus.UNPROCESSABLE_ENTITY, "erp_rejected"),
    errors.ErpError: _BAD_ANSWER,
    errors.XmlError: _BAD_ANSWER,
    errors.ProtocolError: _BAD_ANSWER,
    # erpbridge itself is wrong: operators fix it
    errors.ConfigurationError: HttpAnswer(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "configuration",
        "erpbridge is misconfigured; operators were alerted",
        log_level=logging.ERROR,
    ),
    errors.ImportRejectedError: _INTERNAL,
    errors.ImportLockedError: _INTERNAL,
    errors.BatchRunError: _INTERNAL,
}


def answer_for(error_class: type[BaseException]) -> HttpAnswer:
    """The entry of the most specific class of ``error_class``'s MRO in :data:`STATUS`."""
    for cls in error_class.__mro__:
        found = STATUS.get(cls)
        if found is not None:
            return found
    return _INTERNAL


def map_error(error: Exception) -> Response[Any]:
    """The HTTP answer for any error a route raised (5xx bodies never echo the exception's text)."""
    entry = answer_for(type(error))
    if entry.log_level == logging.CRITICAL or not isinstance(error, errors.ErpBridgeError):
        log.exception("unexpected error", exc_info=error)
    elif entry.log_level is not None:
        name = type(error).__name__
        log.log(entry.log_level, "%s answered %d %s: %s", name, entry.status, entry.error, error)
    message = str(error) if entry.message is None else entry.message
    retry_after_s = entry.retry_after_s
    detail: list[dict[str, str]] | None = None
    headers: dict[str, str] | None = None
    erp_message: str | None = None
    order_id: str | None = None
    match error:
        case live.MethodNotAllowedError():
            headers = {"Allow": ", ".join(error.allowed)}
        case live.InvalidRequestError():
            detail = [{"field": error.field, "reason": error.reason}]
        case live.OrderRejectedError():
            erp_message, order_id = error.erp_message, error.order_id
        case live.DegradedRefusalError():
            retry_after_s = error.retry_after_s
        case errors.ErpBusyError():
            retry_after_s = error.retry_after_s or retry_after_s
        case errors.ErpRejectedError():
            erp_message = (error.erp_message or str(error))[:300]
            message = f"the ERP refused the request: {erp_message}"
        case errors.ErpFaultError() if error.erp_message:
            message += f": {error.erp_message[:300]}"
    return error_response(
        entry.status,
        entry.error,
        message,
        detail=detail,
        retry_after_s=retry_after_s,
        headers=headers,
        erp_message=erp_message,
        order_id=order_id,
    )
