"""`erpbridge console` in AWS mode: a deployed stack's console, opened through a signing proxy.

A browser cannot sign SigV4, so the CLI serves the console on 127.0.0.1 and forwards each page,
asset and API request to the deployed admin API, signed with the operator's AWS credentials
(``AdminApiClient.sign``). The browser's side is exactly the local console's: a fresh token printed
at start, the login link's cookie, the pages' CSRF value (``erpbridge.admin.auth``, through the
admin function's own ``identify_request`` and ``/login``). They are checked here before anything is
signed: a request from another site, or without the token, is refused and never reaches AWS.

Forwarded: GET, HEAD and POST to the admin function's own routes (its router's table), the path
below the API's base URL (so its stage prefix: the pages' root-relative links and redirects work
unchanged), the query, the body, ``Content-Type`` and ``Accept``, and the session's CSRF value as
``X-Console-CSRF`` so that the pages' forms carry it. Never the cookie or the bearer token. The
answer's status, headers and body come back as they are (but cookies). The API records the signing
principal as the actor: nothing here claims an identity.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from rich.console import Console

from erpbridge_cli.admin_client import RENEW, AdminApiClient, credentials_refused

console = Console(stderr=True)
FORWARDED_METHODS = ("GET", "HEAD", "POST")
FORWARDED_REQUEST_HEADERS = ("accept", "content-type")
DROPPED_ANSWER_HEADERS = ("set-cookie", "connection", "keep-alive", "transfer-encoding", "content-encoding")
_UNSAFE_PATH = re.compile(r"//|/\.\.?(/|$)|%2e|%2f|%5c|\\", re.IGNORECASE)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def admin_routes_table(router: Any) -> list[tuple[re.Pattern[str], tuple[str, ...]]]:
    """The admin function's routes as (path pattern, methods); HEAD wherever GET is."""
    table = []
    for key in router._routes:  # Powertools' route table: (rule, methods, …)
        rule, methods = key[0], tuple(key[1])
        pattern = re.escape(rule).replace(r"\<", "<").replace(r"\>", ">")
        pattern = re.sub(r"<\w+>", "[^/]+", pattern)
        table.append((re.compile(f"^{pattern}$"), methods + (("HEAD",) if "GET" in methods else ())))
    return table


def _answer(response: Any) -> dict[str, Any]:
    """A Powertools ``Response`` as the Lambda proxy answer the local server writes."""
    return {"statusCode": response.status_code, "headers": dict(response.headers), "body": response.body}


def proxy_handler(client: AdminApiClient, token: str) -> Handler:
    """A Lambda-shaped handler (``make_server`` serves it) that checks and forwards each request;
    ``token``: the local console token of this session."""
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
    from pydantic import SecretStr

    from erpbridge.admin import auth
    from erpbridge.live.errors import NotFoundError
    from erpbridge_cli.console_server import import_admin_api

    import_admin_api()
    import admin_routes

    from erpbridge.settings import AdminSettings

    session = AdminSettings(admin_auth="token", admin_token=SecretStr(token))  # only these: no ERP here
    routes = admin_routes_table(admin_routes.router)

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        method, path = event["httpMethod"], event["path"]
        request = APIGatewayProxyEvent(event)
        if path == "/login" and method in ("GET", "HEAD"):  # the link: the token becomes the cookie
            given = (event.get("queryStringParameters") or {}).get("token", "")
            return _answer(admin_routes.login_answer(session, given))
        allowed = next((methods for pattern, methods in routes if pattern.match(path)), ())
        if not allowed or _UNSAFE_PATH.search(path):
            error = NotFoundError(f"no such page or resource: {path}")
            return _answer(admin_routes.map_error(error, wants_html=admin_routes.wants_html(request)))
        if method not in allowed or method not in FORWARDED_METHODS:
            return {"statusCode": 405, "headers": {"Allow": ", ".join(allowed)}, "body": ""}
        try:
            operator = admin_routes.identify_request(request, session)  # the token, and a POST's CSRF value
        except Exception as error:
            return _answer(admin_routes.map_error(error, wants_html=admin_routes.wants_html(request)))
        return forward(client, event, csrf=operator.csrf, csrf_header=auth.PROXY_CSRF_HEADER)

    return handle


def forward(
    client: AdminApiClient, event: dict[str, Any], *, csrf: str | None, csrf_header: str
) -> dict[str, Any]:
    """The request, signed and sent to the admin API; its answer as it came."""
    query = event.get("multiValueQueryStringParameters") or {}
    path_and_query = event["path"] + (f"?{urlencode(query, doseq=True)}" if query else "")
    body = event.get("body")
    data = (
        (base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")) if body else None
    )
    headers = {
        name: value
        for name, value in (event.get("headers") or {}).items()
        if name.lower() in FORWARDED_REQUEST_HEADERS
    }
    if csrf:
        headers[csrf_header] = csrf
    method = "GET" if event["httpMethod"] == "HEAD" else event["httpMethod"]  # the server drops the body
    try:
        answer = client.send(client.sign(method, path_and_query, data, headers))
    except Exception:  # credentials gone or expired mid-session, the API unreachable (typer.Exit)
        message = f"the request could not be signed or sent to {client.base_url} (see the terminal). {RENEW}"
        return {"statusCode": 502, "headers": {"Content-Type": "text/plain; charset=utf-8"}, "body": message}
    refused_message = answer.text[:300] if answer.status_code == 403 else ""
    if credentials_refused(answer.status_code, refused_message):
        console.print(f"[red]the admin API refused your AWS credentials:[/red] {refused_message} {RENEW}")
    out = {
        name: value for name, value in answer.headers.items() if name.lower() not in DROPPED_ANSWER_HEADERS
    }
    for name, value in out.items():  # an absolute redirect into the API: the same page, here
        if name.lower() == "location" and value.startswith(client.base_url):
            out[name] = "/" + value[len(client.base_url) :].lstrip("/")
    return {
        "statusCode": answer.status_code,
        "headers": out,
        "body": base64.b64encode(answer.content).decode(),
        "isBase64Encoded": True,
    }


def serve_console_proxy_in_background(client: Any, token: str, port: int = 0) -> Any:
    """Start the signing proxy to a deployed admin API in a thread, on 127.0.0.1; the server."""
    from erpbridge_cli.commands.live import make_server

    server = make_server(port, lambda_handler=proxy_handler(client, token))
    threading.Thread(target=server.serve_forever, name="erpbridge-console-proxy", daemon=True).start()
    return server
