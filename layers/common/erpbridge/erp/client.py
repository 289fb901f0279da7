"""The SOAP adapter of :class:`~erpbridge.erp.ports.ErpTransport`: Business Central's plug-in unit
codeunit over HTTP(S) with ``requests`` (pooled connections).

Policy per request kind (README "The protocol" has the table):

* every call has a connect and a read timeout;
* kinds in :data:`RETRY_SAFE` retry connection errors, timeouts, 429 and 502/503/504 with capped
  exponential back-off and jitter, waiting what ``Retry-After`` says on 429/503 (and giving up with
  :class:`ErpBusyError` when it says longer than ``erp_retry_after_max_s``); PING is retry-safe
  but gets one attempt (it is the probe);
* CREATE_ORDER / EXPORT_ORDER are sent once: a connection that fails before the request went out
  is :class:`ErpUnavailableError` ("not sent"), a timeout or dropped connection after it went out
  is :class:`ErpOutcomeUnknownError` ("may have been applied");
* HTTP 500 and SOAP faults are :class:`ErpFaultError` with BC's ``faultstring``, never retried;
* a circuit breaker opens after N consecutive connection failures and refuses calls (not sent)
  until a half-open probe succeeds; ``status()`` is cached for ``erp_status_ttl_s``.
"""

from __future__ import annotations

import email.utils
import io
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from erpbridge.erp.auth import (
    Authenticator,
    RotatingAuth,
    TokenEndpointUnavailableError,
    authenticator_for,
)
from erpbridge.erp.breaker import CircuitBreaker
from erpbridge.erp.limiter import (
    ErpLimitReachedError,
    InMemoryLimiterStore,
    LimiterStore,
    RequestLimiter,
    RequestLimits,
    principal_key,
)
from erpbridge.erp.ports import (
    RETRY_SAFE,
    BreakerPhase,
    BreakerState,
    ErpCondition,
    ErpStatus,
    InMemoryBreakerStore,
    RequestKind,
    Sink,
    StreamedResponse,
)
from erpbridge.erp.soap import (
    SERVICE_FAULT,
    SoapContract,
    build_envelope,
    check_stripped_envelope,
    contract_from_wsdl,
    fault_from_body,
    parse_result,
)
from erpbridge.erp.unescape import InnerDocumentExtractor, rewrite_declared_encoding_text, shared_executor
from erpbridge.errors import (
    ConfigurationError,
    ErpAuthError,
    ErpBusyError,
    ErpError,
    ErpFaultError,
    ErpMisconfiguredError,
    ErpOutcomeUnknownError,
    ErpResponseError,
    ErpTimeoutError,
    ErpUnavailableError,
)
from erpbridge.protocol.request_builders import build_ping
from erpbridge.settings import ErpSettings

__all__ = ["ErpStatus", "SoapErpClient", "pooled_session"]

log = logging.getLogger("erpbridge.erp.client")

CHUNK_BYTES: Final = 1 << 20
# call() parses responses up to this size with lxml; above it (libxml2 caps one text node at
# 10 MB) the streaming extractor unescapes the text into memory instead.
PARSE_IN_MEMORY_BYTES: Final = 8 << 20
FAULT_BODY_BYTES: Final = 1 << 20

T = TypeVar("T")


