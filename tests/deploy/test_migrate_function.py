"""The migration function: idempotent with a report, answering CloudFormation's custom-resource
requests over real HTTP (success, failure and delete), and `erpbridge db upgrade --function`
invoking it through the Lambda Invoke API (a local stand-in that runs the real handler)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from typer.testing import CliRunner

from erpbridge.settings import get_settings
from erpbridge.shopdb import dispose_engines
from erpbridge.shopdb.migrate import available_revisions

runner = CliRunner()


class _Recorder(ThreadingHTTPServer):
    """Answers PUTs (CloudFormation's pre-signed response URL) and POSTs (Lambda's Invoke API)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.content_types: list[str | None] = []
        self.context: Any = None  # the Lambda context the stand-in invokes the handler with
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def log_message(self, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_PUT(self) -> None:
        self.server.bodies.append(json.loads(self._body()))
        self.server.content_types.append(self.headers.get("Content-Type"))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:  # POST /2015-03-31/functions/<name>/invocations
        import migrate_db

        event = json.loads(self._body() or b"{}")
        answer = json.dumps(migrate_db.lambda_handler(event, self.server.context)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


@pytest.fixture
def recorder(lambda_context: Any) -> Iterator[_Recorder]:
    server = _Recorder()
    server.context = lambda_context
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("ERPBRIDGE_DATABASE_URL", database_url)
    monkeypatch.setenv("ERPBRIDGE_ERP_AUTH", "none")
    for name in ("ERPBRIDGE_SECRETS_NAME", "ERPBRIDGE_SSM_PATH", "ERPBRIDGE_DB_SECRET_NAME"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()
    dispose_engines()


def _cfn_event(request_type: str, response_url: str) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": response_url + "/cloudformation-response",
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/erpbridge-dev/1",
        "RequestId": "req-1",
        "LogicalResourceId": "DatabaseMigrations",
        "ResourceType": "Custom::DatabaseMigrations",
        "ResourceProperties": {"LayerVersion": "arn:layer:1"},
    }


def test_a_direct_invocation_applies_pending_migrations_once_and_reports(
    database: str, lambda_context: Any
) -> None:
    import migrate_db

    first = migrate_db.lambda_handler({}, lambda_context)
    assert first["applied"] == available_revisions() and first["current"] == available_revisions()[-1]
    again = migrate_db.lambda_handler({}, lambda_context)
    assert again == {"applied": [], "current": available_revisions()[-1]}


def test_a_deploy_runs_the_migrations_and_answers_cloudformation(
    database: str, recorder: _Recorder, lambda_context: Any
) -> None:
    import migrate_db

    migrate_db.lambda_handler(_cfn_event("Create", recorder.url), lambda_context)
    migrate_db.lambda_handler(_cfn_event("Update", recorder.url), lambda_context)
    created, updated = recorder.bodies
    assert created["Status"] == updated["Status"] == "SUCCESS"
    assert created["Data"]["Applied"] == ",".join(available_revisions())
    assert updated["Data"]["Applied"] == "none" and updated["Data"]["Current"] == available_revisions()[-1]
    assert created["PhysicalResourceId"] == updated["PhysicalResourceId"]  # never a replacement
    assert (created["RequestId"], created["LogicalResourceId"]) == ("req-1", "DatabaseMigrations")
    assert recorder.content_types == ["", ""]  # the pre-signed URL's signature has no content type


def test_a_failed_migration_fails_the_deploy_with_the_reason_and_delete_keeps_the_database(
    recorder: _Recorder, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, lambda_context: Any
) -> None:
    import migrate_db

    # Nothing listens on port 9: the database cannot be reached.
    monkeypatch.setenv("ERPBRIDGE_DATABASE_URL", "postgresql+psycopg://erpbridge@127.0.0.1:9/shop")
    monkeypatch.setenv("ERPBRIDGE_ERP_AUTH", "none")
    get_settings.cache_clear()
    try:
        migrate_db.lambda_handler(_cfn_event("Create", recorder.url), lambda_context)
        migrate_db.lambda_handler(_cfn_event("Delete", recorder.url), lambda_context)
    finally:
        get_settings.cache_clear()
        dispose_engines()
    failed, deleted = recorder.bodies
    assert failed["Status"] == "FAILED" and "DatabaseUnavailableError" in failed["Reason"]
    assert deleted["Status"] == "SUCCESS" and "kept" in deleted["Reason"]


def test_the_cli_runs_the_migrations_through_the_deployed_function(
    database: str, recorder: _Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from erpbridge_cli.main import app

    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", recorder.url)
    first = runner.invoke(app, ["db", "upgrade", "--function", "erpbridge-dev-MigrateFunction"])
    assert first.exit_code == 0, first.output
    assert f"applied {available_revisions()[0]}" in first.output
    again = runner.invoke(app, ["db", "upgrade", "--function", "erpbridge-dev-MigrateFunction"])
    assert again.exit_code == 0 and "already up to date" in again.output
    assert available_revisions()[-1] in again.output
