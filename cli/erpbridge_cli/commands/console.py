"""`erpbridge console`: the operator console and its admin API, served locally.

The admin function's handler behind the same small HTTP server as `erpbridge serve` (each request
becomes an API Gateway event). Locally the operator is whoever holds the token printed at start:
the printed link sets it as a cookie; API clients send ``Authorization: Bearer <token>``.
``--demo`` starts the BC emulator and a SQLite shop database under ``.erpbridge/`` first, so the
console works on a fresh clone with nothing else running.

AWS mode (``--stack`` / ``--admin-url``, or the global options and variables of the CLI's AWS mode):
the deployed stack's console through a signing proxy on 127.0.0.1 (``erpbridge_cli.console_proxy``),
behind the same token, cookie and CSRF value.
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console()
ADMIN_FUNCTIONS = Path(__file__).resolve().parents[3] / "functions" / "admin"


def _import_admin_api() -> Any:
    if str(ADMIN_FUNCTIONS) not in sys.path:
        sys.path.insert(0, str(ADMIN_FUNCTIONS))
    import admin_api

    return admin_api


def use_console_token(token: str | None = None, operator: str | None = None) -> str:
    """Token authentication for this process's admin API (a new random token by default)."""
    from erpbridge.settings import get_settings

    token = token or secrets.token_urlsafe(24)
    os.environ["ERPBRIDGE_ADMIN_AUTH"] = "token"
    os.environ["ERPBRIDGE_ADMIN_TOKEN"] = token
    if operator:
        os.environ["ERPBRIDGE_ADMIN_OPERATOR_NAME"] = operator
    get_settings.cache_clear()
    return token


def console_services() -> tuple[Any, Any]:
    """Live services whose ERP latencies the console's health page sees, installed for the
    process (a live API served here shares them), and that latency log; migrated now."""
    from erpbridge.settings import get_settings
    from erpbridge.wiring.admin import MemoryLatencyLog
    from erpbridge.wiring.live import LiveServices, use_services
    from erpbridge.wiring.orders import LoggingMetrics

    latency = MemoryLatencyLog(forward=LoggingMetrics())
    services = LiveServices(get_settings(), metrics=latency, migrate=True)
    services.engine  # noqa: B018 - migrated before the first request
    use_services(services)
    return services, latency


def serve_console_in_background(port: int = 0, *, live_services: Any = None, latency: Any = None) -> Any:
    """Start the console in a thread (tests, `make run`); the server (``server_address[1]``: port).
    The admin use cases share ``live_services`` (built with ``latency`` as their metrics sink;
    default: their own)."""
    from erpbridge.wiring.admin import build_admin
    from erpbridge_cli.commands.live import make_server

    admin_api = _import_admin_api()
    import admin_routes

    admin_routes.use_admin(build_admin(live_services, latency))
    server = make_server(port, lambda_handler=admin_api.lambda_handler)
    threading.Thread(target=server.serve_forever, name="erpbridge-console", daemon=True).start()
    return server


def serve_console_proxy_in_background(client: Any, token: str, port: int = 0) -> Any:
    """Start the signing proxy to a deployed admin API in a thread, on 127.0.0.1; the server."""
    from erpbridge_cli.commands.live import make_server
    from erpbridge_cli.console_proxy import proxy_handler

    server = make_server(port, lambda_handler=proxy_handler(client, token))
    threading.Thread(target=server.serve_forever, name="erpbridge-console-proxy", daemon=True).start()
    return server


def console_url(server: Any, token: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/login?token={token}"


def register(app: typer.Typer) -> None:
    @app.command("console")
    def console_command(
        port: Annotated[
            int | None, typer.Option(help="port to listen on (default 8090; AWS mode: a free one)")
        ] = None,
        demo: Annotated[
            bool, typer.Option("--demo", help="start the BC emulator and a SQLite shop database too")
        ] = False,
        operator: Annotated[str | None, typer.Option(help="the name your actions are recorded under")] = None,
        admin_url: Annotated[
            str | None,
            typer.Option(
                "--admin-url", help="AWS mode: open this deployed admin API's console (signed proxy)"
            ),
        ] = None,
        stack: Annotated[
            str | None,
            typer.Option("--stack", help="AWS mode: open this deployed stack's console (signed proxy)"),
        ] = None,
    ) -> None:
        """Serve the operator console and its admin API locally (prints the link with its token).

        In AWS mode (--stack, --admin-url or their variables) the console of the deployed stack,
        every request signed with your AWS credentials by a proxy on 127.0.0.1."""
        import contextlib

        from erpbridge_cli.admin_client import admin_api, use_target
        from erpbridge_cli.commands._batch_common import fail

        if admin_url or stack:
            use_target(admin_url, stack)
        client = admin_api()
        with contextlib.ExitStack() as stack_of:
            if client is not None:
                if demo or operator:
                    raise fail(
                        "--demo and --operator are local: a deployed stack records your IAM principal", 2
                    )
                client.check_access()  # no, expired or refused credentials: exit 2 with what to run
                token = use_console_token()
                server = serve_console_proxy_in_background(client, token, port or 0)
                console.print(f"deployed admin API {client.base_url}/ (signed with your AWS credentials)")
            else:
                if demo:
                    from erpbridge_cli.local_stack import LocalStack, create_database, start_emulator

                    local = LocalStack()
                    stack_of.enter_context(local.stack)
                    start_emulator(local)
                    create_database(local)
                token = use_console_token(operator=operator or os.environ.get("USER") or "local operator")
                live_services, latency = console_services()
                server = serve_console_in_background(
                    8090 if port is None else port, live_services=live_services, latency=latency
                )
            console.print(f"operator console   {console_url(server, token)}", highlight=False, soft_wrap=True)
            console.print(
                f"admin API          curl -H 'Authorization: Bearer {token}' "
                f"http://127.0.0.1:{server.server_address[1]}/api/jobs",
                highlight=False,
                soft_wrap=True,
            )
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
            server.shutdown()

    @app.command("admin-openapi")
    def admin_openapi(
        write: Annotated[Path | None, typer.Option(help="write the document to this file")] = None,
    ) -> None:
        """Print (or write) the admin API's OpenAPI 3.1 document, generated from the code."""
        import json

        text = json.dumps(_import_admin_api().openapi_document(), indent=2, sort_keys=True) + "\n"
        if write is None:
            typer.echo(text, nl=False)
        else:
            write.write_text(text, encoding="utf-8")
            console.print(f"wrote {write}")
