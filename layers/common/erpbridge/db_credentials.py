"""Database credentials that can change while a process runs (Secrets Manager rotation, IAM tokens).

In AWS the shop database's secret is in the standard RDS format that Secrets Manager's rotation
functions write — ``{"username", "password", "host", "port", "dbname", "engine"}`` — not a URL.
:func:`database_url_from_secret` builds the URL (without the password) from it, and a
:class:`DatabaseCredentials` registered for that URL gives every *new* connection the current
user and password: re-read after ``ttl_s``, and at once when the database refuses them
(:func:`erpbridge.shopdb.engine.engine_for` retries such a connection once with fresh values).
So a rotated password, or the alternating user of multi-user rotation, is picked up without a
redeploy. With IAM database authentication the password is a short-lived token instead.

This module is at the bottom of the layer (beside ``settings``): it knows no AWS SDK; the reader it
is given does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from erpbridge.errors import ConfigurationError

_RDS_KEYS = ("username", "host", "dbname")
_ENGINES = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "aurora-postgresql": "postgresql+psycopg",
}


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str
    password: str | None


def database_url_from_secret(
    secret: Mapping[str, Any], *, secret_name: str, host: str | None = None, sslmode: str = "require"
) -> str:
    """``postgresql+psycopg://user@host:port/dbname?sslmode=…`` — no password: it is given per connection.

    ``host`` replaces the secret's host (an RDS Proxy endpoint in front of the instance).
    """
    missing = [key for key in _RDS_KEYS if not secret.get(key)]
    if missing:
        raise ConfigurationError(
            f"ERPBRIDGE_DB_SECRET_NAME: secret {secret_name!r} lacks {', '.join(missing)} "
            '(expected the RDS format {"username", "password", "host", "port", "dbname", "engine"})'
        )
    engine = str(secret.get("engine") or "postgres").lower()
    driver = _ENGINES.get(engine)
    if driver is None:
        raise ConfigurationError(
            f"ERPBRIDGE_DB_SECRET_NAME: secret {secret_name!r} has engine {engine!r}; "
            f"supported: {', '.join(sorted(_ENGINES))}"
        )
    port = int(secret.get("port") or 5432)
    user = quote(str(secret["username"]), safe="")
    where = quote(str(host or secret["host"]), safe=".-")
    dbname = quote(str(secret["dbname"]), safe="")
    query = f"?sslmode={quote(sslmode, safe='')}" if sslmode else ""
    return f"{driver}://{user}@{where}:{port}/{dbname}{query}"


class DatabaseCredentials:
    """The current user and password for new connections, re-read after ``ttl_s`` or on demand.

    ``read`` returns the secret (RDS format). ``token`` (IAM authentication) turns the user into a
    password: it is called for every new connection, since tokens live 15 minutes.
    """

    def __init__(
        self,
        read: Callable[[], Mapping[str, Any]],
        *,
        ttl_s: float = 300.0,
        token: Callable[[str], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        initial: Mapping[str, Any] | None = None,
    ) -> None:
        self._read = read
        self._ttl_s = ttl_s
        self._token = token
        self._clock = clock
        self._lock = threading.Lock()
        self._value: Credentials | None = None
        self._read_at = 0.0
        self.reads = 0
        if initial is not None:  # a secret the caller has just read: no second read
            self._accept(initial)

    def current(self) -> Credentials:
        with self._lock:
            if self._value is None or self._clock() - self._read_at >= self._ttl_s:
                self._load()
            assert self._value is not None
            value = self._value
        if self._token is not None:
            return Credentials(value.user, self._token(value.user))
        return value

    def refresh(self) -> Credentials:
        """Forget the cached values (the database refused them) and read again."""
        with self._lock:
            self._value = None
        return self.current()

    def _load(self) -> None:
        self._accept(self._read())
        self.reads += 1

    def _accept(self, secret: Mapping[str, Any]) -> None:
        user = secret.get("username")
        if not user:
            raise ConfigurationError("ERPBRIDGE_DB_SECRET_NAME: the secret has no username")
        password = secret.get("password")
        self._value = Credentials(str(user), None if password is None else str(password))
        self._read_at = self._clock()


_sources: dict[str, DatabaseCredentials] = {}
_sources_lock = threading.Lock()


def register(database_url: str, credentials: DatabaseCredentials) -> None:
    """Connections to ``database_url`` take their user and password from ``credentials``."""
    with _sources_lock:
        _sources[database_url] = credentials


def credentials_for(database_url: str) -> DatabaseCredentials | None:
    with _sources_lock:
        return _sources.get(database_url)


def iam_token_for(database_url: str) -> Callable[[str], str]:
    """IAM database authentication: a generator of short-lived RDS auth tokens (15 minutes) for
    ``database_url``'s host and port, used as the password (signed locally: no network call)."""
    import boto3  # AWS only: keep it off the local path
    import sqlalchemy as sa

    url = sa.make_url(database_url)
    client = boto3.client("rds")
    host, port = str(url.host), int(url.port or 5432)

    def token(user: str) -> str:
        return str(client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user))

    return token
