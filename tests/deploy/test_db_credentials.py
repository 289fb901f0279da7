"""The shop database's secret in the RDS format: the URL is built from it, and a rotated user or
password is picked up by new connections without a restart (real PostgreSQL, Secrets Manager on
moto)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from moto import mock_aws

from erpbridge.db_credentials import DatabaseCredentials, database_url_from_secret
from erpbridge.errors import ConfigurationError
from erpbridge.settings import load_settings
from erpbridge.shopdb import dispose_engines, engine_for

SECRET = "erpbridge/test/db"


@pytest.fixture
def roles(postgres_server_url: str) -> Iterator[tuple[str, str, Any]]:
    """Two login roles, as Secrets Manager's alternating-users rotation keeps them."""
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    suffix = uuid.uuid4().hex[:8]
    first, second = f"shop_a_{suffix}", f"shop_b_{suffix}"
    with admin.connect() as conn:
        for role in (first, second):
            conn.execute(sa.text(f"CREATE ROLE {role} LOGIN PASSWORD 'x'"))
    try:
        yield first, second, admin
    finally:
        dispose_engines()
        with admin.connect() as conn:
            for role in (first, second):
                conn.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


def _secret(server_url: str, user: str) -> str:
    url = sa.make_url(server_url)
    return json.dumps(
        {
            "username": user,
            "password": "x",
            "host": url.host,
            "port": url.port or 5432,
            "dbname": url.database,
            "engine": "postgres",
        }
    )


def test_the_url_is_built_from_the_rds_secret_and_a_rotated_user_is_picked_up(
    roles: tuple[str, str, Any], postgres_server_url: str
) -> None:
    first, second, admin = roles
    with mock_aws():
        client = boto3.client("secretsmanager")
        client.create_secret(Name=SECRET, SecretString=_secret(postgres_server_url, first))
        settings = load_settings(
            {
                "ERPBRIDGE_DB_SECRET_NAME": SECRET,
                "ERPBRIDGE_DB_SSLMODE": "disable",
                "ERPBRIDGE_ERP_AUTH": "none",
            }
        )
        assert settings.database_url.startswith(f"postgresql+psycopg://{first}@")
        assert "x@" not in settings.database_url  # the password is never part of the URL
        engine = engine_for(settings.database_url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_user")).scalar_one() == first

        # Rotation: the secret now names the other user, and the old one may no longer log in.
        client.put_secret_value(SecretId=SECRET, SecretString=_secret(postgres_server_url, second))
        with admin.connect() as conn:
            conn.execute(sa.text(f"ALTER ROLE {first} NOLOGIN"))
        engine.dispose()  # the pool's connections end (recycled, or dropped by the server)
        with engine.connect() as conn:  # refused once with the cached user, then re-read
            assert conn.execute(sa.text("SELECT current_user")).scalar_one() == second


def test_a_secret_that_is_not_in_the_rds_format_is_refused_with_what_it_lacks() -> None:
    with pytest.raises(ConfigurationError, match="lacks host, dbname"):
        database_url_from_secret({"username": "u", "password": "p"}, secret_name=SECRET)
    with pytest.raises(ConfigurationError, match="engine 'mysql'"):
        database_url_from_secret(
            {"username": "u", "host": "h", "dbname": "d", "engine": "mysql"}, secret_name=SECRET
        )


def test_the_proxy_host_replaces_the_secrets_host_and_names_are_escaped() -> None:
    url = database_url_from_secret(
        {"username": "app@shop", "password": "p/w", "host": "db.internal", "port": 6432, "dbname": "shop db"},
        secret_name=SECRET,
        host="proxy.eu-west-1.rds.amazonaws.com",
    )
    parsed = sa.make_url(url)
    assert (parsed.username, parsed.host, parsed.port, parsed.database) == (
        "app@shop",
        "proxy.eu-west-1.rds.amazonaws.com",
        6432,
        "shop db",
    )
    assert parsed.password is None and parsed.query["sslmode"] == "require"


def test_credentials_are_read_again_after_their_ttl_and_iam_tokens_are_fresh_per_connection() -> None:
    now = [0.0]
    reads: list[int] = []

    def read() -> dict[str, str]:
        reads.append(1)
        return {"username": f"user{len(reads)}", "password": "p"}

    credentials = DatabaseCredentials(read, ttl_s=300, clock=lambda: now[0])
    assert credentials.current().user == "user1"
    now[0] = 299
    assert credentials.current().user == "user1"
    now[0] = 300
    assert credentials.current().user == "user2"
    tokens = iter(["token-1", "token-2"])
    iam = DatabaseCredentials(read, token=lambda user: f"{user}:{next(tokens)}")
    assert iam.current().password == "user3:token-1"
    assert iam.current().password == "user3:token-2"
