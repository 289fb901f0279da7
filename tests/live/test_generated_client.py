"""A Python client generated from openapi.json (openapi-python-client, as docs/api-guide.md says)
calls every operation of `erpbridge serve` on the BC emulator and gets the typed models back.

The generator runs offline on the committed document with the committed settings
(openapi-client.yaml); the client is imported from a scratch folder and talks real HTTP, with the
API key in ``x-api-key`` and, for a customer's documents, a customer token as the bearer.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from test_serve_and_cli import database_url  # noqa: F401  (the fixture)

from erpbridge.live import examples

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "erpbridge_client"


@pytest.fixture(scope="module")
def client_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated package, importable as ``erpbridge_client`` for this module's tests."""
    folder = tmp_path_factory.mktemp("client")
    command = [
        str(Path(sys.executable).with_name("openapi-python-client")),
        "generate",
        "--path",
        str(ROOT / "openapi.json"),
        "--config",
        str(ROOT / "openapi-client.yaml"),
        "--meta",
        "none",
        "--output-path",
        str(folder / PACKAGE),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    # A part of the document the generator cannot read is left out of the client, with a warning.
    assert "warning" not in (done.stdout + done.stderr).lower(), done.stdout + done.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _operation_ids() -> set[str]:
    document = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
    return {operation["operationId"] for path in document["paths"].values() for operation in path.values()}


def _api(operation: str) -> Any:
    """An operation's module of the generated client: ``_api("orders.create_order")``."""
    return importlib.import_module(f"{PACKAGE}.api.{operation}")


def test_a_generated_client_gets_typed_models_from_every_operation_when_served(
    client_package: ModuleType,
    served: str,
    live: Any,
) -> None:
    # GIVEN the storefront's client (API key) and a customer's (API key + customer token)
    from erpbridge_client import models

    storefront = client_package.AuthenticatedClient(
        base_url=served, token="local-key", prefix="", auth_header_name="x-api-key"
    )
    customer = storefront.with_headers({"Authorization": f"Bearer {live.token(examples.CUSTOMER)}"})
    from erpbridge_client.types import File

    invoices: list[Any] = []

    def list_invoices() -> Any:
        answer = _api("documents.list_documents").sync_detailed(
            examples.CUSTOMER, client=customer, type_=models.DocumentType.INVOICE
        )
        invoices.extend(item["No"] for item in answer.parsed.items)
        return answer

    calls: dict[str, tuple[Callable[[], Any], int, type]] = {
        "getHealth": (
            lambda: _api("health.get_health").sync_detailed(client=storefront),
            200,
            models.Health,
        ),
        "getPrices": (
            lambda: _api("prices.get_prices").sync_detailed(
                client=storefront, body=models.PriceRequest.from_dict(examples.PRICE_REQUEST)
            ),
            200,
            models.PriceResponse,
        ),
        "calculateBasket": (
            lambda: _api("baskets.calculate_basket").sync_detailed(
                client=storefront, body=models.BasketRequest.from_dict(examples.BASKET_REQUEST)
            ),
            200,
            models.BasketResponse,
        ),
        "createOrder": (
            lambda: _api("orders.create_order").sync_detailed(
                client=storefront,
                body=models.OrderRequest.from_dict(examples.ORDER_REQUEST),
                idempotency_key=examples.IDEMPOTENCY_KEY,
            ),
            201,
            models.OrderResponse,
        ),
        "getOrder": (
            lambda: _api("orders.get_order").sync_detailed(examples.ORDER_ID, client=customer),
            200,
            models.OrderDetail,
        ),
        "listDocuments": (list_invoices, 200, models.DocumentList),
        "getDocument": (
            lambda: _api("documents.get_document").sync_detailed(
                examples.CUSTOMER, models.DocumentType.INVOICE, invoices[0], client=customer
            ),
            200,
            models.DocumentDetail,
        ),
        "getDocumentPdf": (
            lambda: _api("documents.get_document_pdf").sync_detailed(
                examples.CUSTOMER, models.DocumentType.INVOICE, invoices[0], client=customer
            ),
            200,
            File,
        ),
    }
    assert set(calls) == _operation_ids(), "every operation in openapi.json is called here"

    # WHEN each operation is called, in order (the order, then reading it; a list, then one of it)
    for operation_id, (call, status, model) in calls.items():
        answer = call()

        # THEN the answer is the documented status, parsed into the operation's own model
        assert answer.status_code == status, (operation_id, answer.content[:500])
        assert isinstance(answer.parsed, model), (operation_id, type(answer.parsed))

    created = _api("orders.get_order").sync(examples.ORDER_ID, client=customer)
    assert created.status == models.OrderStatus.CREATED and created.erp_order_id
    pdf = _api("documents.get_document_pdf").sync(
        examples.CUSTOMER, models.DocumentType.INVOICE, invoices[0], client=customer
    )
    assert pdf.payload.read().startswith(b"%PDF")


def test_a_generated_client_gets_the_error_body_when_a_token_reaches_for_another_customer(
    client_package: ModuleType,
    served: str,
    live: Any,
) -> None:
    from erpbridge_client import models

    client = client_package.AuthenticatedClient(base_url=served, token=live.token("20000"))
    answer = _api("documents.list_documents").sync_detailed(
        examples.CUSTOMER, client=client, type_=models.DocumentType.INVOICE
    )
    assert answer.status_code == 403
    assert isinstance(answer.parsed, models.ErrorBody) and answer.parsed.error == "forbidden"
