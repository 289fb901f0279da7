"""The typed errors every part of erpbridge raises, grouped by what the caller should do.

Each error says what went wrong and where; the edges (the API's one table in
``functions/live/live_errors.py``, the batch handlers, the CLI) map these classes to HTTP codes,
run states and exit codes in one place, by class, never by message. Messages never contain secrets.

::

    ErpBridgeError                      root: everything erpbridge raises on purpose
    ├── ConfigurationError              fix a setting (the message names it)
    │   └── MappingError                fix the job's mapping (.problems lists all)
    ├── XmlError                        refuse the document (.where)
    │   ├── MalformedXmlError
    │   └── XmlSecurityError            hostile: DTD, entity, limit
    ├── ProtocolError                   well-formed, wrong shape
    ├── ErpError                        the ERP
    │   ├── ErpUnavailableError         retry later: nothing was sent
    │   │   └── ErpMisconfiguredError   fix a setting (.setting): the wrong service answers
    │   ├── ErpBusyError                retry after .retry_after_s (429/503)
    │   ├── ErpTimeoutError             retry (reads): no answer in time
    │   ├── ErpOutcomeUnknownError      never re-send blindly: reconcile first (create sent, no answer)
    │   ├── ErpAuthError                operators fix credentials
    │   ├── ErpFaultError               the ERP failed the request (.erp_message)
    │   │   └── ErpRejectedError        correct it: the ERP refused it for a business reason
    │   └── ErpResponseError            the answer is unusable
    ├── UnknownShopError                fix the request: no ERP endpoint serves the shop (.known)
    ├── ShopDatabaseError               the shop database refused (constraint, value)
    │   └── DatabaseUnavailableError    retry later: unreachable, lost, locked, not migrated
    ├── ImportRejectedError             the staged file goes to failed/ (.report)
    ├── ImportLockedError               retry later: another import holds the lock
    ├── BatchRunError                   a paged run's workflow step cannot go on (erpbridge.batch.workflow)
    │   ├── RunNotReadyError            retry later: pages still importing
    │   ├── RunBlockedError, PageFailedError  the run ends failed
    │   └── LockLostError               stop fetching: another run took the lock
    └── LiveApiError                    the live API's own (erpbridge.live.errors)
        ├── BadRequestError, UnsupportedMediaTypeError, MethodNotAllowedError, InvalidRequestError
        ├── UnauthorizedError, ForbiddenError, NotFoundError, ConflictError
        ├── OrderRejectedError          correct and re-send: the ERP refused the order (422)
        ├── DegradedRefusalError        retry later: the degradation policy refuses (503)
        └── TokenKeysUnavailableError   retry later: the identity provider's keys
"""

from __future__ import annotations


class ErpBridgeError(Exception):
    """Base of every error erpbridge raises on purpose."""


class ConfigurationError(ErpBridgeError):
    """A setting is missing or invalid; the message names the setting."""


# --- protocol ---------------------------------------------------------------------------------


class XmlError(ErpBridgeError):
    """An XML document could not be accepted. `where` says where in the document."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{message} (at {where})" if where else message)


class MalformedXmlError(XmlError):
    """The document is not well-formed (truncated, invalid encoding, bad syntax)."""


class XmlSecurityError(XmlError):
    """The document uses a forbidden construct (DTD, entity, external reference) or breaks a limit."""


class ProtocolError(ErpBridgeError):
    """The document is well-formed XML but does not have the shape the protocol requires."""


# --- ERP transport ----------------------------------------------------------------------------


class ErpError(ErpBridgeError):
    """Any failure talking to the ERP."""


class ErpUnavailableError(ErpError):
    """The ERP could not be reached (connection refused, DNS, breaker open). Nothing was sent."""


class ErpMisconfiguredError(ErpUnavailableError):
    """Something answers at the ERP's address, but not the plug-in unit's web service (HTTP 404, a
    redirect, a fault about the service or method): a setting is wrong. ``setting`` names it."""

    def __init__(self, message: str, *, setting: str) -> None:
        self.setting = setting
        super().__init__(message)


class ErpBusyError(ErpError):
    """The ERP asked us to come back later (HTTP 429/503). `retry_after_s` is its hint."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class ErpTimeoutError(ErpError):
    """The ERP did not answer in time."""


class ErpOutcomeUnknownError(ErpError):
    """A non-retryable request (create order) was sent but no answer arrived: it may have been
    applied. Not a timeout to retry: the outcome is looked up in the ERP before any re-send."""


class ErpAuthError(ErpError):
    """The ERP rejected our credentials (HTTP 401/403) or the token endpoint refused them."""


class ErpFaultError(ErpError):
    """The ERP received the request but failed (HTTP 500 / SOAP fault). Carries the ERP's message."""

    def __init__(self, message: str, *, erp_message: str | None = None, status: int | None = None) -> None:
        self.erp_message = erp_message
        self.status = status
        super().__init__(message)


class ErpRejectedError(ErpFaultError):
    """The ERP answered and refused the request for a business reason (an unknown item or customer,
    a blocked item, a credit limit): sending it again unchanged fails the same way, so it is not
    retried. ``erp_message`` is the ERP's own words, fit to show the customer."""


class ErpResponseError(ErpError):
    """The ERP answered, but the answer is unusable (not XML, wrong shape, order not created)."""


class UnknownShopError(ErpBridgeError):
    """The request names a shop no ERP endpoint serves (``ERPBRIDGE_ERP_ENDPOINTS``,
    ``ERPBRIDGE_ERP_DEFAULT_SHOPS``). ``known`` lists the shops that are served."""

    def __init__(self, shop_id: str, known: tuple[str, ...]) -> None:
        self.shop_id = shop_id
        self.known = known
        super().__init__(
            f"no ERP endpoint serves shop {shop_id!r}; known shops: {', '.join(known) or 'none'}"
        )


# --- shop database and mapping ------------------------------------------------------------------


class MappingError(ConfigurationError):
    """A job's mapping does not fit the shop database (or the file): every problem is listed."""

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        super().__init__(message)


class ImportRejectedError(ErpBridgeError):
    """A staged file was not imported (row errors, duplicate keys): nothing was written.
    ``report`` holds the errors (table, row, column, value, reason)."""

    def __init__(self, message: str, *, report: object = None) -> None:
        self.report = report
        super().__init__(message)


class ShopDatabaseError(ErpBridgeError):
    """The shop database refused a statement (constraint, value); the transaction was rolled back."""


class DatabaseUnavailableError(ShopDatabaseError):
    """The shop database cannot serve now (unreachable, connection lost, locked, timed out, not
    migrated): nothing was written, and the same request can be retried later. Raised where the
    driver's error surfaces (:mod:`erpbridge.shopdb.engine`), never built from a message."""


class ImportLockedError(ErpBridgeError):
    """Another import of the same job (or file) holds the import lock in the shop database, so this
    one did not start: nothing was written, and trying again later will work. ``holder_pid`` is the
    holder's database session (PostgreSQL), when known."""

    def __init__(self, message: str, *, job: str, holder_pid: int | None = None) -> None:
        self.job = job
        self.holder_pid = holder_pid
        super().__init__(message)


class BatchRunError(ErpBridgeError):
    """A step of a paged run's workflow cannot go on; Step Functions retries or catches it by
    its class name (see ``erpbridge.batch.workflow``)."""
