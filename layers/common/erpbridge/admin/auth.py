"""Who is asking, and may they: the operator of an admin request, and the CSRF check of an action.

* IAM (AWS): API Gateway checked the SigV4 signature; the principal it authorised is in the
  request context (``identity.userArn``). No principal: 401 (the API is not behind IAM). A
  principal outside ``ERPBRIDGE_ADMIN_OPERATORS`` (when set): 403.
* Token (a local console): the token printed at start, as ``Authorization: Bearer`` or as the
  cookie the login link sets. None: 401; a wrong one: 403.

An action (POST) authenticated by the cookie must also carry the CSRF value of the page it came
from (form field ``csrf`` or header ``X-CSRF-Token``): a cookie is sent by the browser to any site's
form, the CSRF value is not. Bearer and SigV4 requests are not ambient credentials: no CSRF value.

Behind the CLI's signing console proxy (``erpbridge console --stack``) the browser's session is the
proxy's: the proxy checks its token and CSRF value before it signs anything, and names that value
in ``X-Console-CSRF`` so that the pages' forms carry it. The function renders it and checks nothing
with it (the request is signed); it claims no identity.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from erpbridge.live.errors import ForbiddenError, UnauthorizedError
from erpbridge.settings import AdminSettings

COOKIE = "erpbridge_console"
PROXY_CSRF_HEADER = "X-Console-CSRF"  # the signing proxy's session CSRF value, for the forms


@dataclass(frozen=True)
class Operator:
    name: str
    via: str  # "iam", "bearer", "cookie"
    csrf: str | None = None  # the value this session's forms carry (cookie sessions)


def csrf_value(token: str) -> str:
    return hmac.new(token.encode(), b"erpbridge-console-csrf", hashlib.sha256).hexdigest()


def cookie_value(headers: Mapping[str, str], name: str = COOKIE) -> str | None:
    raw = next((v for k, v in headers.items() if k.lower() == "cookie"), None)
    if not raw:
        return None
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(raw)
    except Exception:
        return None
    morsel = cookie.get(name)
    return morsel.value if morsel else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def identify(
    settings: AdminSettings, headers: Mapping[str, str], request_context: Mapping[str, Any]
) -> Operator:
    if settings.admin_auth == "iam":
        identity = request_context.get("identity") or {}
        arn = identity.get("userArn")
        if not arn:
            raise UnauthorizedError("no IAM identity: the admin API must be called signed (SigV4)")
        allowed = settings.admin_operators
        if allowed and not any(arn == a or (a.endswith("*") and arn.startswith(a[:-1])) for a in allowed):
            raise ForbiddenError(f"{arn} is not an operator of this stack")
        return Operator(name=arn, via="iam", csrf=_header(headers, PROXY_CSRF_HEADER.lower()))
    expected = settings.admin_token.get_secret_value() if settings.admin_token else None
    if not expected:
        raise UnauthorizedError("the console has no token configured (ERPBRIDGE_ADMIN_TOKEN)")
    bearer = _header(headers, "authorization")
    if bearer:
        scheme, _, given = bearer.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), expected):
            raise ForbiddenError("wrong console token")
        return Operator(name=settings.admin_operator_name, via="bearer")
    from_cookie = cookie_value(headers)
    if not from_cookie:
        raise UnauthorizedError("no console token: open the link `erpbridge console` printed")
    if not hmac.compare_digest(from_cookie, expected):
        raise ForbiddenError("wrong console token")
    return Operator(name=settings.admin_operator_name, via="cookie", csrf=csrf_value(expected))


def check_csrf(operator: Operator, headers: Mapping[str, str], form: Mapping[str, str]) -> None:
    """For an action: refuse a cookie session's request without its page's CSRF value."""
    if operator.via != "cookie":
        return
    given = _header(headers, "x-csrf-token") or form.get("csrf") or ""
    if not operator.csrf or not hmac.compare_digest(given, operator.csrf):
        raise ForbiddenError("the action lacks this page's CSRF value: reload the page and try again")
