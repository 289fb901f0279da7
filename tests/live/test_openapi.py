"""The committed openapi.json is the code's OpenAPI document (regenerate with `make openapi`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_json_matches_the_code() -> None:
    import live_api

    generated = json.loads(json.dumps(live_api.openapi_document()))
    committed = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
    assert generated == committed, "openapi.json is stale: run `make openapi` and commit it"
    assert committed["openapi"].startswith("3.1")
    assert set(committed["paths"]) >= {
        "/v1/prices",
        "/v1/baskets/calculate",
        "/v1/orders",
        "/v1/orders/{order_id}",
        "/v1/customers/{customer}/documents",
        "/v1/customers/{customer}/documents/{doc_type}/{number}",
        "/v1/customers/{customer}/documents/{doc_type}/{number}/pdf",
        "/v1/health",
    }


def test_swagger_ui_is_served_on_dev_only() -> None:
    import os
    import subprocess
    import sys

    probe = (
        "import live_api; from erpbridge_cli.commands.live import to_event;"
        "print(live_api.app.resolve(to_event('GET', '/v1/swagger', {}, b''), None)['statusCode'])"
    )
    paths = os.pathsep.join(str(ROOT / p) for p in ("layers/common", "functions/live", "cli"))
    for stage, expected in (("dev", "200"), ("prod", "404")):
        env = {**os.environ, "ERPBRIDGE_STAGE": stage, "PYTHONPATH": paths}
        result = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        )
        assert result.stdout.strip().splitlines()[-1] == expected, (stage, result.stderr[-500:])


def _document() -> dict[str, Any]:
    return json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))


def _operations() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, methods in _document()["paths"].items()
        for method, operation in methods.items()
    ]


def _examples(operation: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, value) of every example an operation shows."""
    for parameter in operation.get("parameters", []):
        for name, example in parameter.get("examples", {}).items():
            yield f"parameter {parameter['name']} {name}", parameter["schema"], example["value"]
    for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
        for name, example in media.get("examples", {}).items():
            yield f"request {media_type} {name}", media["schema"], example["value"]
    for status, response in operation["responses"].items():
        for media_type, media in response.get("content", {}).items():
            for name, example in media.get("examples", {}).items():
                yield f"{status} {media_type} {name}", media["schema"], example["value"]


@pytest.mark.parametrize(("operation", "spec"), _operations(), ids=[name for name, _ in _operations()])
def test_every_example_is_valid_against_its_schema(operation: str, spec: dict[str, Any]) -> None:
    from jsonschema import Draft202012Validator, FormatChecker

    components = {"components": _document()["components"]}
    shown = list(_examples(spec))
    has_input = bool(spec.get("parameters") or spec.get("requestBody"))
    requests = [where for where, _, _ in shown if not where[0].isdigit()]
    assert requests or not has_input, f"{operation}: no request example"
    assert any(where.startswith("2") for where, _, _ in shown), f"{operation}: no success example"
    for where, schema, value in shown:
        validator = Draft202012Validator({**schema, **components}, format_checker=FormatChecker())
        errors = validator.iter_errors(value)
        problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
        assert not problems, (operation, where, problems)


def test_a_wrong_example_is_refused_by_the_same_validation() -> None:
    from jsonschema import Draft202012Validator

    from erpbridge.live import examples

    document = _document()
    schema = document["paths"]["/v1/prices"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": document["components"]})
    assert validator.is_valid(examples.PRICE_REQUEST)
    assert not validator.is_valid({**examples.PRICE_REQUEST, "items": []})


@pytest.mark.parametrize(("operation", "spec"), _operations(), ids=[name for name, _ in _operations()])
def test_every_operation_names_its_security_id_and_retry_after(operation: str, spec: dict[str, Any]) -> None:
    schemes = _document()["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {**schemes["ApiKey"], "type": "apiKey", "in": "header", "name": "x-api-key"}
    assert schemes["CustomerToken"] == {**schemes["CustomerToken"], "type": "http", "scheme": "bearer"}
    assert spec["security"] and all("ApiKey" in requirement for requirement in spec["security"]), operation
    assert re.fullmatch(r"[a-z]+(?:[A-Z][a-z]+)+", spec["operationId"]), spec["operationId"]
    assert not any(p["name"].lower() == "authorization" for p in spec.get("parameters", [])), operation
    for status in ("429", "503"):
        assert "Retry-After" in spec["responses"].get(status, {}).get("headers", {}), (operation, status)


def test_each_operation_documents_only_the_answers_its_route_can_give() -> None:
    paths = _document()["paths"]
    health = set(paths["/v1/health"]["get"]["responses"])
    assert health == {"200", "403", "429", "503"}, health  # no token, no input, no ERP call
    prices = set(paths["/v1/prices"]["post"]["responses"])
    assert not prices & {"404", "409", "502", "504"}, prices  # the ERP down = fallback figures
    order = set(paths["/v1/orders"]["post"]["responses"])
    assert {"201", "202", "409"} <= order and not order & {"404", "502", "504"}, order
    pdf = paths["/v1/customers/{customer}/documents/{doc_type}/{number}/pdf"]["get"]["responses"]["200"]
    assert set(pdf["content"]) == {"application/pdf"}


def _raised_for_each_reason() -> dict[str, list[Exception]]:
    """What the code raises for each reason a route declares (live_contract), one of each kind."""
    from erpbridge import errors
    from erpbridge.live import errors as live

    return {
        "CUSTOMER_TOKEN": [
            live.UnauthorizedError("invalid token"),
            live.ForbiddenError("another customer"),
            live.TokenKeysUnavailableError("JWKS down"),
        ],
        "PARAMETERS": [live.InvalidRequestError("query.sort", "not a column")],
        "JSON_BODY": [
            live.BadRequestError("not JSON"),
            live.UnsupportedMediaTypeError("text/plain"),
            live.InvalidRequestError("body.items", "too many"),
        ],
        "SHOP_DATABASE": [errors.ShopDatabaseError("down")],
        "NOT_FOUND": [live.NotFoundError("no such order")],
        "IDEMPOTENCY": [live.ConflictError("key reused")],
        "ERP": [
            errors.ErpFaultError("fault", erp_message="no"),
            errors.ErpAuthError("refused"),
            errors.ErpResponseError("nonsense"),
            errors.ErpUnavailableError("down"),
            errors.ErpBusyError("busy", retry_after_s=3),
            errors.ErpTimeoutError("slow"),
        ],
    }


@pytest.mark.parametrize("reason", sorted(_raised_for_each_reason()))
def test_each_declared_reason_has_the_statuses_the_error_mapping_answers(reason: str) -> None:
    import live_contract
    from live_errors import map_error

    answers = {error: map_error(error) for error in _raised_for_each_reason()[reason]}
    assert {answer.status_code for answer in answers.values()} == set(getattr(live_contract, reason))
    for error, answer in answers.items():
        if answer.status_code in (429, 503):
            assert "Retry-After" in answer.headers, error
