"""The emulator's HTTP side: a threaded stdlib HTTP server, in-process.

``Emulator(config).start()`` listens on ``config.port`` (0 = a free port) and serves

* ``POST /<tenant>/<environment>/WS/<company>/Codeunit/DWWebService`` — the SOAP codeunit
  (``GET`` on the same URL returns its WSDL),
* ``POST /<tenant>/oauth2/v2.0/token`` — OAuth2 client credentials (auth ``oauth2``),
* ``/_control/...`` — the JSON control API (see :mod:`bc_emulator.control`).

The control API is also served on a second listener (``control_url``) that stays up while the
main listener is "down" (its socket really closed), so tests can switch a down window off again.

HTTP/1.1 keep-alive, ``TCP_NODELAY`` and one ``sendall`` per small response keep a round trip
well under a millisecond; big batch responses are streamed with chunked transfer encoding.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from bc_emulator import control as control_api
from bc_emulator._model import RequestHeaders
from bc_emulator.auth import BC_SCOPE, Authenticator, AuthMode
from bc_emulator.faults import FaultDecision, FaultInjector, FaultSpec
from bc_emulator.journal import Journal, RequestRecord
from bc_emulator.limits import BcLimits, LimitsSpec, principal_of
from bc_emulator.replies import Reply, fault_reply, json_reply, text_reply
from bc_emulator.soap import (
    SERVER_FAULT,
    SoapRequestError,
    SoapService,
    build_request_envelope,
    build_response,
    build_wsdl,
    check_soap_action,
    parse_request,
    stream_response,
)

if TYPE_CHECKING:
    import requests

MAX_REQUEST_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class EmulatorConfig:
    port: int = 0
    host: str = "127.0.0.1"
    seed: int = 1
    products: int = 1000
    customers: int = 50
    auth: AuthMode = "none"
    security_key: str = "emulator-security-key"
    security_key_header: str = "X-Security-Key"
    user: str = "EMULATOR"
    password: str = "emulator-web-service-key"  # noqa: S105 - a well-known development credential
    client_id: str = "emulator-client-id"
    client_secret: str = "emulator-client-secret"  # noqa: S105 - a well-known development credential
    tenant: str = "tenant"
    environment: str = "production"
    company: str = "CRONUS"
    latency_ms: float = 0.0
    today: date | None = None  # the ERP's work date; None = the real date
    token_ttl_s: int = 3599
    control_port: int = 0
    service: str = "DWWebService"
    # BC codeunits declare their response text as utf-16 although it travels as UTF-8.
    utf16_declaration: bool = True
    faults: FaultSpec | None = None
    # False: no duplicate protection, every create commits a new sales order (see dispatch).
    dedup: bool = True
    # BC online's per-principal limits (429 beyond them); None = unlimited.
    limits: LimitsSpec | None = None


# --- the HTTP machinery ----------------------------------------------------------------------------


class _DropConnection(Exception):
    pass


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: Emulator, *, control_only: bool) -> None:
        self.emulator = emulator
        self.control_only = control_only
        self.connections: dict[socket.socket, threading.Thread | None] = {}
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.connections_lock:
            self.connections[sock] = None
        return sock, address

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-response is normal here (faults, timeouts); stay quiet.
        return

    def cut_connections(self) -> None:
        """Close every open connection except the caller's own (down windows)."""
        me = threading.current_thread()
        with self.connections_lock:
            sockets = [s for s, owner in self.connections.items() if owner is not me]
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    # Idle keep-alive connections (and clients that stop reading) are closed after this long.
    timeout = 300
    server: _Listener

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections[self.request] = threading.current_thread()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def handle(self) -> None:
        with contextlib.suppress(_DropConnection, ConnectionError, OSError):
            super().handle()

    def finish(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            super().finish()

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts: list[bytes] = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                total += size
                if total > MAX_REQUEST_BYTES:
                    return None
                parts.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        started = time.perf_counter()
        try:
            body = self._read_body()
        except ValueError:
            self._write(text_reply(400, "Bad request body framing"))
            return
        if body is None:
            self.close_connection = True
            self._write(text_reply(413, f"Request larger than {MAX_REQUEST_BYTES} bytes"))
            return
        reply = self.server.emulator._app_handle(
            self.command, self.path, self.headers, body, control_only=self.server.control_only
        )
        journal = self.server.emulator.journal
        if reply.record is not None and reply.stream is None and reply.drop is None and not reply.truncate:
            # Journal a plain answer before sending it: a client that reads the counters right after
            # its answer arrives must see its request counted.
            journal.finish(
                reply.record, status=reply.status, duration_ms=(time.perf_counter() - started) * 1000
            )
            self._write(reply)
            return
        status = 0
        try:
            status = self._write(reply)
        finally:
            if reply.record is not None:
                journal.finish(
                    reply.record, status=status, duration_ms=(time.perf_counter() - started) * 1000
                )

    # --- writing ---------------------------------------------------------------------------------

    def _drop(self, how: str) -> None:
        sock = self.request
        if how == "reset":
            # SO_LINGER 0: close() sends RST, the client sees "connection reset by peer".
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        with contextlib.suppress(OSError):
            if how != "reset":
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.close_connection = True
        raise _DropConnection

    def _send_raw(self, data: bytes, bytes_per_s: int) -> None:
        if not bytes_per_s:
            self.wfile.write(data)
            return
        step = max(1024, min(64 * 1024, bytes_per_s // 20))
        stop = self.server.emulator._stopping
        for offset in range(0, len(data), step):
            piece = data[offset : offset + step]
            self.wfile.write(piece)
            if stop.wait(len(piece) / bytes_per_s):
                return

    def _write(self, reply: Reply) -> int:
        if reply.drop is not None:
            if reply.hang_s:
                self.server.emulator._wait_hang(reply.hang_s)
            self._drop(reply.drop)
        if self.command == "HEAD":
            reply = replace(reply, body=b"", stream=None)
        head = [f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('',))[0]}"]
        head.append(f"Server: {self.server_version}")
        head.append(f"Date: {self.date_time_string()}")
        for name, value in reply.headers.items():
            head.append(f"{name}: {value}")
        chunked = reply.stream is not None and self.request_version != "HTTP/1.0"
        if reply.stream is not None and not chunked:
            self.close_connection = True
        if reply.stream is None:
            head.append(f"Content-Length: {len(reply.body)}")
        elif chunked:
            head.append("Transfer-Encoding: chunked")
        if self.close_connection or reply.truncate:
            head.append("Connection: close")
        header_bytes = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if reply.stream is None:
            body = reply.body
            if reply.truncate:
                self._send_raw(header_bytes + body[: max(1, len(body) // 2)], reply.bytes_per_s)
                self._drop("close")
            self._send_raw(header_bytes + body, reply.bytes_per_s)
            return reply.status
        self._send_raw(header_bytes, 0)
        sent_any = False
        for piece in reply.stream:
            if not piece:
                continue
            if reply.truncate and sent_any:
                self._drop("close")
            if reply.truncate:
                piece = piece[: max(1, len(piece) // 2)]
            frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
            self._send_raw(frame, reply.bytes_per_s)
            sent_any = True
        if reply.truncate:
            self._drop("close")
        if chunked:
            self._send_raw(b"0\r\n\r\n", 0)
        return reply.status


# --- the emulator ------------------------------------------------------------------------------------


class Emulator:
    """A Business Central plug-in unit over HTTP. Use as ``with Emulator(cfg) as emu:`` or start/stop."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        from bc_emulator.dispatch import Dispatcher  # the ERP side; imported late (heavier)

        self.config = config or EmulatorConfig()
        cfg = self.config
        self.service = SoapService(service=cfg.service)
        self.auth = Authenticator(
            cfg.auth,
            security_key=cfg.security_key,
            security_key_header=cfg.security_key_header,
            user=cfg.user,
            password=cfg.password,
            client_id=cfg.client_id,
            client_secret=cfg.client_secret,
            tenant=cfg.tenant,
            token_ttl_s=cfg.token_ttl_s,
        )
        self.faults = FaultInjector(cfg.faults)
        self.dispatcher = Dispatcher.create(
            seed=cfg.seed,
            products=cfg.products,
            customers=cfg.customers,
            today=cfg.today,
            utf16_declaration=cfg.utf16_declaration,
        )
        self.dispatcher.bc.set_dedup(cfg.dedup)
        self.limits: BcLimits | None = BcLimits(cfg.limits) if cfg.limits else None
        self.journal = Journal()
        self._stopping = threading.Event()
        self._hang_release = threading.Event()
        self._lock = threading.RLock()
        self._listener: _Listener | None = None
        self._control_listener: _Listener | None = None
        self._port = cfg.port
        self._up_timer: threading.Timer | None = None
        self.soap_path = "/" + "/".join(
            quote(part, safe="")
            for part in (cfg.tenant, cfg.environment, "WS", cfg.company, "Codeunit", cfg.service)
        )
        self._soap_path_decoded = unquote(self.soap_path)
        self.control = control_api.ControlClient("http://unset")
        self._call_token: tuple[str, float] | None = None  # for call(): token, monotonic expiry

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> Emulator:
        with self._lock:
            if self._listener is not None:
                return self
            self._stopping.clear()
            self._start_main()
            self._control_listener = _Listener(
                (self.config.host, self.config.control_port), self, control_only=True
            )
            self._serve(self._control_listener, "bc-emulator-control")
            self.control = control_api.ControlClient(self.control_url)
            if self.faults.spec.down_for_s:
                self.go_down(self.faults.spec.down_for_s)
        return self

    def _start_main(self) -> None:
        self._listener = _Listener((self.config.host, self._port), self, control_only=False)
        self._port = self._listener.server_address[1]
        self._serve(self._listener, "bc-emulator")

    @staticmethod
    def _serve(listener: _Listener, name: str) -> None:
        threading.Thread(
            target=listener.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        ).start()

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            self._hang_release.set()
            if self._up_timer is not None:
                self._up_timer.cancel()
                self._up_timer = None
            self._stop_main()
            if self._control_listener is not None:
                self._control_listener.shutdown()
                self._control_listener.server_close()
                self._control_listener.cut_connections()
                self._control_listener = None

    def _stop_main(self) -> None:
        if self._listener is not None:
            self._listener.shutdown()
            self._listener.server_close()
            self._listener.cut_connections()
            self._listener = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- down windows ------------------------------------------------------------------------------

    @property
    def is_down(self) -> bool:
        return self._listener is None and not self._stopping.is_set()

    def go_down(self, seconds: float | None = None) -> None:
        """Close the listening socket (connection refused) and cut open connections.

        ``seconds`` None keeps it down until :meth:`come_up`.
        """
        with self._lock:
            if self._up_timer is not None:
                self._up_timer.cancel()
                self._up_timer = None
            self._stop_main()
            self.journal.count("down_windows")
            if seconds is not None:
                self._up_timer = threading.Timer(seconds, self.come_up)
                self._up_timer.daemon = True
                self._up_timer.start()

    def come_up(self) -> None:
        with self._lock:
            if self._up_timer is not None and threading.current_thread() is not self._up_timer:
                self._up_timer.cancel()
            self._up_timer = None
            if self._listener is None and not self._stopping.is_set():
                self._start_main()

    def _wait_hang(self, seconds: float) -> None:
        self._hang_release.wait(seconds)

    def release_hanging(self) -> None:
        """Let every hanging request end now (their connections are closed)."""
        with self._lock:
            self._hang_release.set()
            self._hang_release = threading.Event()

    # --- state -------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Fresh ERP state (orders, checkpoints), start faults, duplicate protection and token
        lifetime, empty journal, up.

        Issued tokens stay valid: they belong to the identity provider, not to the ERP.
        """
        self.release_hanging()
        self.faults.set(self.config.faults or FaultSpec())
        self.dispatcher.reset()
        self.dispatcher.bc.set_dedup(self.config.dedup)
        self.set_limits(self.config.limits)
        self.auth.set_token_ttl(self.config.token_ttl_s)
        self.journal.clear()
        if self.is_down:
            self.come_up()

    def set_faults(self, spec: FaultSpec | Mapping[str, Any] | None = None, **values: Any) -> FaultSpec:
        if spec is None:
            spec = FaultSpec.from_mapping(values)
        elif not isinstance(spec, FaultSpec):
            spec = FaultSpec.from_mapping({**spec, **values})
        self.faults.set(spec)
        if spec.down_for_s:
            self.go_down(spec.down_for_s)
        return spec

    def set_limits(self, spec: LimitsSpec | None) -> None:
        """Enforce BC online's per-principal limits (None: unlimited); counts start afresh."""
        self.limits = BcLimits(spec) if spec else None

    @property
    def dedup(self) -> bool:
        return self.dispatcher.bc.dedup

    def set_dedup(self, dedup: bool) -> None:
        """Switch duplicate protection of order creation on or off (orders created so far stay)."""
        self.dispatcher.bc.set_dedup(dedup)

    # --- addresses -----------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self._port}"

    @property
    def soap_url(self) -> str:
        return self.base_url + self.soap_path

    @property
    def token_url(self) -> str:
        return self.base_url + self.auth.token_path()

    @property
    def control_url(self) -> str:
        if self._control_listener is None:
            return self.base_url + "/_control"
        return f"http://{self.config.host}:{self._control_listener.server_address[1]}/_control"

    def credentials(self) -> dict[str, str]:
        cfg = self.config
        if cfg.auth == "key":
            return {"security_key_header": cfg.security_key_header, "security_key": cfg.security_key}
        if cfg.auth == "basic":
            return {"user": cfg.user, "password": cfg.password}
        if cfg.auth == "oauth2":
            return {
                "token_url": self.token_url,
                "client_id": cfg.client_id,
                "client_secret": cfg.client_secret,
                "scope": BC_SCOPE,
                "tenant": cfg.tenant,
            }
        return {}

    def request_headers(self, *, token: str | None = None) -> dict[str, str]:
        """HTTP headers of a valid SOAP call (oauth2: fetches a token unless one is given)."""
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{self.service.soap_action}"'}
        cfg = self.config
        if cfg.auth == "key":
            headers[cfg.security_key_header] = cfg.security_key
        elif cfg.auth == "basic":
            pair = base64.b64encode(f"{cfg.user}:{cfg.password}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {pair}"
        elif cfg.auth == "oauth2":
            headers["Authorization"] = f"Bearer {token or self._cached_token()}"
        return headers

    def _cached_token(self) -> str:
        cached = self._call_token
        if cached is None or cached[1] - 30 < time.monotonic():
            token = self.fetch_token()
            cached = self._call_token = (token, time.monotonic() + self.auth.token_ttl_s)
        return cached[0]

    def fetch_token(self) -> str:
        import requests

        response = requests.post(
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
                "scope": BC_SCOPE,
            },
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def call(self, request_xml: str | bytes, *, timeout: float = 30.0) -> requests.Response:
        """POST one request over HTTP with valid credentials; returns the raw HTTP response."""
        import requests

        return requests.post(
            self.soap_url,
            data=build_request_envelope(request_xml, self.service),
            headers=self.request_headers(),
            timeout=timeout,
        )

    def settings_env(self) -> dict[str, str]:
        """ERPBRIDGE_ERP_* variables that point erpbridge's ERP client at this emulator."""
        cfg = self.config
        env = {
            "ERPBRIDGE_ERP_URL": self.soap_url,
            "ERPBRIDGE_ERP_AUTH": cfg.auth,
            "ERPBRIDGE_ERP_SOAP_SERVICE": cfg.service,
        }
        if cfg.auth == "key":
            env["ERPBRIDGE_ERP_SECURITY_KEY"] = cfg.security_key
            env["ERPBRIDGE_ERP_SECURITY_KEY_HEADER"] = cfg.security_key_header
        elif cfg.auth == "basic":
            env["ERPBRIDGE_ERP_USER"] = cfg.user
            env["ERPBRIDGE_ERP_PASSWORD"] = cfg.password
        elif cfg.auth == "oauth2":
            env["ERPBRIDGE_ERP_CLIENT_ID"] = cfg.client_id
            env["ERPBRIDGE_ERP_CLIENT_SECRET"] = cfg.client_secret
            env["ERPBRIDGE_ERP_TOKEN_URL"] = self.token_url
            env["ERPBRIDGE_ERP_TENANT"] = cfg.tenant
        return env

    def describe(self) -> dict[str, Any]:
        return {
            "soap_url": self.soap_url,
            "token_url": self.token_url if self.config.auth == "oauth2" else None,
            "control_url": self.control_url,
            "auth": self.config.auth,
            "credentials": self.credentials(),
            "seed": self.config.seed,
            "products": self.config.products,
            "customers": self.config.customers,
            "down": self.is_down,
            "dedup": self.dedup,
            "limits": self.limits.spec.to_dict() if self.limits else None,
            "faults": self.faults.spec.to_dict(),
        }

    # --- request handling ------------------------------------------------------------------------------

    def _app_handle(
        self, method: str, raw_path: str, headers: RequestHeaders, body: bytes, *, control_only: bool
    ) -> Reply:
        path = unquote(urlsplit(raw_path).path)
        if path == "/_control" or path.startswith("/_control/"):
            return control_api.handle(self, method, raw_path, body)
        if control_only:
            return text_reply(404, "Only the control API is served on this port.")
        if path.endswith("/oauth2/v2.0/token") and path.count("/") == 4:
            return self._token(method, path.split("/")[1], headers, body)
        if path.lower() == self._soap_path_decoded.lower():  # BC matches service URLs case-insensitively
            return self._soap(method, headers, body)
        return text_reply(404, f"No web service is published at {path}.")

    def _token(self, method: str, tenant: str, headers: RequestHeaders, body: bytes) -> Reply:
        if method != "POST":
            return text_reply(405, "The token endpoint accepts POST only.", {"Allow": "POST"})
        if "token" in self.faults.spec.kinds:  # the token endpoint fails only when asked by name
            decision = self.faults.decide("token")
            if decision.latency_s and self._hang_release.wait(decision.latency_s):
                return Reply(drop="close")
            if decision.before != "pass":
                self.journal.count(f"faults.token.{decision.before}")
                return self._token_fault(decision.before)
        answer = self.auth.issue_token(tenant, headers, body)
        self.journal.count("tokens_issued" if answer.status == 200 else "token_errors")
        reply = json_reply(answer.status, answer.body)
        reply.headers["Cache-Control"] = "no-store, no-cache"
        return reply

    def _token_fault(self, outcome: str) -> Reply:
        retry_after = {"Retry-After": str(self.faults.spec.retry_after_s)}
        if outcome == "reset":
            return Reply(drop="reset")
        if outcome == "hang":
            return Reply(drop="close", hang_s=self.faults.spec.hang_s)
        if outcome in ("busy_429", "busy_503"):
            status = 429 if outcome == "busy_429" else 503
            reply = json_reply(
                status, {"error": "temporarily_unavailable", "error_description": "AADSTS50196"}
            )
            reply.headers.update(retry_after)
            return reply
        return json_reply(
            500,
            {"error": "server_error", "error_description": f"AADSTS90033: {self.faults.spec.error_message}"},
        )

    def _soap(self, method: str, headers: RequestHeaders, body: bytes) -> Reply:
        limits = self.limits
        if limits is None:
            return self._soap_admitted(method, headers, body)
        principal = principal_of(headers)
        refusal = limits.enter(principal)
        if refusal is not None:
            record = self.journal.start(method)
            self._note_fault(record, "bc_limit_429")
            return Reply(
                429,
                {"Content-Type": "text/plain; charset=utf-8", "Retry-After": str(refusal.retry_after_s)},
                f"Too many requests: {refusal.reason} for this user.".encode(),
                record=record,
            )
        try:
            return self._soap_admitted(method, headers, body)
        finally:
            limits.leave(principal)

    def _soap_admitted(self, method: str, headers: RequestHeaders, body: bytes) -> Reply:
        record = self.journal.start(method)
        failure = self.auth.check(headers)
        if failure is not None:
            record.fault = "unauthorized"
            self.journal.count("auth_failures")
            return Reply(
                failure.status,
                {"Content-Type": failure.content_type, **failure.headers},
                failure.body,
                record=record,
            )
        if method in ("GET", "HEAD"):
            return Reply(
                200,
                {"Content-Type": "text/xml; charset=utf-8"},
                build_wsdl(self.service, self.soap_url),
                record=record,
            )
        if method != "POST":
            return Reply(
                405,
                {"Allow": "GET, POST", "Content-Type": "text/plain"},
                b"Method not allowed",
                record=record,
            )
        content_type = (headers.get("Content-Type") or "").lower()
        if not content_type.startswith("text/xml"):
            return Reply(
                415,
                {"Content-Type": "text/plain; charset=utf-8"},
                f"Cannot process the message because the content type '{content_type}' was not the expected "
                "type 'text/xml; charset=utf-8'.".encode(),
                record=record,
            )
        try:
            check_soap_action(headers.get("SOAPAction"), self.service)
            request_xml = parse_request(body, self.service)
        except SoapRequestError as error:
            record.error = str(error)
            return replace(fault_reply(str(error), error.faultcode), record=record)
        parsed = self.dispatcher.classify(request_xml)
        record.kind = parsed.kind
        record.request_xml = request_xml
        decision = self.faults.decide(parsed.kind)
        latency_s = decision.latency_s + self.config.latency_ms / 1000.0
        if latency_s > 0 and self._hang_release.wait(latency_s):
            return Reply(drop="close", record=record)
        early = self._early_fault(decision, record)
        if early is not None:
            return early
        result = self.dispatcher.handle(parsed)
        if result.error is not None:
            record.error = result.error
            return replace(fault_reply(result.error, result.faultcode), record=record)
        record.shop_order_id = result.shop_order_id
        if decision.commit_then_drop:
            self._note_fault(record, "commit_then_drop")
            return Reply(drop="reset", record=record)
        if decision.commit_then_hang:
            self._note_fault(record, "commit_then_hang")
            return Reply(drop="close", hang_s=self.faults.spec.hang_s, record=record)
        reply = Reply(200, {"Content-Type": "text/xml; charset=utf-8"}, record=record)
        reply.bytes_per_s = decision.stream_bytes_per_s
        if result.chunks is not None:
            reply.stream = stream_response(result.chunks, self.service)
        else:
            reply.body = build_response(result.body or b"", self.service)
        if decision.malformed:
            self._note_fault(record, "malformed")
            reply.body = _malform(reply.body if reply.stream is None else b"".join([next(reply.stream, b"")]))
            reply.stream = None
        elif decision.truncated:
            self._note_fault(record, "truncated")
            reply.truncate = True
        return reply

    def _note_fault(self, record: RequestRecord, name: str) -> None:
        record.fault = name
        self.journal.count(f"faults.{name}")

    def _early_fault(self, decision: FaultDecision, record: RequestRecord) -> Reply | None:
        outcome = decision.before
        if outcome == "pass":
            return None
        self._note_fault(record, outcome)
        retry_after = str(self.faults.spec.retry_after_s)
        if outcome == "reset":
            return Reply(drop="reset", record=record)
        if outcome == "hang":
            return Reply(drop="close", hang_s=self.faults.spec.hang_s, record=record)
        if outcome == "busy_429":
            return replace(
                text_reply(
                    429,
                    "Too many requests. The request was throttled; retry later.",
                    {"Retry-After": retry_after},
                ),
                record=record,
            )
        if outcome == "busy_503":
            return replace(
                text_reply(503, "The service is temporarily unavailable.", {"Retry-After": retry_after}),
                record=record,
            )
        # A failure of the service, not a refusal of the request: SOAP's Server fault code.
        return replace(fault_reply(self.faults.spec.error_message, SERVER_FAULT), record=record)


def _malform(body: bytes) -> bytes:
    """A 200 body that is not a well-formed envelope: the real answer cut short plus junk."""
    return body[: max(16, len(body) * 3 // 5)] + b"\x00<</ Soap:Envelope"
