"""Shared fixtures: dummy AWS credentials, databases (SQLite always, PostgreSQL when reachable).

PostgreSQL tests use a fresh schema per test (selected through the connection's search_path), so
tests never see each other's rows. Set ``ERPBRIDGE_TEST_DATABASE_URL`` to point at another server;
CI sets ``ERPBRIDGE_REQUIRE_POSTGRES=1`` so an unreachable server fails the run instead of skipping.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

# moto must be imported before any boto3 client is created (serverless-anchors §3.1).
import moto  # noqa: F401
import pytest
from moto.dynamodb.responses import DynamoHandler

os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SECURITY_TOKEN", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "erpbridge-tests")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "erpbridge")

pytest_plugins = ["bc_emulator.pytest_plugin"]

# DynamoDB applies a conditional write atomically; moto's in-process DynamoDB checks the condition
# and stores the item in two steps, so two threads could both pass the check (two deliveries both
# claiming one import, both taking one lock) once the scheduler switches between them. The tests
# race threads against the service's guarantee, so moto serves one request at a time, as the
# service behaves.
_MOTO_DYNAMODB_REQUEST = threading.Lock()
_moto_call_action = DynamoHandler.call_action


def _atomic_call_action(self: DynamoHandler) -> object:
    with _MOTO_DYNAMODB_REQUEST:
        return _moto_call_action(self)


DynamoHandler.call_action = _atomic_call_action  # type: ignore[method-assign,assignment]

POSTGRES_URL = os.environ.get(
    "ERPBRIDGE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> str | None:
    """None when the test database can be used, else the one reason it cannot (no server, or a
    server without that database or login), naming what to do."""
    parts = urlsplit(POSTGRES_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=2):
            pass
    except OSError as error:
        return f"PostgreSQL at {parts.hostname}:{parts.port} is not reachable ({error})"
    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 5})
    try:
        with engine.connect():
            return None
    except sa.exc.OperationalError as error:
        database = parts.path.lstrip("/") or "postgres"
        first_line = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        return (
            f"PostgreSQL at {parts.hostname}:{parts.port} refuses the test database {database!r} "
            f"({first_line}): create it (createdb -h {parts.hostname} -U {parts.username or 'postgres'} "
            f"{database}) or point ERPBRIDGE_TEST_DATABASE_URL at one"
        )
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The test server's URL; locally a missing server or database skips (one reason, listed once
    in the summary), under CI (ERPBRIDGE_REQUIRE_POSTGRES=1) it fails."""
    reason = _postgres_reachable()
    if reason:
        if os.environ.get("ERPBRIDGE_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " and ERPBRIDGE_REQUIRE_POSTGRES=1")
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema dropped after the test."""
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in postgres_server_url else "?"
    try:
        yield f"{postgres_server_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/shop.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Run a test once on SQLite and once on PostgreSQL (skipped with a reason when unreachable)."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@dataclass
class FakeLambdaContext:
    function_name: str = "erpbridge-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:erpbridge-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()
