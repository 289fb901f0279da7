"""The typed errors every part of erpbridge raises.

Each error says what went wrong and where; adapters at the edge (the API's exception handler,
the batch handlers, the CLI) map these classes to HTTP codes, run states and exit codes in one
place. Messages never contain secrets.
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


class ErpOutcomeUnknownError(ErpTimeoutError):
    """A non-retryable request (create order) was sent but no answer arrived: it may have been applied."""


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
    """The shop database refused a statement (constraint, connection); the transaction was rolled back."""


class ImportLockedError(ErpBridgeError):
    """Another import of the same job (or file) holds the import lock in the shop database, so this
    one did not start: nothing was written, and trying again later will work. ``holder_pid`` is the
    holder's database session (PostgreSQL), when known."""

    def __init__(self, message: str, *, job: str, holder_pid: int | None = None) -> None:
        self.job = job
        self.holder_pid = holder_pid
        super().__init__(message)
