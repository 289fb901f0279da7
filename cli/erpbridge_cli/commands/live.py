"""`erpbridge serve`, `erpbridge orders list|show|resend|export`, `erpbridge openapi`.

``orders list|show|resend`` ask the deployed stack's admin API in AWS mode
(:mod:`erpbridge_cli.admin_client`), else the shop database (and for a re-send the ERP) of these
settings; both print through the same presenters.

``serve`` runs the live API's Lambda handler behind a small threaded HTTP server: each request
becomes an API Gateway REST (v1) proxy event, so the routes, validation, error mapping and
binary handling are exactly those of Lambda. Connections are read and answered in parallel; the
handler resolves one request at a time, as one Lambda environment does (docs/live-concurrency.md).
The database is migrated before the server listens. Without AWS settings the shared stores are local
(memory cache and breaker, idempotency in the shop database, XML copies under
``ERPBRIDGE_STATE_DIR``), so it needs nothing but ``ERPBRIDGE_ERP_URL`` and ``ERPBRIDGE_DATABASE_URL``.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

import typer
from rich.console import Console

from erpbridge_cli.admin_client import admin_api
from erpbridge_cli.commands._batch_common import JsonOption, column, command_group, fail, print_json, table

console = Console()
LIVE_FUNCTIONS = Path(__file__).resolve().parents[3] / "functions" / "live"
MAX_BODY = 6 * 1024 * 1024  # API Gateway's Lambda payload limit
READ_TIMEOUT_S = 10.0  # a body that has not arrived by then will not (API Gateway waits 29 s in all)


def _import_live_api() -> Any:
    if str(LIVE_FUNCTIONS) not in sys.path:
        sys.path.insert(0, str(LIVE_FUNCTIONS))
    import live_api

    return live_api


def _check_serve_settings() -> None:
    """Stop at start, naming the setting, instead of answering every request with an error."""
    from erpbridge.errors import ConfigurationError
    from erpbridge.settings import get_settings
    from erpbridge_cli.commands._batch_common import fail

    try:
        settings = get_settings()
    except ConfigurationError as error:
        raise fail(str(error), 2) from None
    if settings.erp_url is None:
        raise fail(
            "ERPBRIDGE_ERP_URL is not set: the live API needs the SOAP URL of the ERP "
            "(for a local ERP, `erpbridge emulator` prints the ERPBRIDGE_ERP_* lines to export)",
            2,
        )


def _local_services(*, migrate: bool = True, what: str = "this command") -> Any:
    """The live services of these settings (they call the ERP: its settings must be there)."""
    from erpbridge.wiring.live import LiveServices, use_services
    from erpbridge_cli.commands._batch_common import settings, shop_database

    loaded = settings(needs_erp=True, what=what)
    if not migrate:
        shop_database(loaded.database_url)
    services = LiveServices(loaded, migrate=migrate)
    use_services(services)
    return services


ORDER_STATES = ("received", "sending", "created", "queued", "unknown", "dead_letter")
RESEND_STATES = ("queued", "unknown", "dead_letter")


def _local_order_list(*, state: str | None, older_than_s: float | None, limit: int) -> list[Any]:
    """The orders of the shop database (what the admin API lists in AWS)."""
    from datetime import UTC, datetime, timedelta

    from erpbridge.adapters.sql.admin_orders import SqlOrderListing
    from erpbridge.live.ports import OrderState
    from erpbridge.shopdb.engine import engine_for
    from erpbridge_cli.commands._batch_common import settings, shop_database

    # reads the shop database only: no ERP settings, no ERP client
    engine = engine_for(shop_database(settings(what="orders list").database_url))
    states = [OrderState(state)] if state else list(OrderState)
    older = datetime.now(UTC) - timedelta(seconds=older_than_s) if older_than_s else None
    return SqlOrderListing(engine).list_orders(states=states, older_than=older, limit=limit)


def _resend_here(ids: list[str], state: str | None) -> tuple[list[Any], dict[str, str]]:
    """Re-send in this process (the ERP and the shop database of these settings)."""
    from erpbridge.errors import ErpBridgeError

    services = _local_services(migrate=False, what="orders resend")
    if state:
        ids = [*ids, *(o.order_id for o in _local_order_list(state=state, older_than_s=None, limit=500))]
    results, errors = [], {}
    for order_id in ids:
        try:
            results.append(services.orders.resend(order_id))
        except ErpBridgeError as error:
            if len(ids) == 1:
                raise fail(f"order {order_id!r}: {error}", 2) from None
            errors[order_id] = f"{type(error).__name__}: {error}"
    return results, errors


def print_orders(found: list[Any], *, as_json: bool, state: str | None) -> None:
    if as_json:
        print_json([order.as_dict() for order in found])
        return
    if not found:
        console.print(f"no orders{' ' + state.replace('_', '-') if state else ''}")
        return
    listed = table(f"orders{' ' + state if state else ''}")
    for name in ("order / customer", "state", "ERP order", "tries", "last change (UTC)", "last error"):
        column(listed, name)
    for order in found:
        listed.add_row(
            f"{order.order_id}\n{order.customer_number or '-'}",
            order.state.value,
            order.erp_order_id or "",
            str(order.attempts),
            f"{order.updated_at:%Y-%m-%d %H:%M}",
            order.last_error or "",
        )
    console.print(listed)


def print_order(detail: Any, *, as_json: bool) -> None:
    """An order and its timeline, whichever source read it."""
    if as_json:
        print_json(detail.model_dump(mode="json"))
        return
    console.print(
        f"order [bold]{detail.order_id}[/]  customer {detail.customer_number or '-'}  "
        f"status [bold]{detail.status.value}[/] ({detail.state})  "
        f"ERP order {detail.erp_order_id or '-'}  "
        f"counted failures {detail.attempts}"
    )
    timeline = table("timeline")
    for name in ("at (UTC)", "trigger", "outcome", "ERP order", "ms", "ERP message", "request XML"):
        column(timeline, name)
    for entry in detail.timeline:
        timeline.add_row(
            f"{entry.at:%Y-%m-%d %H:%M:%S}",
            entry.trigger,
            entry.outcome,
            entry.erp_order_id or "",
            "" if entry.duration_ms is None else str(entry.duration_ms),
            entry.erp_message or "",
            entry.request_xml or "",
        )
    console.print(timeline)


def print_resent(results: list[Any], errors: dict[str, str], *, as_json: bool) -> None:
    """What re-sending did, one line an order; exit 1 unless every order ends created."""
    if as_json:
        print_json({"results": [r.model_dump(mode="json") for r in results], "errors": errors})
    else:
        for response in results:
            console.print(
                f"order {response.order_id}: [bold]{response.status.value}[/] "
                f"ERP order {response.erp_order_id or '-'}  {response.message or ''}"
            )
        for order_id, error in errors.items():
            console.print(f"order {order_id}: [red]not re-sent[/] {error}")
        if not results and not errors:
            console.print("no orders to re-send")
    if errors or any(r.status.value != "created" for r in results):
        raise typer.Exit(1)


def _served_services() -> Any:
    """The services of a local server, its database migrated now: a bad database URL stops the
    start, and no request waits for the migrations."""
    services = _local_services()
    services.engine  # noqa: B018 - built (and migrated) here, once
    return services


def export_failed_orders_here(*, older_than_s: float | None = None, limit: int | None = None) -> None:
    """Run Export Failed Orders once in this process and print its report (`orders export`,
    `jobs run export-failed-orders`); None takes the setting's default."""
    from erpbridge.wiring.batch import order_export
    from erpbridge_cli.commands._batch_common import settings

    settings(needs_erp=True, what="Export Failed Orders")  # names what is missing, before building
    report = order_export().orders.export_failed_orders(older_than_s=older_than_s, limit=limit)
    console.print(
        f"picked {report.picked}: created {report.created}, queued {report.queued}, "
        f"unknown {report.unknown}, dead-lettered {report.dead_lettered}, rejected {report.rejected}"
    )


