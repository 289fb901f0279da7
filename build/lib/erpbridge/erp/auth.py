"""How erpbridge proves who it is to Business Central.

* ``key`` — the connector's shared security key in a header (``X-Security-Key`` by default);
* ``basic`` — on-premises user name + web service access key (``Authorization: Basic``);
* ``oauth2`` — BC online service-to-service: client-credentials token from the token endpoint,
  cached until shortly before it expires, fetched afresh once when BC answers 401;
* ``none`` — nothing (a relay that authenticates by network).

Credentials can rotate while a container lives: with a ``reload`` (the settings read again, i.e.
the secret re-fetched) :class:`RotatingAuth` builds a fresh authenticator after a TTL, and at
once when BC answers 401 and the re-read credentials differ from the ones in use.

Secrets stay in ``SecretStr`` until the moment a header is built, and no message, log line or
``repr`` contains them.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

import requests
from pydantic import SecretStr

from erpbridge.errors import ConfigurationError, ErpAuthError, ErpUnavailableError
from erpbridge.settings import ErpSettings

log = logging.getLogger("erpbridge.erp.auth")

# A token is renewed this long before it expires (at most half its lifetime), so a request never
# leaves with a token that expires on the way.
TOKEN_REFRESH_MARGIN_S = 60.0


class TokenEndpointUnavailableError(ErpUnavailableError):
    """The OAuth2 token endpoint could not be reached or failed; the ERP request was not sent."""


class Authenticator(Protocol):
    def headers(self) -> dict[str, str]:
        """Headers that authenticate one request (may fetch a token)."""
        ...

    def renew(self) -> bool:
        """BC said 401: drop cached credentials. True when sending again may now succeed."""
        ...


class NoAuth:
    def headers(self) -> dict[str, str]:
        return {}

    def renew(self) -> bool:
        return False


class SecurityKeyAuth:
    def __init__(self, header: str, key: SecretStr) -> None:
        self._header = header
        self._key = key

    def headers(self) -> dict[str, str]:
        return {self._header: self._key.get_secret_value()}

    def renew(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"SecurityKeyAuth(header={self._header!r})"


class BasicAuth:
    def __init__(self, user: str, password: SecretStr) -> None:
        self._user = user
        self._password = password

    def headers(self) -> dict[str, str]:
        pair = f"{self._user}:{self._password.get_secret_value()}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    def renew(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"BasicAuth(user={self._user!r})"


class OAuth2ClientCredentials:
    """Bearer tokens from a client-credentials grant, cached per instance (thread-safe)."""

    def __init__(
        self,
        session: requests.Session,
        *,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        scope: str,
        timeout: tuple[float, float],
        clock: Callable[[], float],
    ) -> None:
        self._session = session
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._scope = scope
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._token: SecretStr | None = None
        self._renew_at = 0.0

    def __repr__(self) -> str:
        return f"OAuth2ClientCredentials(token_url={self._token_url!r}, client_id={self._client_id!r})"

    def headers(self) -> dict[str, str]:
        return {"Authorization": "Bearer " + self._current_token().get_secret_value()}

    def renew(self) -> bool:
        with self._lock:
            self._token = None
        return True

    def _current_token(self) -> SecretStr:
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._token, lifetime = self._fetch()
                self._renew_at = self._clock() + lifetime - min(TOKEN_REFRESH_MARGIN_S, lifetime / 2)
            return self._token

    def _fetch(self) -> tuple[SecretStr, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret.get_secret_value(),
            "scope": self._scope,
        }
        try:
            response = self._session.post(
                self._token_url, data=form, timeout=self._timeout, headers={"Accept": "application/json"}
            )
        except requests.RequestException as error:
            raise TokenEndpointUnavailableError(
                f"OAuth2 token endpoint {self._token_url} could not be reached ({type(error).__name__})"
            ) from None
        if response.status_code in (400, 401, 403):
            raise ErpAuthError(
                f"OAuth2 token endpoint refused the client credentials (HTTP {response.status_code}): "
                f"{_oauth_error(response)}"
            )
        if response.status_code != 200:
            raise TokenEndpointUnavailableError(
                f"OAuth2 token endpoint {self._token_url} answered HTTP {response.status_code}"
            )
        try:
            payload: Any = response.json()
            token = payload["access_token"]
            lifetime = float(payload.get("expires_in", 3600))
            token_type = str(payload.get("token_type", "Bearer"))
        except (ValueError, KeyError, TypeError):
            raise ErpAuthError("OAuth2 token endpoint answered without a usable access_token") from None
        if not isinstance(token, str) or not token or token_type.lower() != "bearer" or lifetime <= 0:
            raise ErpAuthError("OAuth2 token endpoint answered without a usable bearer access_token")
        log.info("fetched an OAuth2 token", extra={"expires_in_s": lifetime, "token_url": self._token_url})
        return SecretStr(token), lifetime


def _oauth_error(response: requests.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return "no error description"
    if not isinstance(payload, dict):
        return "no error description"
    parts = [str(payload[key]) for key in ("error", "error_description") if payload.get(key)]
    return ": ".join(parts)[:500] or "no error description"


def authenticator_for(
    settings: ErpSettings, session: requests.Session, *, clock: Callable[[], float]
) -> Authenticator:
    """The authenticator ``settings.erp_auth`` asks for (settings were validated to match it)."""
    mode = settings.erp_auth
    if mode == "none":
        return NoAuth()
    if mode == "key":
        if settings.erp_security_key is None:
            raise ConfigurationError("ERPBRIDGE_ERP_SECURITY_KEY is required when ERPBRIDGE_ERP_AUTH=key")
        return SecurityKeyAuth(settings.erp_security_key_header, settings.erp_security_key)
    if mode == "basic":
        if not settings.erp_user or settings.erp_password is None:
            raise ConfigurationError(
                "ERPBRIDGE_ERP_USER and _PASSWORD are required when ERPBRIDGE_ERP_AUTH=basic"
            )
        return BasicAuth(settings.erp_user, settings.erp_password)
    token_url = settings.token_url
    if not settings.erp_client_id or settings.erp_client_secret is None or token_url is None:
        raise ConfigurationError(
            "ERPBRIDGE_ERP_CLIENT_ID, _CLIENT_SECRET and _TOKEN_URL (or _TENANT) are required "
            "when ERPBRIDGE_ERP_AUTH=oauth2"
        )
    return OAuth2ClientCredentials(
        session,
        token_url=token_url,
        client_id=settings.erp_client_id,
        client_secret=settings.erp_client_secret,
        scope=settings.erp_scope,
        timeout=(settings.erp_connect_timeout_s, settings.erp_timeout_s),
        clock=clock,
    )


def _credential_fingerprint(settings: ErpSettings) -> tuple[object, ...]:
    """What identifies the credentials in use (compared, never logged)."""

    def secret(value: SecretStr | None) -> str | None:
        return None if value is None else value.get_secret_value()

    return (
        settings.erp_auth,
        secret(settings.erp_security_key),
        settings.erp_user,
        secret(settings.erp_password),
        settings.erp_client_id,
        secret(settings.erp_client_secret),
        settings.token_url,
    )


class RotatingAuth:
    """An authenticator rebuilt from freshly read settings after ``ttl_s`` and on a 401."""

    def __init__(
        self,
        settings: ErpSettings,
        reload: Callable[[], ErpSettings],
        session: requests.Session,
        *,
        ttl_s: float,
        clock: Callable[[], float],
    ) -> None:
        self._reload = reload
        self._session = session
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._use(settings)

    def __repr__(self) -> str:
        return f"RotatingAuth({self._inner!r})"

    def _use(self, settings: ErpSettings) -> None:
        self._inner = authenticator_for(settings, self._session, clock=self._clock)
        self._fingerprint = _credential_fingerprint(settings)
        self._loaded_at = self._clock()

    def _reloaded(self) -> bool:
        """Read the settings again; True when the credentials changed (and are now in use)."""
        try:
            fresh = self._reload()
        except Exception:  # a failing secret store must not turn working credentials into an outage
            log.exception("could not re-read the ERP credentials; keeping the ones in use")
            self._loaded_at = self._clock()
            return False
        changed = _credential_fingerprint(fresh) != self._fingerprint
        if changed:
            log.info("ERP credentials changed (rotated); using the new ones")
            self._use(fresh)
        else:
            self._loaded_at = self._clock()
        return changed

    def headers(self) -> dict[str, str]:
        with self._lock:
            if self._clock() - self._loaded_at >= self._ttl_s:
                self._reloaded()
            inner = self._inner
        return inner.headers()

    def renew(self) -> bool:
        with self._lock:
            if self._reloaded():
                return True
            inner = self._inner
        return inner.renew()
