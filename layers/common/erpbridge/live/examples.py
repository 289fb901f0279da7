"""The example request and answer of each live API operation, as openapi.json shows them.

Taken from the BC emulator's answers and shortened. Plain JSON values (what goes over the wire);
tests/live/test_openapi.py validates each against its operation's schema in openapi.json.
"""

from __future__ import annotations

from typing import Any

CUSTOMER = "10000"
INVOICE = "PSI-103006"
AS_OF = "2026-12-02T09:30:12.645443Z"

_TOTALS: dict[str, Any] = {
    "subtotal": 848.9,
    "subtotal_with_vat": 1010.19,
    "shipping_fee": 0.0,
    "discount": 0.0,
    "vat": 161.29,
    "total": 848.9,
    "total_with_vat": 1010.19,
}
_LINE: dict[str, Any] = {
    "line_type": "product",
    "product_id": "P000001",
    "variant_id": "",
    "name": "Basis Notizbuch Jena",
    "unit": "PCS",
    "quantity": 2.0,
    "unit_price": 424.45,
    "unit_price_with_vat": 505.1,
    "price": 848.9,
    "price_with_vat": 1010.19,
}

PRICE_REQUEST: dict[str, Any] = {
    "customer_number": CUSTOMER,
    "currency": "EUR",
    "items": [{"product_id": "P000001"}, {"product_id": "P000002", "quantity": 12}],
}
PRICE_RESPONSE: dict[str, Any] = {
    "customer_number": CUSTOMER,
    "currency": "EUR",
    "shop_id": "",
    "language": "",
    "items": [
        {
            "product_id": "P000001",
            "variant_id": "",
            "unit": "",
            "quantity": 1.0,
            "found": True,
            "price": 424.45,
            "price_with_vat": 505.1,
            "stock": 582.0,
            "default_unit": "PCS",
            "quantity_prices": [
                {"quantity": 1.0, "price": 424.45, "price_with_vat": 505.1, "unit": "PCS"},
                {"quantity": 100.0, "price": 411.72, "price_with_vat": 489.95, "unit": "PCS"},
            ],
            "source": "erp",
            "as_of": AS_OF,
            "reason": None,
        },
        {
            "product_id": "P000002",
            "variant_id": "",
            "unit": "",
            "quantity": 12.0,
            "found": True,
            "price": 264.18,
            "price_with_vat": 314.37,
            "stock": 3205.0,
            "default_unit": "PCS",
            "quantity_prices": [],
            "source": "cache",
            "as_of": "2026-12-02T09:28:40.118020Z",
            "reason": None,
        },
    ],
    "degraded": False,
    "message": None,
}

BASKET_REQUEST: dict[str, Any] = {
    "customer_number": CUSTOMER,
    "lines": [{"product_id": "P000001", "quantity": 2}],
}
BASKET_RESPONSE: dict[str, Any] = {
    "source": "erp",
    "as_of": AS_OF,
    "currency": "",
    "lines": [_LINE],
    "totals": _TOTALS,
    "shipping_method": "Free shipping",
    "shipping_warning": "",
    "discounts_by": "erp",
    "shipping_by": "erp",
    "message": None,
}

ORDER_ID = "WEB-1001"
IDEMPOTENCY_KEY = "checkout-7f3a9c2e"
ORDER_REQUEST: dict[str, Any] = {
    "order_id": ORDER_ID,
    "customer_number": CUSTOMER,
    "lines": [{"product_id": "P000001", "quantity": 2}],
    "billing_address": {"name": "Lucerne & Co.", "city": "Berlin", "country_code": "DE"},
    "reference": "PO-2291",
}
ORDER_CREATED: dict[str, Any] = {
    "order_id": ORDER_ID,
    "status": "created",
    "erp_order_id": "SO-100001",
    "totals": _TOTALS,
    "lines": [_LINE],
    "message": None,
}
ORDER_QUEUED: dict[str, Any] = {
    "order_id": ORDER_ID,
    "status": "queued",
    "erp_order_id": None,
    "totals": None,
    "lines": [],
    "message": "accepted and queued: the ERP is down or refused it; it will be sent later",
}
ORDER_DETAIL: dict[str, Any] = {
    "order_id": ORDER_ID,
    "customer_number": CUSTOMER,
    "status": "created",
    "state": "created",
    "erp_order_id": "SO-100001",
    "attempts": 1,
    "created_at": "2026-12-02T09:31:02.759730Z",
    "updated_at": "2026-12-02T09:31:02.799210Z",
    "totals": _TOTALS,
    "lines": [_LINE],
    "last_error": None,
    "timeline": [
        {
            "at": "2026-12-02T09:31:02.783504Z",
            "trigger": "api",
            "outcome": "created",
            "erp_message": None,
            "erp_order_id": "SO-100001",
            "duration_ms": 9,
            "request_xml": "orders/WEB-1001/20261202T093102783504-api-request.xml",
            "response_xml": "orders/WEB-1001/20261202T093102783504-api-response.xml",
        }
    ],
}

DOCUMENT_LIST: dict[str, Any] = {
    "customer_number": CUSTOMER,
    "type": "invoice",
    "page": 1,
    "page_size": 20,
    "total_count": 9,
    "items": [
        {
            "No": INVOICE,
            "DocumentType": "Invoice",
            "SellToCustomerNo": CUSTOMER,
            "SellToCustomerName": "Lucerne & Co.",
            "CurrencyCode": "",
            "PostingDate": "2025-10-20T00:00:00",
            "DueDate": "2025-11-19T00:00:00",
            "OrderNo": "SO-001006",
            "ExternalDocumentNo": "WEB745244",
            "Amount": "1658.89",
            "AmountIncludingVAT": "1974.09",
            "RemainingAmount": "0",
            "Status": "Paid",
        }
    ],
}
DOCUMENT_DETAIL: dict[str, Any] = {
    "customer_number": CUSTOMER,
    "type": "invoice",
    "number": INVOICE,
    "header": {
        "OrderId": INVOICE,
        "DocumentType": "Invoice",
        "PostingDate": "2025-10-20T00:00:00",
        "OrderCustomerNumber": CUSTOMER,
        "OrderCustomerName": "Lucerne & Co.",
        "OrderCurrencyCode": "",
        "OrderPriceWithoutVat": "1658.89",
        "OrderPriceWithVat": "1974.09",
        "OrderStateName": "Paid",
        "DueDate": "2025-11-19T00:00:00",
    },
    "lines": [
        {
            "OrderLineId": "1",
            "OrderLineProductId": "P000274",
            "OrderLineProductName": "Basic Coffee Maker Esbjerg",
            "OrderLineQuantity": "1",
            "OrderLineUnitId": "PCS",
            "OrderLinePriceWithoutVat": "46.08",
            "OrderLinePriceWithVat": "54.84",
        }
    ],
}
PDF_START = "%PDF-1.4 …"  # what the body begins with (binary)

_ERP_OK: dict[str, Any] = {
    "status": "ok",
    "erp_reachable": True,
    "erp_condition": "ok",
    "erp_reason": None,
    "erp_setting": None,
    "erp_endpoint": "https://api.businesscentral.dynamics.com/v2.0/tenant/production/WS/CRONUS/Codeunit/DWWebService",
    "breaker_state": "closed",
    "checked_at": AS_OF,
    "last_success": AS_OF,
}
HEALTH: dict[str, Any] = {
    **_ERP_OK,
    "orders_waiting_for_export": 0,
    "orders_dead_lettered": 0,
    "orders_unknown": 0,
    "endpoints": [{**_ERP_OK, "name": "default", "shops": []}],
}