@dataclass
class _Context:
    function_name: str = "erpbridge-serve"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:erpbridge-serve"
    aws_request_id: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def to_event(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """An API Gateway REST proxy event, as API Gateway would send it."""
    parts = urlsplit(raw_path)
    query = parse_qs(parts.query, keep_blank_values=True)
    binary = bool(body) and not headers.get("Content-Type", "").startswith(("application/json", "text/"))
    if not binary:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            binary = True  # not text: passed on base64-encoded, as API Gateway does with binary bodies
    return {
        "resource": parts.path,
        "path": parts.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "stage": "local",
            "httpMethod": method,
            "path": parts.path,
            "resourcePath": parts.path,
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": (base64.b64encode(body).decode() if binary else body.decode("utf-8")) if body else None,
        "isBase64Encoded": binary,
    }


def make_server(
    port: int,
    host: str = "127.0.0.1",
    *,
    read_timeout_s: float = READ_TIMEOUT_S,
    lambda_handler: Any = None,
) -> ThreadingHTTPServer:
    """The local API server (not started). ``server.server_address[1]`` is the bound port.

    A request whose body does not arrive within ``read_timeout_s`` (a ``Content-Length`` longer
    than the body sent) is answered 400 and its connection closed, instead of waiting forever.
    ``lambda_handler``: the function's handler to serve (default: the live API's; the console
    serves the admin function's).
    """
    handler = lambda_handler or _import_live_api().lambda_handler

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = read_timeout_s  # socket timeout: reading a body, and waiting on an idle keep-alive

        def _reject(self, status: int, error: str, message: str) -> None:
            """An error in the API's body shape, before the handler saw the request; closes."""
            data = json.dumps({"error": error, "message": message}).encode()
            self.close_connection = True
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            declared = self.headers.get("Content-Length") or "0"
            if not declared.isdigit():
                self._reject(400, "bad_request", "Content-Length must be a number of bytes")
                return
            length = int(declared)
            if length > MAX_BODY:
                self._reject(413, "payload_too_large", f"the body is larger than {MAX_BODY} bytes")
                return
            try:
                body = self.rfile.read(length) if length else b""
            except TimeoutError:
                body = None
            if body is None or len(body) < length:
                self._reject(
                    400,
                    "bad_request",
                    f"the body is shorter than its Content-Length ({length} bytes): "
                    f"no more arrived within {read_timeout_s:g} s",
                )
                return
            event = to_event(self.command, self.path, dict(self.headers.items()), body)
            answer = handler(event, _Context(aws_request_id=event["requestContext"]["requestId"]))
            payload = answer.get("body") or ""
            data = base64.b64decode(payload) if answer.get("isBase64Encoded") else payload.encode("utf-8")
            self.send_response(int(answer["statusCode"]))
            headers = dict(answer.get("headers") or {})
            for name, values in (answer.get("multiValueHeaders") or {}).items():
                headers.setdefault(name, values[-1] if values else "")
            for name, value in headers.items():
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def __getattr__(self, name: str) -> Any:
            # Every method (GET … and TRACE, QUERY, anything) goes to the handler, which answers
            # 405 with Allow for methods a path does not have (http.server alone would say 501).
            if name.startswith("do_"):
                return self._handle
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            console.log(f"{self.command} {self.path} → {args[1] if len(args) > 1 else ''}")

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128  # a burst of connections waits to be accepted instead of being dropped

    return Server((host, port), Handler)


def serve_in_background(port: int = 0) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Start the local API in a thread (tests, `make run`)."""
    _served_services()
    server = make_server(port)
    thread = threading.Thread(target=server.serve_forever, name="erpbridge-serve", daemon=True)
    thread.start()
    return server, thread


def demo_requests(base_url: str) -> tuple[list[str], str]:
    """Send a few requests to a running local API: one line per answer, and the order placed
    (for `make run`)."""
    import requests

    session = requests.Session()
    prices = {"customer_number": "10000", "items": [{"product_id": "P000001"}, {"product_id": "P000002"}]}
    order = {"customer_number": "10000", "lines": [{"product_id": "P000001", "quantity": 2}]}
    lines = []
    health = session.get(f"{base_url}/v1/health", timeout=30).json()
    lines.append(
        f"GET  /v1/health → ERP reachable {health['erp_reachable']}, breaker {health['breaker_state']}"
    )
    for attempt in ("first", "again"):
        answer = session.post(f"{base_url}/v1/prices", json=prices, timeout=30).json()
        shown = ", ".join(f"{i['product_id']} {i['price']} ({i['source']})" for i in answer["items"])
        lines.append(f"POST /v1/prices ({attempt}) → {shown}")
    key = f"demo-{uuid.uuid4().hex[:12]}"
    created = session.post(f"{base_url}/v1/orders", json=order, headers={"Idempotency-Key": key}, timeout=30)
    body = created.json()
    lines.append(
        f"POST /v1/orders → {created.status_code} {body['status']}, order {body['order_id']}, "
        f"ERP order {body['erp_order_id']}"
    )
    return lines, str(body["order_id"])


def example_requests(base_url: str) -> list[str]:
    return [
        f"curl -s {base_url}/v1/health",
        f"curl -s -X POST {base_url}/v1/prices -H 'Content-Type: application/json' "
        """-d '{"customer_number":"10000","items":[{"product_id":"P000001","quantity":2}]}'""",
        f"curl -s -X POST {base_url}/v1/orders -H 'Content-Type: application/json' "
        "-H 'Idempotency-Key: demo-0001' "
        """-d '{"customer_number":"10000","lines":[{"product_id":"P000001","quantity":1}]}'""",
        f"curl -s '{base_url}/v1/customers/10000/documents?type=invoice&page_size=5'",
    ]


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        port: Annotated[int, typer.Option(help="port to listen on")] = 8080,
        host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    ) -> None:
        """Serve the live API locally (the same handler and routes as in Lambda)."""
        _check_serve_settings()
        _served_services()
        server = make_server(port, host)
        base_url = f"http://{host}:{server.server_address[1]}"
        console.print(f"erpbridge live API on {base_url}  (Swagger UI: {base_url}/v1/swagger)")
        for line in example_requests(base_url):
            console.print(f"  {line}", highlight=False, soft_wrap=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()

    @app.command()
    def openapi(
        write: Annotated[Path | None, typer.Option(help="write the document to this file")] = None,
    ) -> None:
        """Print (or write) the live API's OpenAPI 3.1 document, generated from the code."""
        text = json.dumps(_import_live_api().openapi_document(), indent=2, sort_keys=True) + "\n"
        if write is None:
            typer.echo(text, nl=False)
        else:
            write.write_text(text, encoding="utf-8")
            console.print(f"wrote {write}")

    orders_app = command_group("Orders sent through the live API: timeline, re-send, export.")

    @orders_app.command("list")
    def list_orders(
        state: Annotated[
            str | None,
            typer.Option(help="only this state: " + ", ".join(ORDER_STATES), show_default=False),
        ] = None,
        older_than_s: Annotated[
            float | None, typer.Option(help="only orders last changed longer ago than this", min=0)
        ] = None,
        limit: Annotated[int, typer.Option(min=1, max=500, help="at most this many")] = 100,
        as_json: JsonOption = False,
    ) -> None:
        """Orders by state and age: the ones waiting (queued), unknown and dead-lettered to rescue."""
        if state is not None and state not in ORDER_STATES:
            raise fail(f"--state {state}: one of {', '.join(ORDER_STATES)}", 2)
        remote = admin_api()
        if remote is not None:
            found = remote.orders(state=state, older_than_s=older_than_s, limit=limit)
        else:
            found = _local_order_list(state=state, older_than_s=older_than_s, limit=limit)
        print_orders(found, as_json=as_json, state=state)

    @orders_app.command("show")
    def show(
        order_id: Annotated[str, typer.Argument(help="the shop's order id, e.g. WEB-20261202-42B47AD7CD")],
        as_json: JsonOption = False,
    ) -> None:
        """An order's state and the timeline of every attempt."""
        from erpbridge.errors import ErpBridgeError
        from erpbridge.wiring.orders import order_view
        from erpbridge_cli.commands._batch_common import settings, shop_database

        remote = admin_api()
        if remote is not None:
            detail = remote.order(order_id)
        else:
            loaded = settings(what="orders show")  # reads the shop database only: no ERP settings
            shop_database(loaded.database_url)
            orders = order_view(loaded)
            try:
                detail = orders.detail(orders.get_order(order_id))
            except ErpBridgeError as error:
                raise fail(f"order {order_id!r}: {error}", 2) from None
        print_order(detail, as_json=as_json)

    @orders_app.command("resend")
    def resend(
        order_ids: Annotated[
            list[str] | None, typer.Argument(help="order id(s); or --state", show_default=False)
        ] = None,
        state: Annotated[
            str | None,
            typer.Option(
                help="every order in this state (queued, unknown, dead_letter; the oldest 500)",
                show_default=False,
            ),
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Send orders to the ERP again (each looked up first if its last attempt may have
        arrived); also a rejected order, once its cause is corrected (in BC or in the shop).
        Exit 1 unless every order ends created."""
        ids = list(order_ids or [])
        if not ids and not state:
            raise fail("name the order(s) to re-send, or --state", 2)
        if state is not None and state not in RESEND_STATES:
            raise fail(f"--state {state}: one of {', '.join(RESEND_STATES)}", 2)
        remote = admin_api()
        if remote is not None:
            errors: dict[str, str] = {}
            if len(ids) == 1 and not state:
                results = [remote.resend(ids[0])]
            else:
                results, errors = remote.resend_many(ids, state)
        else:
            results, errors = _resend_here(ids, state)
        print_resent(results, errors, as_json=as_json)

    @orders_app.command("export")
    def export(
        older_than_s: Annotated[float | None, typer.Option(help="X: only orders older than this")] = None,
        limit: Annotated[int | None, typer.Option(help="N: at most this many orders")] = None,
    ) -> None:
        """Run Export Failed Orders once, here (what the schedule does in AWS)."""
        export_failed_orders_here(older_than_s=older_than_s, limit=limit)

    app.add_typer(orders_app, name="orders")
