"""Customer-scoped bearer tokens (JWT, verified with PyJWT).

The key is a PEM public key, a JWKS URL (keys fetched once and cached by PyJWT's client) or, for
local development only, a shared HS256 secret. ``exp`` is required; ``aud``/``iss`` are required
and must match when configured. Every registered claim a token carries must have its registered
type (RFC 7519 §4.1: ``exp``/``nbf``/``iat`` numbers, ``iss``/``sub``/``jti`` strings, ``aud`` a
string or a list of strings): PyJWT alone accepts ``"exp": "1700000000"``. The customer number
comes from one configurable claim and must be a non-empty string.
"""

from __future__ import annotations

from typing import Any

import jwt

from erpbridge.errors import ConfigurationError
from erpbridge.live.access import STOREFRONT, Caller
from erpbridge.live.errors import TokenKeysUnavailableError, UnauthorizedError
from erpbridge.settings import CustomerTokenSettings

_NUMERIC_CLAIMS = ("exp", "nbf", "iat")
_STRING_CLAIMS = ("iss", "sub", "jti")


def registered_claim_problem(claims: dict[str, Any]) -> str | None:
    """The first registered claim with the wrong type, as a reason; None when all are right."""
    for name in _NUMERIC_CLAIMS:
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"claim '{name}' must be a number"
    for name in _STRING_CLAIMS:
        if name in claims and not isinstance(claims[name], str):
            return f"claim '{name}' must be a string"
    if "aud" in claims:
        audience = claims["aud"]
        if not isinstance(audience, str) and not (
            isinstance(audience, list) and audience and all(isinstance(a, str) for a in audience)
        ):
            return "claim 'aud' must be a string or a list of strings"
    return None


class JwtCustomerTokens:
    def __init__(self, settings: CustomerTokenSettings) -> None:
        self._settings = settings
        self._jwks: jwt.PyJWKClient | None = (
            jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True) if settings.jwt_jwks_url else None
        )
        self._static_key: Any = settings.jwt_public_key or (
            settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        )
        self.enabled = bool(self._jwks or self._static_key)
        if settings.jwt_required and not self.enabled:
            raise ConfigurationError(
                "ERPBRIDGE_JWT_REQUIRED needs ERPBRIDGE_JWT_PUBLIC_KEY, ERPBRIDGE_JWT_JWKS_URL "
                "or ERPBRIDGE_JWT_SECRET"
            )

    def caller(self, authorization: str | None) -> Caller:
        """The caller of a request, from its ``Authorization`` header."""
        if not authorization:
            if self._settings.jwt_required:
                raise UnauthorizedError("a customer token (Authorization: Bearer …) is required")
            return STOREFRONT
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedError("Authorization must be 'Bearer <token>'")
        if not self.enabled:
            raise UnauthorizedError("customer tokens are not configured on this API")
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key if self._jwks else self._static_key
            algorithms = list(self._settings.jwt_algorithms)
            if self._settings.jwt_secret and not self._settings.jwt_public_key and not self._jwks:
                algorithms = ["HS256"]
            required = ["exp"]
            required += ["aud"] if self._settings.jwt_audience is not None else []
            required += ["iss"] if self._settings.jwt_issuer is not None else []
            claims = jwt.decode(
                token.strip(),
                key,
                algorithms=algorithms,
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                options={"require": required, "verify_aud": self._settings.jwt_audience is not None},
            )
        except jwt.PyJWKClientConnectionError:
            # A subclass of PyJWTError, but the key server's outage says nothing about the token.
            raise TokenKeysUnavailableError("the token signing keys cannot be fetched right now") from None
        except jwt.PyJWTError as error:
            raise UnauthorizedError(f"invalid token: {type(error).__name__}") from None
        problem = registered_claim_problem(claims)
        if problem is not None:
            raise UnauthorizedError(f"invalid token: {problem}")
        customer = claims.get(self._settings.jwt_customer_claim)
        if not isinstance(customer, str) or not customer:
            raise UnauthorizedError(f"token has no '{self._settings.jwt_customer_claim}' claim")
        return Caller(customer_number=customer)
