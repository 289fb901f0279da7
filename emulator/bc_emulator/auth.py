"""The emulator's authentication: none, connector security key, Basic, OAuth2 client credentials.

* ``key``: the Dynamicweb connector relay's shared key in the ``X-Security-Key`` header.
* ``basic``: BC on-premises with NavUserPassword (user + web service access key as password).
* ``oauth2``: BC online. Tokens come from ``POST /<tenant>/oauth2/v2.0/token`` (client credentials,
  ``client_secret_post`` or ``client_secret_basic``), expire after ``token_ttl_s`` and are opaque.

A rejected request gets 401 with the ``WWW-Authenticate`` challenge of the mode, as BC sends it.
The token endpoint answers errors as Entra ID does (JSON ``error`` / ``error_description`` with an
AADSTS code; 401 for a bad client, 400 for the rest).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, unquote

from bc_emulator._model import RequestHeaders

AuthMode = Literal["none", "key", "basic", "oauth2"]
AUTH_MODES: tuple[AuthMode, ...] = ("none", "key", "basic", "oauth2")
BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"
BC_RESOURCE = "https://api.businesscentral.dynamics.com"


@dataclass(frozen=True)
class AuthFailure:
    status: int
    headers: dict[str, str]
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class TokenAnswer:
    status: int
    body: dict[str, object]


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class Authenticator:
    """Checks SOAP requests and issues OAuth2 tokens. Thread-safe."""

    def __init__(
        self,
        mode: AuthMode,
        *,
        security_key: str,
        security_key_header: str = "X-Security-Key",
        user: str,
        password: str,
        client_id: str,
        client_secret: str,
        tenant: str,
        token_ttl_s: int = 3599,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if mode not in AUTH_MODES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}, got {mode!r}")
        self.mode = mode
        self.security_key = security_key
        self.security_key_header = security_key_header
        self.user = user
        self.password = password
        self.client_id = client_id
        self.client_secret = client_secret
        self.tenant = tenant
        self.token_ttl_s = token_ttl_s
        self._clock = clock
        self._tokens: dict[str, float] = {}  # token → expiry (epoch seconds)
        self._lock = threading.Lock()
        self.tokens_issued = 0

    # --- SOAP requests ----------------------------------------------------------------------

    def check(self, headers: RequestHeaders) -> AuthFailure | None:
        """None when the request may pass, else the 401 to send."""
        if self.mode == "none":
            return None
        if self.mode == "key":
            given = headers.get(self.security_key_header)
            if given is not None and _same(given, self.security_key):
                return None
            return self._unauthorized(
                f'SecurityKey realm="DWWebService", header="{self.security_key_header}"',
                "The security key is missing or wrong."
                if given is None or given
                else "The security key is empty.",
            )
        authorization = headers.get("Authorization") or ""
        scheme, _, credentials = authorization.partition(" ")
        if self.mode == "basic":
            if scheme.lower() == "basic" and self._basic_ok(credentials.strip()):
                return None
            return self._unauthorized('Basic realm=""', "The user name or password is incorrect.")
        # oauth2
        challenge = (
            f'Bearer authorization_uri="https://login.microsoftonline.com/{self.tenant}/oauth2/authorize", '
            f'resource_id="{BC_RESOURCE}"'
        )
        if scheme.lower() != "bearer" or not credentials.strip():
            return self._unauthorized(challenge, "The request has no bearer token.")
        with self._lock:
            expiry = self._tokens.get(credentials.strip())
        if expiry is None:
            return self._unauthorized(
                challenge + ', error="invalid_token", error_description="The access token is invalid"',
                "The access token is invalid.",
            )
        if expiry <= self._clock():
            return self._unauthorized(
                challenge + ', error="invalid_token", error_description="The access token is expired"',
                "The access token is expired.",
            )
        return None

    def _basic_ok(self, credentials: str) -> bool:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        return bool(sep) and _same(user, self.user) and _same(password, self.password)

    @staticmethod
    def _unauthorized(challenge: str, message: str) -> AuthFailure:
        return AuthFailure(401, {"WWW-Authenticate": challenge}, message.encode("utf-8"))

    # --- OAuth2 token endpoint --------------------------------------------------------------

    def token_path(self) -> str:
        return f"/{self.tenant}/oauth2/v2.0/token"

    def issue_token(self, path_tenant: str, headers: RequestHeaders, body: bytes) -> TokenAnswer:
        if path_tenant != self.tenant:
            return self._token_error(
                400,
                "invalid_tenant",
                f"AADSTS90002: Tenant '{path_tenant}' not found. "
                "Check to make sure you have the correct tenant ID.",
            )
        if self.mode != "oauth2":
            return self._token_error(
                400, "unauthorized_client", "AADSTS700016: OAuth2 is not enabled on this emulator."
            )
        content_type = headers.get("Content-Type", "")
        if "application/x-www-form-urlencoded" not in content_type:
            return self._token_error(
                400,
                "invalid_request",
                "AADSTS900144: The request body must contain the following parameter: 'grant_type'.",
            )
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        client_id = form.get("client_id", "")
        client_secret = form.get("client_secret", "")
        scheme, _, credentials = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "basic":  # client_secret_basic
            try:
                pair = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                pair = ""
            basic_id, _, basic_secret = pair.partition(":")
            client_id, client_secret = unquote(basic_id), unquote(basic_secret)
        if form.get("grant_type") != "client_credentials":
            return self._token_error(
                400,
                "unsupported_grant_type",
                "AADSTS70003: The app requested an unsupported grant type. Use client_credentials.",
            )
        if not client_id or not _same(client_id, self.client_id):
            return self._token_error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{client_id}' was not found in the directory.",
            )
        if not client_secret or not _same(client_secret, self.client_secret):
            return self._token_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        if form.get("scope") != BC_SCOPE:
            return self._token_error(
                400,
                "invalid_scope",
                f"AADSTS1002012: The provided value for scope {form.get('scope', '')!r} is not valid. "
                f"Client credential flows must have a scope value with /.default suffixed ({BC_SCOPE}).",
            )
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            self._tokens = {t: e for t, e in self._tokens.items() if e > now}
            self._tokens[token] = now + self.token_ttl_s
            self.tokens_issued += 1
        return TokenAnswer(
            200,
            {
                "token_type": "Bearer",
                "expires_in": self.token_ttl_s,
                "ext_expires_in": self.token_ttl_s,
                "access_token": token,
            },
        )

    @staticmethod
    def _token_error(status: int, error: str, description: str) -> TokenAnswer:
        return TokenAnswer(
            status,
            {
                "error": error,
                "error_description": description,
                "error_codes": [int(description.split(":")[0].removeprefix("AADSTS") or 0)],
                "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            },
        )

    def expire_tokens(self) -> int:
        """Make every issued token expired now (to test a client's refresh on 401)."""
        with self._lock:
            count = len(self._tokens)
            now = self._clock()
            self._tokens = dict.fromkeys(self._tokens, now)
            return count

    def set_token_ttl(self, seconds: int) -> None:
        self.token_ttl_s = seconds
