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
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from erpbridge_cli.console_server import (
    console_services,
    console_url,
    import_admin_api,
    serve_console_in_background,
    use_console_token,
)

console = Console()


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
        from erpbridge_cli.console_proxy import serve_console_proxy_in_background

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

        text = json.dumps(import_admin_api().openapi_document(), indent=2, sort_keys=True) + "\n"
        if write is None:
            typer.echo(text, nl=False)
        else:
            write.write_text(text, encoding="utf-8")
            console.print(f"wrote {write}")