def pooled_session(pool_size: int = 16) -> requests.Session:
    """A session that keeps connections to the ERP open between calls (and Lambda invocations)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = "erpbridge"
    return session


@dataclass(eq=False)
class _AttemptFailed(Exception):
    """One attempt failed. ``error`` is what the caller sees if no retry follows."""

    error: ErpError
    retryable: bool
    erp_down: bool  # counts as a connection failure for the breaker and the status
    erp_answered: bool = False  # the ERP itself answered (it is up), e.g. 429
    retry_after_s: float | None = None


_CREDENTIALS = {
    "none": "ERPBRIDGE_ERP_AUTH",
    "key": "ERPBRIDGE_ERP_AUTH, ERPBRIDGE_ERP_SECURITY_KEY",
    "basic": "ERPBRIDGE_ERP_AUTH, ERPBRIDGE_ERP_USER, ERPBRIDGE_ERP_PASSWORD",
    "oauth2": "ERPBRIDGE_ERP_AUTH, ERPBRIDGE_ERP_TENANT, ERPBRIDGE_ERP_CLIENT_ID, _CLIENT_SECRET",
}
_SERVICE_SETTINGS = "ERPBRIDGE_ERP_SOAP_SERVICE, ERPBRIDGE_ERP_SOAP_METHOD (or ERPBRIDGE_ERP_URL)"


def _misconfiguration(error: ErpError, kind: RequestKind, settings: ErpSettings) -> tuple[str, str] | None:
    """(reason, setting) when ``error`` shows a wrong setting rather than an answer of the plug-in unit."""
    if isinstance(error, ErpMisconfiguredError):
        return str(error), error.setting
    if isinstance(error, ErpAuthError):
        return str(error), _CREDENTIALS[settings.erp_auth]
    if isinstance(error, ErpFaultError):
        message = error.erp_message or str(error)
        # The connection check carries nothing a business rule could refuse.
        if kind is RequestKind.PING or SERVICE_FAULT.search(message):
            return f"the ERP answered with a fault about the web service: {message}", _SERVICE_SETTINGS
    if isinstance(error, ErpResponseError) and kind is RequestKind.PING:
        return f"the answer is not the plug-in unit's: {error}", _SERVICE_SETTINGS
    return None


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _was_sent(error: requests.ConnectionError) -> bool:
    """Whether the request may have reached the server before the connection failed.

    Only a failure to open the connection (refused, DNS, connect timeout, TLS handshake, proxy)
    proves nothing was sent; a reset or abort on an open connection may come after the ERP got it.
    """
    if isinstance(
        error, requests.ConnectTimeout | requests.exceptions.SSLError | requests.exceptions.ProxyError
    ):
        return False
    from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

    cause: object = error.args[0] if error.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    return not isinstance(cause, NewConnectionError | NameResolutionError)


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class SoapErpClient:
    """Talks to BC's plug-in unit codeunit (or the emulator). Thread-safe; reuse one per process."""

    def __init__(
        self,
        settings: ErpSettings,
        *,
        session: requests.Session | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        jitter: Callable[[], float] = random.random,
        reload: Callable[[], ErpSettings] | None = None,
        credentials_ttl_s: float = 300.0,
        limiter_store: LimiterStore | None = None,
    ) -> None:
        if settings.erp_url is None:
            raise ConfigurationError("ERPBRIDGE_ERP_URL is required to talk to the ERP")
        self.settings = settings
        self.url = str(settings.erp_url)
        self._where = _redacted(self.url)
        self._session = session if session is not None else pooled_session()
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._jitter = jitter
        self._timeout = (settings.erp_connect_timeout_s, settings.erp_timeout_s)
        # With ``reload`` (settings read again, secrets re-fetched), rotated credentials are
        # picked up after credentials_ttl_s or when BC refuses the ones in use.
        self._auth: Authenticator = (
            authenticator_for(settings, self._session, clock=clock)
            if reload is None
            else RotatingAuth(settings, reload, self._session, ttl_s=credentials_ttl_s, clock=clock)
        )
        self.breaker = breaker or CircuitBreaker(
            InMemoryBreakerStore(),
            name=f"erp:{self._where}",
            failure_threshold=settings.erp_breaker_failures,
            cooldown_s=settings.erp_breaker_cooldown_s,
            clock=clock,
        )
        self.limiter = _limiter_for(settings, self.url, limiter_store or InMemoryLimiterStore())
        configured = SoapContract.from_settings(settings)
        self._configured_contract = configured
        self._contract: SoapContract | None = None if settings.erp_soap_discover_wsdl else configured
        self._lock = threading.Lock()
        self._status: ErpStatus | None = None
        self._status_checked = 0.0
        self._last_success: datetime | None = None

    def __repr__(self) -> str:
        return f"SoapErpClient(url={self._where!r}, auth={self.settings.erp_auth!r})"

    # -- the ErpTransport port -------------------------------------------------------------------

    def call(self, request_xml: bytes, *, kind: RequestKind) -> str:
        """Send one request; return the ERP's inner response document (unescaped text)."""
        return self._with_retries(
            kind, lambda: self._limited(kind, lambda: self._call_once(request_xml, kind))
        )

    def stream(
        self, request_xml: bytes, sink: Sink, *, kind: RequestKind = RequestKind.BATCH_FETCH
    ) -> StreamedResponse:
        """Send one request; write the inner response document to ``sink`` as UTF-8, chunk by chunk.

        Retries (for retry-safe kinds) stop once the first byte has reached the sink.
        """
        write: Callable[[bytes], object] = sink if callable(sink) else sink.write
        written = [0]

        def counting_write(data: bytes) -> None:
            write(data)
            written[0] += len(data)

        return self._with_retries(
            kind,
            lambda: self._limited(
                kind, lambda: self._stream_once(request_xml, counting_write, kind, written)
            ),
        )

    def _limited(self, kind: RequestKind, attempt: Callable[[], T]) -> T:
        """One attempt inside a slot of BC's shared request limit (waiting what ``kind`` may wait)."""
        if self.limiter is None:
            return attempt()
        try:
            lease = self.limiter.acquire(wait_s=_limit_wait_s(self.settings, kind))
        except ErpLimitReachedError as error:  # nothing was sent: neither a failure nor a success
            raise _AttemptFailed(error, retryable=False, erp_down=False) from None
        try:
            return attempt()
        finally:
            self.limiter.release(lease)

    # -- availability ----------------------------------------------------------------------------

    def ping(self) -> bool:
        """Send the connection check ``<GetEcomData></GetEcomData>``; True when the ERP answers."""
        try:
            self.call(build_ping(), kind=RequestKind.PING)
        except ErpError as error:
            log.warning("ERP ping failed: %s", type(error).__name__, extra={"erp": self._where})
            return False
        return True

    def status(self) -> ErpStatus:
        """Whether the ERP is reachable, from cache when checked less than ``erp_status_ttl_s`` ago.

        Real calls refresh the cached status too. An open breaker answers "unreachable" without
        sending anything until its cool-down has passed.
        """
        with self._lock:
            if (
                self._status is not None
                and self._clock() - self._status_checked < self.settings.erp_status_ttl_s
            ):
                return self._status
        if not self.breaker.would_allow():
            self._record_status(
                reachable=False,
                condition=self._last_condition(),
                reason="circuit breaker open after repeated failures: no calls until it cools down",
            )
        else:
            self.ping()  # records what it found: ok, misconfigured, unreachable, slow or busy
        with self._lock:
            assert self._status is not None
            return self._status

    def _last_condition(self) -> ErpCondition:
        with self._lock:
            return self._status.condition if self._status is not None else ErpCondition.UNREACHABLE

    def _record_status(
        self,
        *,
        reachable: bool,
        phase: BreakerPhase | None = None,
        condition: ErpCondition = ErpCondition.OK,
        reason: str | None = None,
        setting: str | None = None,
        answered: bool = False,
    ) -> None:
        """``answered``: a real answer (the only thing that moves ``last_success``)."""
        if phase is None:
            phase = self.breaker.phase
        now = self._wall_clock()
        with self._lock:
            if answered:
                self._last_success = now
            self._status = ErpStatus(
                reachable=reachable,
                checked_at=now,
                breaker_state=phase,
                last_success=self._last_success,
                condition=condition,
                reason=reason,
                setting=setting,
                endpoint=self._where,
            )
            self._status_checked = self._clock()

    # -- retry loop ------------------------------------------------------------------------------

    def _with_retries(self, kind: RequestKind, attempt: Callable[[], T]) -> T:
        settings = self.settings
        attempts = 1 + settings.erp_max_retries if kind in RETRY_SAFE and kind is not RequestKind.PING else 1
        for number in range(1, attempts + 1):
            seen = self.breaker.before_call()
            started = self._clock()
            try:
                result = attempt()
            except _AttemptFailed as failed:
                self._account_failed_attempt(failed, seen)
                if number >= attempts or not failed.retryable:
                    raise failed.error from None
                delay = self._delay(number, failed.retry_after_s)
                if delay is None:
                    raise failed.error from None
                log.warning(
                    "ERP %s attempt %d/%d failed (%s); retrying in %.2f s",
                    kind.value,
                    number,
                    attempts,
                    failed.error,
                    delay,
                    extra={"erp": self._where, "kind": kind.value},
                )
                self._sleep(delay)
                continue
            except ErpError as error:
                # Something answered: the plug-in unit (a fault, a refusal it means), or not
                # (a 404, a redirect, a login refused, a fault about the service): misconfigured.
                wrong = _misconfiguration(error, kind, self.settings)
                if wrong is None:
                    self._record_status(
                        reachable=True, phase=self.breaker.record_success(seen), answered=True
                    )
                else:
                    reason, setting = wrong
                    self._record_status(
                        reachable=False,
                        phase=self.breaker.record_failure(),
                        condition=ErpCondition.MISCONFIGURED,
                        reason=reason,
                        setting=setting,
                    )
                raise
            self._record_status(reachable=True, phase=self.breaker.record_success(seen), answered=True)
            log.debug(
                "ERP %s ok in %.0f ms (attempt %d)",
                kind.value,
                (self._clock() - started) * 1000,
                number,
                extra={"erp": self._where, "kind": kind.value},
            )
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _account_failed_attempt(self, failed: _AttemptFailed, seen: BreakerState) -> None:
        error = failed.error
        if failed.erp_down:
            slow = isinstance(error, ErpTimeoutError | ErpOutcomeUnknownError)
            self._record_status(
                reachable=False,
                phase=self.breaker.record_failure(),
                condition=ErpCondition.SLOW if slow else ErpCondition.UNREACHABLE,
                reason=str(error),
                setting="ERPBRIDGE_ERP_TIMEOUT_S" if slow else "ERPBRIDGE_ERP_URL (and the network to it)",
            )
        elif failed.erp_answered:  # busy (429): up, but not a success either
            self._record_status(
                reachable=True,
                phase=self.breaker.record_success(seen),
                condition=ErpCondition.BUSY,
                reason=str(error),
            )
        elif isinstance(error, ErpAuthError):  # the token endpoint refused the credentials
            self._record_status(
                reachable=False,
                condition=ErpCondition.MISCONFIGURED,
                reason=str(error),
                setting=_CREDENTIALS[self.settings.erp_auth],
            )

    def _delay(self, failed_attempt: int, retry_after_s: float | None) -> float | None:
        """Seconds to wait before the next attempt, or None to give up (Retry-After too long)."""
        settings = self.settings
        if retry_after_s is not None:
            return retry_after_s if retry_after_s <= settings.erp_retry_after_max_s else None
        ceiling = min(
            settings.erp_retry_backoff_max_s, settings.erp_retry_backoff_s * 2.0 ** (failed_attempt - 1)
        )
        return ceiling / 2 + self._jitter() * ceiling / 2  # "equal jitter": never zero, never herd

    # -- one attempt -----------------------------------------------------------------------------

    def _call_once(self, request_xml: bytes, kind: RequestKind) -> str:
        contract = self._resolved_contract()
        with self._post(contract, request_xml, kind) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > self.settings.erp_max_response_bytes:
                raise ErpResponseError(
                    f"ERP response is {declared} bytes, more than ERPBRIDGE_ERP_MAX_RESPONSE_BYTES; "
                    "use stream()"
                )
            deadline = self._clock() + self.settings.erp_timeout_s
            head: list[bytes] = []
            output = io.BytesIO()
            extractor: InnerDocumentExtractor | None = None
            total = 0
            for chunk in self._body_chunks(response, kind, deadline=deadline):
                total += len(chunk)
                if total > self.settings.erp_max_response_bytes:
                    raise ErpResponseError(
                        "ERP response is larger than ERPBRIDGE_ERP_MAX_RESPONSE_BYTES; use stream()"
                    )
                if extractor is not None:
                    extractor.feed(chunk)
                    continue
                head.append(chunk)
                if total > PARSE_IN_MEMORY_BYTES:
                    extractor = self._extractor(contract, output.write)
                    for part in head:
                        extractor.feed(part)
                    head.clear()
        if extractor is None:
            return rewrite_declared_encoding_text(parse_result(contract, b"".join(head)))
        self._close_extractor(extractor)
        try:
            return output.getvalue().decode("utf-8")
        except UnicodeDecodeError as error:  # pragma: no cover - the extractor checked UTF-8
            raise ErpResponseError("ERP response text is not UTF-8") from error

    def _stream_once(
        self, request_xml: bytes, write: Callable[[bytes], None], kind: RequestKind, written: list[int]
    ) -> StreamedResponse:
        contract = self._resolved_contract()
        with self._post(contract, request_xml, kind) as response:
            extractor = self._extractor(contract, write)
            try:
                for chunk in self._body_chunks(response, kind, deadline=None):
                    extractor.feed(chunk)
            except _AttemptFailed as failed:
                if written[0]:
                    # The sink already holds part of the document: a retry would duplicate it.
                    failed.retryable = False
                raise
        return self._close_extractor(extractor)

    def _extractor(self, contract: SoapContract, write: Callable[[bytes], object]) -> InnerDocumentExtractor:
        return InnerDocumentExtractor(
            write,
            result_element=contract.result_element,
            parameter=contract.result_parameter,
            check_envelope=lambda envelope: check_stripped_envelope(contract, envelope),
            executor=shared_executor(),
        )

    def _close_extractor(self, extractor: InnerDocumentExtractor) -> StreamedResponse:
        try:
            return extractor.close()
        except ErpResponseError:
            unmatched = extractor.unmatched_body
            if unmatched is not None and b"Fault" in unmatched:
                raise fault_from_body(unmatched, status=200) from None
            raise

    def _resolved_contract(self) -> SoapContract:
        if self._contract is not None:
            return self._contract
        # Unlocked: threads that start before the first discovery ends each fetch the WSDL (harmless,
        # the answers are the same); every later call reuses the stored contract.
        response = self._send("GET", None, kind=RequestKind.PING, what="WSDL request")
        with response:
            body = b"".join(self._body_chunks(response, RequestKind.PING, deadline=None, limit=4 << 20))
        contract = contract_from_wsdl(body, preferred=self._configured_contract)
        log.info(
            "discovered SOAP names from the WSDL: method %s, parameter %s, action %s",
            contract.method,
            contract.parameter,
            contract.soap_action,
            extra={"erp": self._where},
        )
        self._contract = contract
        return contract

    def _post(self, contract: SoapContract, request_xml: bytes, kind: RequestKind) -> requests.Response:
        envelope = build_envelope(contract, request_xml)
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"{contract.soap_action}"',
        }
        return self._send("POST", envelope, kind=kind, what=f"{kind.value} request", headers=headers)

    def _send(
        self,
        method: str,
        body: bytes | None,
        *,
        kind: RequestKind,
        what: str,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """Send, renewing credentials once on 401; return a 200 response whose body is unread."""
        renewed = False
        while True:
            try:
                credentials = self._auth.headers()
            except ErpError as error:  # the token endpoint failed: the ERP was not contacted
                raise _AttemptFailed(
                    error,
                    retryable=isinstance(error, TokenEndpointUnavailableError) and kind in RETRY_SAFE,
                    erp_down=False,
                ) from None
            all_headers = {**(headers or {}), **credentials}
            try:
                response = self._session.request(
                    method,
                    self.url,
                    data=body,
                    headers=all_headers,
                    timeout=self._timeout,
                    stream=True,
                    allow_redirects=False,  # a redirect would carry the security key to another host
                )
            except requests.RequestException as error:
                self._raise_transport_failure(error, kind, what)
            if response.status_code == 200:
                return response
            if response.status_code == 401 and not renewed and self._auth.renew():
                response.close()
                renewed = True
                log.info("ERP answered 401; renewing credentials once", extra={"erp": self._where})
                continue
            with response:
                self._raise_for_status(response, kind, what)

    def _raise_transport_failure(
        self, error: requests.RequestException, kind: RequestKind, what: str
    ) -> NoReturn:
        safe = kind in RETRY_SAFE
        if isinstance(error, requests.ConnectionError) and not _was_sent(error):
            raise _AttemptFailed(
                ErpUnavailableError(
                    f"ERP at {self._where} could not be reached ({_describe(error)}); {what} not sent"
                ),
                retryable=safe,
                erp_down=True,
            ) from None
        if isinstance(error, requests.Timeout | requests.ConnectionError):
            self._raise_answer_lost(kind, what, _describe(error))
        raise _AttemptFailed(
            ErpUnavailableError(f"{what} to ERP at {self._where} failed before sending ({_describe(error)})"),
            retryable=False,
            erp_down=False,
        ) from None

    def _raise_answer_lost(self, kind: RequestKind, what: str, reason: str) -> NoReturn:
        if kind not in RETRY_SAFE:
            raise _AttemptFailed(
                ErpOutcomeUnknownError(
                    f"{what} was sent to ERP at {self._where} but no answer arrived ({reason}); "
                    "it may or may not have been applied"
                ),
                retryable=False,
                erp_down=True,
            ) from None
        raise _AttemptFailed(
            ErpTimeoutError(f"ERP at {self._where} did not answer the {what} in time ({reason})"),
            retryable=True,
            erp_down=True,
        ) from None

    def _raise_for_status(self, response: requests.Response, kind: RequestKind, what: str) -> NoReturn:
        status = response.status_code
        safe = kind in RETRY_SAFE
        retry_after = _parse_retry_after(response.headers.get("Retry-After"))
        if status in (429, 503):
            raise _AttemptFailed(
                ErpBusyError(
                    f"ERP at {self._where} is busy (HTTP {status}); {what} not processed"
                    + (f", retry after {retry_after:g} s" if retry_after is not None else ""),
                    retry_after_s=retry_after,
                ),
                retryable=safe,
                erp_down=status == 503,  # overloaded or in maintenance: give it room
                erp_answered=status == 429,
                retry_after_s=retry_after,
            )
        if status in (502, 504):
            if not safe:
                self._raise_answer_lost(kind, what, f"gateway answered HTTP {status}")
            error_class = ErpTimeoutError if status == 504 else ErpUnavailableError
            raise _AttemptFailed(
                error_class(f"ERP gateway at {self._where} answered HTTP {status} to the {what}"),
                retryable=True,
                erp_down=True,
                retry_after_s=retry_after,
            )
        if status == 408:
            if not safe:
                self._raise_answer_lost(kind, what, "ERP answered HTTP 408 (operation timed out)")
            raise ErpTimeoutError(f"ERP at {self._where} timed out the {what} (HTTP 408); make it smaller")
        if 300 <= status < 400:
            target = _redacted(response.headers.get("Location", "")) or "nowhere"
            raise ErpMisconfiguredError(
                f"ERP at {self._where} redirects (HTTP {status}) to {target}; not followed, so "
                f"credentials stay here: set ERPBRIDGE_ERP_URL to the final URL ({what} not processed)",
                setting="ERPBRIDGE_ERP_URL",
            )
        if status in (401, 403):
            challenge = response.headers.get("WWW-Authenticate", "").split(" ", 1)[0]
            raise ErpAuthError(
                f"ERP at {self._where} refused our credentials (HTTP {status}"
                + (f", expects {challenge}" if challenge else "")
                + f", ERPBRIDGE_ERP_AUTH={self.settings.erp_auth})"
            )
        if status == 404:
            raise ErpMisconfiguredError(
                f"no web service at {self._where} (HTTP 404): check ERPBRIDGE_ERP_URL (tenant, "
                f"environment, company and service name); {what} not processed",
                setting="ERPBRIDGE_ERP_URL",
            )
        body = self._read_limited(response, FAULT_BODY_BYTES)
        if status == 500:
            raise fault_from_body(body, status=status)
        error = fault_from_body(body, status=status)
        raise ErpFaultError(
            f"ERP at {self._where} answered HTTP {status} to the {what}: {error}",
            erp_message=error.erp_message,
            status=status,
        )

    def _read_limited(self, response: requests.Response, limit: int) -> bytes:
        try:
            return response.raw.read(limit, decode_content=True) or b""
        except Exception:  # a broken error body must not hide the status error
            return b""

    def _body_chunks(
        self,
        response: requests.Response,
        kind: RequestKind,
        *,
        deadline: float | None,
        limit: int | None = None,
    ) -> Iterator[bytes]:
        total = 0
        chunks = response.iter_content(chunk_size=CHUNK_BYTES)
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            except requests.RequestException as error:
                self._raise_answer_lost(
                    kind, "response", f"connection lost while reading: {_describe(error)}"
                )
            total += len(chunk)
            if limit is not None and total > limit:
                raise ErpResponseError(f"ERP response is larger than {limit} bytes")
            if deadline is not None and self._clock() > deadline:
                self._raise_answer_lost(
                    kind, "response", f"body not complete after {self.settings.erp_timeout_s:g} s"
                )
            yield chunk


def _limiter_for(settings: ErpSettings, url: str, store: LimiterStore) -> RequestLimiter | None:
    """BC's limits for the principal these settings sign in as (None: the limiter is off)."""
    if settings.erp_limit_in_flight == 0:
        return None
    identity = {
        "basic": settings.erp_user,
        "oauth2": f"{settings.erp_tenant}/{settings.erp_client_id}",
        "key": settings.erp_security_key.get_secret_value() if settings.erp_security_key else None,
    }.get(settings.erp_auth)
    limits = RequestLimits(
        max_in_flight=settings.erp_limit_in_flight,
        max_per_window=settings.erp_limit_requests,
        window_s=settings.erp_limit_window_s,
        # A lease outlives a request that hangs to its read timeout (plus retries' waits) by little.
        lease_s=settings.erp_connect_timeout_s + settings.erp_timeout_s + 30.0,
    )
    return RequestLimiter(store, principal_key(url, f"{settings.erp_auth}:{identity or ''}"), limits)


def _limit_wait_s(settings: ErpSettings, kind: RequestKind) -> float:
    """How long a request of ``kind`` may wait for room: an order is queued rather than kept
    waiting, a batch fetch (and the price audit's quotes) has time, the probe must not hang the
    health answer."""
    if kind is RequestKind.CREATE_ORDER:
        return settings.erp_limit_order_wait_s
    if kind in (RequestKind.BATCH_FETCH, RequestKind.EXPORT_ORDER, RequestKind.PRICE_AUDIT):
        return settings.erp_limit_batch_wait_s
    if kind is RequestKind.PING:
        return min(settings.erp_limit_live_wait_s, 1.0)
    return settings.erp_limit_live_wait_s


def _describe(error: BaseException) -> str:
    """A short, secret-free reason (exception class names; no headers, no bodies)."""
    names = [type(error).__name__]
    cause: object = error.args[0] if error.args else None
    reason = getattr(cause, "reason", None)
    if reason is not None:
        names.append(type(reason).__name__)
    elif isinstance(cause, BaseException):
        names.append(type(cause).__name__)
    return "/".join(names)
