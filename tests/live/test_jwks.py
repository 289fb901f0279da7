"""Customer tokens verified against a JWKS URL (RS256), as an identity provider would publish it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

CLOSED_ERP_URL = "http://127.0.0.1:9/tenant/production/WS/CRONUS/Codeunit/DWWebService"


@pytest.fixture
def jwks() -> Iterator[tuple[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    document = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", key
    server.shutdown()


def _token(key: Any, customer: str, **claims: Any) -> str:
    body = {"customer_number": customer, "exp": int(time.time()) + 300, "iss": "https://idp.test", **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1"})


def test_jwks_tokens_scope_the_customer(
    jwks: tuple[str, Any], live_builder: Any, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, key = jwks
    monkeypatch.delenv("ERPBRIDGE_JWT_SECRET", raising=False)
    live = live_builder(
        sqlite_url,
        {"ERPBRIDGE_ERP_URL": CLOSED_ERP_URL},
        ERPBRIDGE_JWT_SECRET="",
        ERPBRIDGE_JWT_JWKS_URL=url,
        ERPBRIDGE_JWT_ISSUER="https://idp.test",
        ERPBRIDGE_JWT_REQUIRED="true",
    )
    body = {"customer_number": "10000", "items": [{"product_id": "P000001"}]}
    assert live.call("POST", "/v1/prices", body, token=_token(key, "10000")).status == 200
    assert live.call("POST", "/v1/prices", body, token=_token(key, "20000")).status == 403
    foreign_issuer = _token(key, "10000", iss="https://evil.test")
    assert live.call("POST", "/v1/prices", body, token=foreign_issuer).status == 401
    assert live.call("POST", "/v1/prices", body).status == 401  # required, and missing
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert live.call("POST", "/v1/prices", body, token=_token(other_key, "10000")).status == 401


def test_an_unreachable_key_server_is_503_not_an_invalid_token(
    live_builder: Any, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    monkeypatch.delenv("ERPBRIDGE_JWT_SECRET", raising=False)
    live = live_builder(
        sqlite_url,
        {"ERPBRIDGE_ERP_URL": CLOSED_ERP_URL},
        ERPBRIDGE_JWT_SECRET="",
        ERPBRIDGE_JWT_JWKS_URL="http://127.0.0.1:9/.well-known/jwks.json",  # nothing listens
        ERPBRIDGE_JWT_REQUIRED="true",
    )
    body = {"customer_number": "10000", "items": [{"product_id": "P000001"}]}
    answer = live.call("POST", "/v1/prices", body, token=_token(key, "10000"))
    assert answer.status == 503, answer.body
    assert answer.body["error"] == "token_keys_unavailable"
