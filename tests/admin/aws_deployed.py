"""A deployed admin API for tests: the admin function in IAM mode behind ``iam_gateway`` (SigV4
checked with fixed fake keys, the stage ``/prod`` in its URL), over the BC emulator and SQLite, in
this process; and an operator's machine that holds nothing but its URL and AWS credentials."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from console_support import ConsoleStack, console_stack
from iam_gateway import FakeKey, iam_gateway

from erpbridge.admin.auth import COOKIE

REGION = "eu-west-1"
STAGE = "prod"  # the API's URL ends with its stage, as AdminApiUrl does
ALICE = FakeKey(
    access_key="AKIDALICEEXAMPLE0001",
    secret_key="alice-secret-key-0123456789abcdefghijklmn",
    session_token="alice-session-token-example",
    principal="arn:aws:sts::123456789012:assumed-role/Operators/alice",
)
ERP_AND_DATABASE = (
    "ERPBRIDGE_ERP",
    "ERPBRIDGE_DATABASE",
    "ERPBRIDGE_DB_",
    "ERPBRIDGE_SECRETS",
    "ERPBRIDGE_STATE",
)


@dataclass
class Deployed:
    url: str  # the admin API, behind the IAM check
    stack: ConsoleStack
    seen: list[dict[str, str]]  # headers of the requests the gateway accepted
    project: Path  # the CLI's (empty) project folder


@pytest.fixture
def deployed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, emulator: Any, sqlite_url: str
) -> Iterator[Deployed]:
    from erpbridge.settings import get_settings
    from erpbridge_cli.commands.live import make_server
    from erpbridge_cli.console_server import import_admin_api

    with console_stack(monkeypatch, tmp_path, emulator, sqlite_url) as stack:
        monkeypatch.setenv("ERPBRIDGE_ADMIN_AUTH", "iam")
        monkeypatch.setenv(
            "ERPBRIDGE_ADMIN_OPERATORS", '["arn:aws:sts::123456789012:assumed-role/Operators/*"]'
        )
        get_settings.cache_clear()
        seen: list[dict[str, str]] = []
        handler = iam_gateway(
            import_admin_api().lambda_handler, [ALICE], region=REGION, seen=seen, stage=STAGE
        )
        server = make_server(0, lambda_handler=handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        project = tmp_path / "operator-laptop"
        project.mkdir()
        try:
            yield Deployed(f"http://127.0.0.1:{server.server_address[1]}/{STAGE}/", stack, seen, project)
        finally:
            server.shutdown()
            monkeypatch.delenv("ERPBRIDGE_ADMIN_OPERATORS")
            get_settings.cache_clear()


def operator_env(deployed: Deployed, key: FakeKey = ALICE) -> dict[str, str]:
    """An operator's machine: the API's URL and AWS credentials, nothing else."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(deployed.project),
        "ERPBRIDGE_HOME": str(deployed.project),
        "ERPBRIDGE_ADMIN_URL": deployed.url,
        "AWS_ACCESS_KEY_ID": key.access_key,
        "AWS_SECRET_ACCESS_KEY": key.secret_key,
        "AWS_SESSION_TOKEN": key.session_token,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "COLUMNS": "100",
    }
    assert not [name for name in env if name.startswith(ERP_AND_DATABASE)]
    return env


def operator_cli(deployed: Deployed, *args: str, key: FakeKey = ALICE) -> subprocess.CompletedProcess[str]:
    """`erpbridge ARGS` on an operator's machine (``operator_env``)."""
    return subprocess.run(
        [sys.executable, "-m", "erpbridge_cli.main", *args],
        cwd=deployed.project,
        env=operator_env(deployed, key),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass
class Proxy:
    base: str  # http://127.0.0.1:PORT
    token: str
    deployed: Deployed

    def browser(self) -> requests.Session:
        """A browser that opened the printed link: it holds the console cookie."""
        session = requests.Session()
        answer = session.get(f"{self.base}/login?token={self.token}", allow_redirects=False, timeout=30)
        assert answer.status_code == 303 and COOKIE in answer.headers["Set-Cookie"]
        return session


def start_console(deployed: Deployed, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "erpbridge_cli.main", "console", "--admin-url", deployed.url],
        cwd=deployed.project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def proxy(deployed: Deployed) -> Iterator[Proxy]:
    env = operator_env(deployed)
    del env["ERPBRIDGE_ADMIN_URL"]  # named by --admin-url
    process = start_console(deployed, env)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            found = re.search(r"operator console\s+(http://127\.0\.0\.1:\d+)/login\?token=(\S+)", line)
            if found:
                yield Proxy(found[1], found[2], deployed)
                break
        else:
            pytest.fail(f"the console did not start: {process.stderr.read() if process.stderr else ''}")
    finally:
        process.terminate()
        process.wait(timeout=30)
