"""The CLI's AWS mode: the deployed stack's admin API, called with the operator's AWS credentials.

A deployed stack is reached when one of these names it (the first wins):

1. ``--admin-url URL`` (before the command: ``erpbridge --admin-url URL orders resend ID``);
2. ``$ERPBRIDGE_ADMIN_URL``;
3. ``--stack NAME`` or ``$ERPBRIDGE_STACK``: the stack's ``AdminApiUrl`` output (CloudFormation).

Then ``orders``, ``jobs list/run``, ``runs``, ``mappings show/check`` and ``health`` ask the admin
API instead of opening the shop database, the ERP or the staging area: the CLI process needs only
AWS credentials (botocore's default chain: environment, profile, SSO, instance role) allowed
``execute-api:Invoke`` on the API. Every request is signed with SigV4 (service ``execute-api``, the
region of the API's host name); the API records the signing principal with every action.

Answers come back as the same models the local commands read (``RunRecord``, ``OrderDetail`` …),
so each command prints through one presenter whatever its source. Errors map to the CLI's exit
codes: a request the API refuses (401/403/404/409/422) is 2, the API or the ERP failing is 1.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from erpbridge.admin.ports import OrderSummary
from erpbridge.batch.models import RunRecord
from erpbridge.live.models import OrderDetail, OrderResponse

ADMIN_URL_VARIABLE = "ERPBRIDGE_ADMIN_URL"
STACK_VARIABLE = "ERPBRIDGE_STACK"
SERVICE = "execute-api"
TIMEOUT_S = 35.0  # API Gateway answers within 29 s
_REGION = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com", re.IGNORECASE)
_REFUSED = (400, 401, 403, 404, 405, 409, 413, 422)
RENEW = (
    "Sign in again (aws sso login [--profile NAME]) or export fresh AWS_ACCESS_KEY_ID, "
    "AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"
)
_CREDENTIALS_REFUSED = re.compile(r"security token|expired|signature", re.IGNORECASE)


def credentials_refused(status: int, message: str) -> bool:
    """API Gateway refusing the signature itself (expired or unknown credentials), not the operator."""
    return status == 403 and bool(_CREDENTIALS_REFUSED.search(message or ""))


@dataclass
class _Target:
    admin_url: str | None = None
    stack: str | None = None


_target = _Target()


def use_target(admin_url: str | None, stack: str | None) -> None:
    """The global ``--admin-url`` / ``--stack`` options of this invocation."""
    _target.admin_url = admin_url
    _target.stack = stack


def region_of(url: str) -> str | None:
    found = _REGION.search(url)
    return found[1] if found else None


def stack_admin_url(stack: str, *, client: Any = None) -> str:
    """The ``AdminApiUrl`` output of a deployed stack."""
    from erpbridge_cli.commands._batch_common import fail

    try:
        if client is None:
            import boto3

            client = boto3.client("cloudformation")
        stacks = client.describe_stacks(StackName=stack)["Stacks"]
    except Exception as error:  # credentials, region, no such stack: botocore says which
        raise fail(f"stack {stack}: {type(error).__name__}: {error}", 2) from None
    for output in stacks[0].get("Outputs", []) if stacks else []:
        if output.get("OutputKey") == "AdminApiUrl":
            return str(output["OutputValue"])
    raise fail(f"stack {stack} has no AdminApiUrl output (is it an erpbridge stack?)", 2)


class AdminApiClient:
    """The admin API over HTTPS, each request signed with SigV4 (``execute-api``)."""

    def __init__(
        self,
        base_url: str,
        *,
        credentials: Any = None,
        region: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._region = region or region_of(base_url)
        self._session = session or requests.Session()
        self._auth: Any = None  # the signer, with the credentials resolved once

    def _signer(self) -> Any:
        if self._auth is not None:
            return self._auth
        import botocore.session
        from botocore.auth import SigV4Auth

        from erpbridge_cli.commands._batch_common import fail

        source = botocore.session.Session()
        try:
            credentials = self._credentials or source.get_credentials()
        except Exception as error:  # an expired SSO session, a broken profile: botocore says which
            raise fail(
                f"AWS credentials for the admin API: {type(error).__name__}: {error}. {RENEW}", 2
            ) from None
        if credentials is None:
            raise fail(f"no AWS credentials for the admin API. {RENEW}", 2)
        region = self._region or source.get_config_variable("region") or "us-east-1"
        self._auth = SigV4Auth(credentials, SERVICE, region)
        return self._auth

    def signed(self, method: str, path: str, body: Any = None, query: Mapping[str, Any] | None = None) -> Any:
        """The request, signed: a ``botocore.awsrequest.AWSRequest``."""
        shown = {name: value for name, value in (query or {}).items() if value is not None}
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        return self.sign(method, path + (f"?{urlencode(shown)}" if shown else ""), data, headers)

    def sign(self, method: str, path_and_query: str, data: bytes | None, headers: Mapping[str, str]) -> Any:
        """Any request to the API (``path_and_query`` below its base URL), signed as it will be sent."""
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(
            method=method, url=self.base_url + path_and_query, data=data, headers=dict(headers)
        )
        self._signer().add_auth(request)
        return request

    def send(self, request: Any) -> requests.Response:
        """A signed request, sent (redirects are the caller's: they are answers, not followed)."""
        from erpbridge_cli.commands._batch_common import fail

        try:
            return self._session.request(
                request.method,
                request.url,
                data=request.body,
                headers=dict(request.headers.items()),
                timeout=TIMEOUT_S,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise fail(f"the admin API at {self.base_url}: {type(error).__name__}: {error}") from None

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, Any] | None = None,
        *,
        missing_ok: bool = False,
    ) -> Any:
        """The answer's JSON (None for a 404 when ``missing_ok``); a refusal exits 2, a failure 1
        (with the API's message)."""
        from erpbridge_cli.commands._batch_common import fail

        answer = self.send(self.signed(method, path, body, query))
        try:
            parsed = answer.json()
        except ValueError:
            parsed = {"message": answer.text[:300]}
        if answer.status_code == 404 and missing_ok:
            return None
        if answer.status_code >= 400:
            message = parsed.get("message") or parsed.get("Message") or answer.reason
            code = 2 if answer.status_code in _REFUSED else 1
            hint = f" ({RENEW})" if credentials_refused(answer.status_code, message) else ""
            raise fail(f"admin API {method} {path}: {answer.status_code} {message}{hint}", code)
        return parsed

    def check_access(self) -> None:
        """Exit 2 (with what to run) unless the API accepts this operator's signed requests: one
        signed GET of a static asset, which the API identifies like any request (no database)."""
        self.call("GET", "/static/console.css")

    # --- the resources, as the models the local commands read ----------------------------------

    def jobs(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/api/jobs")["jobs"])

    def run_now(self, job: str, parameters: Mapping[str, str]) -> dict[str, Any]:
        answer: dict[str, Any] = self.call("POST", f"/api/jobs/{job}/run", {"parameters": dict(parameters)})
        return answer

    def set_schedule(self, job: str, enabled: bool) -> dict[str, Any]:
        answer: dict[str, Any] = self.call("POST", f"/api/jobs/{job}/schedule", {"enabled": enabled})
        return answer

    def runs(self, *, job: str | None = None, limit: int = 20) -> list[RunRecord]:
        found = self.call("GET", "/api/runs", query={"job": job, "limit": limit})["runs"]
        return [RunRecord.from_dict(run) for run in found]

    def run(self, run_id: str) -> RunRecord:
        return RunRecord.from_dict(self.call("GET", f"/api/runs/{run_id}"))

    def find_run(self, run_id: str) -> RunRecord | None:
        """The run, or None while it is not recorded yet (a run just started)."""
        found = self.call("GET", f"/api/runs/{run_id}", missing_ok=True)
        return None if found is None else RunRecord.from_dict(found)

    def mapping(self, job: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.call("GET", f"/api/mappings/{job}")
        return answer

    def orders(self, *, state: str | None, older_than_s: float | None, limit: int) -> list[OrderSummary]:
        found = self.call(
            "GET", "/api/orders", query={"state": state, "older_than_s": older_than_s, "limit": limit}
        )["orders"]
        return [OrderSummary.from_dict(order) for order in found]

    def order(self, order_id: str) -> OrderDetail:
        return OrderDetail.model_validate(self.call("GET", f"/api/orders/{order_id}"))

    def resend(self, order_id: str) -> OrderResponse:
        return OrderResponse.model_validate(self.call("POST", f"/api/orders/{order_id}/resend"))

    def resend_many(
        self, order_ids: list[str], state: str | None
    ) -> tuple[list[OrderResponse], dict[str, str]]:
        answer = self.call("POST", "/api/orders/resend", {"order_ids": order_ids, "state": state})
        return [OrderResponse.model_validate(r) for r in answer["results"]], dict(answer["errors"])

    def health(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.call("GET", "/api/health")
        return answer


def admin_api() -> AdminApiClient | None:
    """The deployed stack's admin API when one is named (AWS mode), else None (local mode)."""
    url = _target.admin_url or os.environ.get(ADMIN_URL_VARIABLE)
    if not url:
        stack = _target.stack or os.environ.get(STACK_VARIABLE)
        if not stack:
            return None
        url = stack_admin_url(stack)
    return AdminApiClient(url)
