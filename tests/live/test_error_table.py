"""Errors → HTTP: one table walked by class hierarchy, a status and an error code for every class."""

from __future__ import annotations

import importlib
import re
from http import HTTPStatus

import pytest
from live_errors import STATUS, answer_for, map_error

from erpbridge import errors
from erpbridge.live import errors as live

# Every module that defines an erpbridge error class.
ERROR_MODULES = (
    "erpbridge.errors",
    "erpbridge.live.errors",
    "erpbridge.erp.auth",
    "erpbridge.erp.breaker",
    "erpbridge.erp.limiter",
    "erpbridge.batch.workflow",
)


def _all_error_classes() -> list[type[errors.ErpBridgeError]]:
    for module in ERROR_MODULES:
        importlib.import_module(module)
    found: list[type[errors.ErpBridgeError]] = []
    pending: list[type[errors.ErpBridgeError]] = [errors.ErpBridgeError]
    while pending:
        cls = pending.pop()
        if cls.__module__.startswith("erpbridge.") and cls not in found:
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: cls.__name__)


@pytest.mark.parametrize("error_class", _all_error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_class_has_a_status_and_an_error_code_when_walked_by_its_mro(error_class: type) -> None:
    # GIVEN an error class erpbridge raises WHEN the API answers it
    entry = answer_for(error_class)
    decided_by = next(cls for cls in error_class.__mro__ if cls in STATUS)
    # THEN a class below the root decided (no class falls through to "internal" by accident)
    assert decided_by is not errors.ErpBridgeError or error_class is errors.ErpBridgeError
    assert entry.status in set(HTTPStatus) and 400 <= entry.status < 600
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", entry.error)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (live.BadRequestError("x"), 400, "bad_request"),
        (live.UnauthorizedError("x"), 401, "unauthorized"),
        (live.ForbiddenError("x"), 403, "forbidden"),
        (live.NotFoundError("x"), 404, "not_found"),
        (live.MethodNotAllowedError("PUT", ("GET",)), 405, "method_not_allowed"),
        (live.ConflictError("x"), 409, "conflict"),
        (live.UnsupportedMediaTypeError("x"), 415, "unsupported_media_type"),
        (live.InvalidRequestError("items", "too many"), 422, "validation_error"),
        (live.TokenKeysUnavailableError("x"), 503, "token_keys_unavailable"),
        (errors.ErpBusyError("x", retry_after_s=7), 503, "erp_busy"),
        (errors.ErpUnavailableError("x"), 503, "erp_unavailable"),
        (errors.ErpMisconfiguredError("x", setting="ERPBRIDGE_ERP_URL"), 503, "erp_unavailable"),
        (errors.DatabaseUnavailableError("x"), 503, "database_unavailable"),
        (errors.ShopDatabaseError("x"), 503, "database_unavailable"),
        (errors.ErpTimeoutError("x"), 504, "erp_timeout"),
        (errors.ErpOutcomeUnknownError("x"), 504, "erp_timeout"),
        (errors.ErpAuthError("x"), 502, "erp_auth"),
        (errors.ErpFaultError("x", erp_message="Item 1 is blocked"), 502, "erp_fault"),
        (errors.ErpResponseError("x"), 502, "erp_bad_response"),
        (errors.MalformedXmlError("x"), 502, "erp_bad_response"),
        (errors.ProtocolError("x"), 502, "erp_bad_response"),
        (errors.ConfigurationError("x"), 500, "configuration"),
        (errors.MappingError("x"), 500, "configuration"),
        (RuntimeError("boom"), 500, "internal"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_the_http_answer_of_each_error_is_its_documented_status_when_a_route_raises_it(
    error: Exception, status: int, code: str
) -> None:
    response = map_error(error)
    assert (response.status_code, code) == (status, _body(response)["error"])


def test_the_answer_carries_the_errors_details_when_the_class_has_them() -> None:
    busy = map_error(errors.ErpBusyError("x", retry_after_s=7))
    assert (busy.headers["Retry-After"], _body(busy)["retry_after_s"]) == ("7", 7)
    assert map_error(live.MethodNotAllowedError("PUT", ("GET", "POST"))).headers["Allow"] == "GET, POST"
    fault = _body(map_error(errors.ErpFaultError("x", erp_message="Item 1 is blocked")))
    assert fault["message"] == "the ERP failed to process the request: Item 1 is blocked"
    invalid = _body(map_error(live.InvalidRequestError("items", "too many")))
    assert invalid["detail"] == [{"field": "items", "reason": "too many"}]
    assert "boom" not in _body(map_error(RuntimeError("boom")))["message"]  # 5xx never echo the text


def test_an_unknown_outcome_is_not_a_timeout_when_the_caller_decides_whether_to_resend() -> None:
    assert not issubclass(errors.ErpOutcomeUnknownError, errors.ErpTimeoutError)


def test_the_error_tree_in_the_docstring_names_every_error_class_when_read() -> None:
    tree = errors.__doc__ or ""
    missing = [
        cls.__name__
        for cls in _all_error_classes()
        if cls.__module__ in ("erpbridge.errors", "erpbridge.live.errors") and cls.__name__ not in tree
    ]
    assert missing == []


def _body(response: object) -> dict[str, object]:
    import json

    return json.loads(response.body)  # type: ignore[attr-defined,no-any-return]
