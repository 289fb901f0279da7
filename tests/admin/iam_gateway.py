"""API Gateway's ``AWS_IAM`` authorisation in front of a Lambda handler, for tests.

It does what API Gateway does for the admin API: recompute the SigV4 signature (service
``execute-api``) of each request with the secret of the access key it names, refuse a request
without one (403 "Missing Authentication Token"), with a wrong signature or an expired date (403),
and hand the handler the caller's principal as ``requestContext.identity.userArn``. The keys are
fake and fixed; a session token is required and checked, as for temporary credentials. With a
``stage``, the API's URL ends with it (``…/prod/``): the signature covers the whole path, and the
handler sees the path below the stage (``requestContext.stage`` names it), as API Gateway does.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode


@dataclass(frozen=True)
class FakeKey:
    access_key: str
    secret_key: str
    session_token: str
    principal: str  # the ARN API Gateway would resolve the key to


def _refused(message: str) -> dict[str, Any]:
    return {
        "statusCode": 403,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": message}),
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def iam_gateway(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
    keys: list[FakeKey],
    *,
    region: str,
    seen: list[dict[str, str]] | None = None,
    stage: str | None = None,
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """``handler`` behind SigV4 checking; ``seen`` collects each accepted request's headers."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    by_key = {key.access_key: key for key in keys}

    def gateway(event: dict[str, Any], context: Any) -> dict[str, Any]:
        headers = dict(event.get("headers") or {})
        authorization = _header(headers, "authorization") or ""
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            return _refused("Missing Authentication Token")
        fields = dict(
            part.strip().split("=", 1) for part in authorization[len("AWS4-HMAC-SHA256 ") :].split(",")
        )
        access_key, date, signed_region, service, _ = fields["Credential"].split("/")
        key = by_key.get(access_key)
        if key is None or signed_region != region or service != "execute-api":
            return _refused("The security token included in the request is invalid.")
        amz_date = _header(headers, "x-amz-date") or ""
        stamp = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if abs(datetime.now(UTC) - stamp) > timedelta(minutes=5) or not amz_date.startswith(date):
            return _refused("Signature expired")
        if _header(headers, "x-amz-security-token") != key.session_token:
            return _refused("The security token included in the request is invalid.")
        signed = fields["SignedHeaders"].split(";")
        query = event.get("queryStringParameters") or {}
        url = f"http://{_header(headers, 'host')}{event['path']}" + (f"?{urlencode(query)}" if query else "")
        raw = event.get("body") or ""
        body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()  # as sent
        request = AWSRequest(
            method=event["httpMethod"],
            url=url,
            data=body or None,
            headers={name: _header(headers, name) or "" for name in signed},
        )
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(key.access_key, key.secret_key, key.session_token), service, region)
        expected = signer.signature(
            signer.string_to_sign(request, signer.canonical_request(request)), request
        )
        if expected != fields["Signature"]:
            return _refused("The request signature we calculated does not match the signature you provided.")
        if seen is not None:
            seen.append(headers)
        identity = {**event["requestContext"].get("identity", {}), "userArn": key.principal}
        context_of = {**event["requestContext"], "identity": identity}
        path = event["path"]
        if stage:
            if not path.startswith(f"/{stage}/") and path != f"/{stage}":
                return _refused("Missing Authentication Token")  # API Gateway's answer to an unknown path
            path = path[len(stage) + 1 :] or "/"
            context_of["stage"] = stage
        return handler({**event, "path": path, "resource": path, "requestContext": context_of}, context)

    return gateway
