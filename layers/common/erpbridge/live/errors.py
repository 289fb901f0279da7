"""Errors of the live API that are not about the ERP: the API maps each to one HTTP status."""

from __future__ import annotations

from erpbridge.errors import ErpBridgeError


class LiveApiError(ErpBridgeError):
    """Base of the live API's own errors."""


class NotFoundError(LiveApiError):
    """The order, customer or document does not exist (404)."""


class ConflictError(LiveApiError):
    """The request conflicts with an earlier one: idempotency key reuse, order id reuse (409)."""


class OrderRejectedError(LiveApiError):
    """The ERP refused the order for a business reason (422 ``erp_rejected``). The order is kept
    as ``rejected`` and never sent again on its own; an operator corrects and re-sends it."""

    def __init__(self, order_id: str, erp_message: str) -> None:
        super().__init__(f"the ERP refused order {order_id}: {erp_message}")
        self.order_id = order_id
        self.erp_message = erp_message


class DegradedRefusalError(LiveApiError):
    """The ERP cannot answer and the degradation policy says refuse rather than fall back (503
    ``erp_unavailable`` with ``Retry-After``). ``capability``: prices, basket, checkout, documents."""

    def __init__(self, capability: str, reason: str, *, retry_after_s: float) -> None:
        super().__init__(f"{capability}: the ERP cannot answer right now ({reason}); try again later")
        self.capability = capability
        self.retry_after_s = retry_after_s


class ForbiddenError(LiveApiError):
    """The caller's token does not allow this customer's data (403)."""


class UnauthorizedError(LiveApiError):
    """A customer token is required but missing or invalid (401)."""


class TokenKeysUnavailableError(LiveApiError):
    """The identity provider's signing keys (JWKS) cannot be fetched: the token may be fine (503)."""


class BadRequestError(LiveApiError):
    """The request body cannot be read: not UTF-8, not JSON, too deep or too large (400)."""


class UnsupportedMediaTypeError(LiveApiError):
    """The request body is not ``application/json`` (415)."""


class MethodNotAllowedError(LiveApiError):
    """The path exists, but not with this HTTP method (405 with ``Allow``)."""

    def __init__(self, method: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"{method} is not allowed here; allowed: {', '.join(allowed)}")
        self.allowed = allowed


class InvalidRequestError(LiveApiError):
    """A request value the schema allows but this API cannot serve (422 with the field)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
