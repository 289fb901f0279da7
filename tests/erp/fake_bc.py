"""A small Business Central stand-in over real HTTP for the ERP client's tests.

It speaks the SOAP contract of contracts.md (the real emulator speaks the same; these tests need
to script failures the emulator does not offer: hangs, dropped connections, exact status codes).
Each POST to the SOAP path runs the next scripted behaviour (default: answer ``default_inner``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

NS = "urn:microsoft-dynamics-schemas/codeunit/DWWebService"


def envelope(
    inner: str, *, method: str = "Process", parameter: str = "request", namespace: str = NS
) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<Soap:Envelope xmlns:Soap="http://schemas.xmlsoap.org/soap/envelope/"><Soap:Body>'
        f'<{method}_Result xmlns="{namespace}"><{parameter}>{escape(inner)}</{parameter}></{method}_Result>'
        "</Soap:Body></Soap:Envelope>"
    ).encode()


def fault_envelope(message: str, faultcode: str = "a:Microsoft.Dynamics.Nav.Types.Exceptions") -> bytes:
    return (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
        f'<faultcode xmlns:a="urn:microsoft-dynamics-schemas/error">{escape(faultcode)}'
        f'</faultcode><faultstring xml:lang="en-US">{escape(message)}</faultstring>'
        "<detail><string>details</string></detail></s:Fault></s:Body></s:Envelope>"
    ).encode()


def wsdl(
    *,
    method: str = "Process",
    parameter: str = "request",
    namespace: str = NS,
    extra_ops: tuple[str, ...] = (),
) -> bytes:
    ops = (method, *extra_ops)
    elements = "".join(
        f'<element name="{op}"><complexType><sequence><element minOccurs="1" maxOccurs="1" '
        f'name="{parameter}" type="string"/></sequence></complexType></element>'
        f'<element name="{op}_Result"><complexType><sequence>'
        f'<element minOccurs="1" maxOccurs="1" name="{parameter}" type="string"/></sequence></complexType>'
        "</element>"
        for op in ops
    )
    port_ops = "".join(
        f'<operation name="{op}"><input name="{op}" message="tns:{op}"/><output name="{op}_Result" '
        f'message="tns:{op}_Result"/></operation>'
        for op in ops
    )
    binding_ops = "".join(
        f'<operation name="{op}"><operation soapAction="{namespace}:{op}" style="document" '
        'xmlns="http://schemas.xmlsoap.org/wsdl/soap/"/><input name="' + op + '"><body use="literal" '
        'xmlns="http://schemas.xmlsoap.org/wsdl/soap/"/></input></operation>'
        for op in ops
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><definitions targetNamespace="{namespace}" '
        f'xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:tns="{namespace}"><types><schema '
        f'elementFormDefault="qualified" targetNamespace="{namespace}" xmlns="http://www.w3.org/2001/XMLSchema">'
        f"{elements}</schema></types>"
        + "".join(
            f'<message name="{op}"><part name="parameters" element="tns:{op}"/></message>'
            f'<message name="{op}_Result"><part name="parameters" element="tns:{op}_Result"/></message>'
            for op in ops
        )
        + f'<portType name="DWWebService_Port">{port_ops}</portType>'
        '<binding name="DWWebService_Binding" type="tns:DWWebService_Port"><binding '
        'transport="http://schemas.xmlsoap.org/soap/http" xmlns="http://schemas.xmlsoap.org/wsdl/soap/"/>'
        f"{binding_ops}</binding>"
        '<service name="DWWebService"><port name="DWWebService_Port" binding="tns:DWWebService_Binding">'
        '<address location="http://localhost/" xmlns="http://schemas.xmlsoap.org/wsdl/soap/"/></port></service>'
        "</definitions>"
    ).encode()


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Behaviour = Callable[["_Handler", Recorded], None]


@dataclass
class FakeBC:
    auth: str = "key"
    security_key: str = "k3y-s3cret-value"
    key_header: str = "X-Security-Key"
    user: str = "bc-user"
    password: str = "web-service-access-key-s3cret"
    client_id: str = "client-id-1"
    client_secret: str = "client-s3cret-value"
    token_lifetime: int = 3600
    default_inner: str = '<?xml version="1.0" encoding="utf-16"?><tables><table tableName="X"/></tables>'
    wsdl_body: bytes = field(default_factory=wsdl)
    requests: list[Recorded] = field(default_factory=list)
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)
    script: deque[Behaviour] = field(default_factory=deque)
    token_script: deque[Behaviour] = field(default_factory=deque)
    valid_tokens: set[str] = field(default_factory=set)

    def start(self) -> FakeBC:
        fake = self

        class Handler(_Handler):
            bc = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        return self.base + "/BC/WS/CRONUS/Codeunit/DWWebService"

    @property
    def token_url(self) -> str:
        return self.base + "/tenant/oauth2/v2.0/token"

    def then(self, *behaviours: Behaviour) -> FakeBC:
        self.script.extend(behaviours)
        return self

    @property
    def soap_posts(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]

    def revoke_tokens(self) -> None:
        self.valid_tokens.clear()

    def authorised(self, headers: dict[str, str]) -> bool:
        if self.auth == "none":
            return True
        if self.auth == "key":
            return headers.get(self.key_header.lower()) == self.security_key
        if self.auth == "basic":
            expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            return headers.get("authorization") == f"Basic {expected}"
        value = headers.get("authorization", "")
        return value.startswith("Bearer ") and value[7:] in self.valid_tokens


# -- behaviours ----------------------------------------------------------------------------------


def ok(inner: str | None = None, **names: str) -> Behaviour:
    def run(handler: _Handler, request: Recorded) -> None:
        handler.reply(200, envelope(handler.bc.default_inner if inner is None else inner, **names))

    return run


def status(code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Behaviour:
    def run(handler: _Handler, request: Recorded) -> None:
        handler.reply(code, body, headers or {})

    return run


def fault(message: str, code: int = 500, *, faultcode: str | None = None) -> Behaviour:
    return status(code, fault_envelope(message, *(() if faultcode is None else (faultcode,))))


def raw(body: bytes, code: int = 200) -> Behaviour:
    return status(code, body)


def hang(seconds: float) -> Behaviour:
    def run(handler: _Handler, request: Recorded) -> None:
        time.sleep(seconds)
        handler.close_connection = True
        with contextlib.suppress(OSError):  # the client may have given up and closed
            handler.reply(200, envelope("late"))

    return run


def drop() -> Behaviour:
    """Read the request, then close the connection without a word."""

    def run(handler: _Handler, request: Recorded) -> None:
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)

    return run


def truncated(inner: str) -> Behaviour:
    """Announce the whole body, send half, close."""

    def run(handler: _Handler, request: Recorded) -> None:
        body = envelope(inner)
        handler.start_reply(200, len(body))
        handler.wfile.write(body[: len(body) // 2])
        handler.wfile.flush()
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)

    return run


def trickle(inner: str, *, pieces: int, pause_s: float) -> Behaviour:
    """Send the headers at once, then the body in pieces with pauses (each read is quick)."""

    def run(handler: _Handler, request: Recorded) -> None:
        body = envelope(inner)
        handler.start_reply(200, len(body))
        step = max(1, len(body) // pieces)
        with contextlib.suppress(OSError):  # the client may give up and close
            for start in range(0, len(body), step):
                handler.wfile.write(body[start : start + step])
                handler.wfile.flush()
                time.sleep(pause_s)
        handler.close_connection = True

    return run


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bc: FakeBC

    def log_message(self, format: str, *args: object) -> None:
        pass

    def start_reply(self, code: int, length: int, headers: dict[str, str] | None = None) -> None:
        """Status line and headers announcing a body of ``length`` bytes (sent by the caller)."""
        self.send_response(code)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def reply(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.start_reply(code, len(body), headers)
        self.wfile.write(body)

    def _record(self) -> Recorded:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        recorded = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        return recorded

    def do_GET(self) -> None:
        request = self._record()
        self.bc.requests.append(request)
        if not self.bc.authorised(request.headers):
            self.reply(401, b"", {"WWW-Authenticate": "Bearer realm=bc"})
            return
        self.reply(200, self.bc.wsdl_body)

    def do_POST(self) -> None:
        request = self._record()
        bc = self.bc
        if request.path.endswith("/token"):
            bc.token_requests.append(parse_qs(request.body.decode()))
            if bc.token_script:
                bc.token_script.popleft()(self, request)
                return
            form = parse_qs(request.body.decode())
            if form.get("client_id") != [bc.client_id] or form.get("client_secret") != [bc.client_secret]:
                self.reply(
                    401, json.dumps({"error": "invalid_client", "error_description": "bad client"}).encode()
                )
                return
            token = f"token-{len(bc.token_requests)}-opaque"
            bc.valid_tokens.add(token)
            answer = {"access_token": token, "token_type": "Bearer", "expires_in": bc.token_lifetime}
            self.reply(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})
            return
        bc.requests.append(request)
        if not bc.authorised(request.headers):
            challenge = {"key": "SecurityKey", "basic": 'Basic realm="BC"', "oauth2": "Bearer"}.get(
                bc.auth, ""
            )
            self.reply(401, b"", {"WWW-Authenticate": challenge})
            return
        behaviour = bc.script.popleft() if bc.script else ok()
        behaviour(self, request)
