"""Customer documents: lists (paged, sorted, searched), one document, its PDF; and GET /v1/health."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Response, Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponseContentSchema
from live_contract import (
    CUSTOMER_TOKEN,
    ERP,
    NOT_FOUND,
    PARAMETERS,
    SHOP,
    SHOP_DATABASE,
    STOREFRONT,
    STOREFRONT_OR_CUSTOMER,
    examples,
    responses,
    success,
)
from routes_prices import Authorization

from erpbridge.live import examples as example
from erpbridge.live.models import DocumentDetail, DocumentList, DocumentType, Health
from erpbridge.wiring.live import services

router = Router()

Customer = Annotated[
    str,
    Path(
        min_length=1,
        max_length=50,
        pattern=r"^[A-Za-z0-9._-]+$",
        openapi_examples=examples(customer=example.CUSTOMER),
    ),
]
DocType = Annotated[DocumentType, Path(openapi_examples=examples(invoice="invoice"))]
Number = Annotated[
    str,
    Path(
        min_length=1,
        max_length=50,
        pattern=r"^[A-Za-z0-9._/-]+$",
        openapi_examples=examples(invoice=example.INVOICE),
    ),
]
PDF: OpenAPIResponseContentSchema = {
    "schema": {"type": "string", "format": "binary", "contentMediaType": "application/pdf"},
    "examples": {"pdf": {"value": example.PDF_START}},
}
# What a document route can answer besides its success: it reads the ERP, with no fallback.
DOCUMENT_FAILS = (PARAMETERS, SHOP, CUSTOMER_TOKEN, NOT_FOUND, ERP)
ShopQuery = Annotated[
    str | None,
    Query(
        alias="shop_id",
        max_length=50,
        pattern=r"^[A-Za-z0-9._-]*$",
        description="the shop: picks its ERP endpoint (docs/erp-endpoints.md); absent = the default shop",
    ),
]
FieldName = Annotated[str | None, Query(max_length=50, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]


@router.get(
    "/v1/customers/<customer>/documents",
    summary="A customer's open orders, invoices, credit notes or shipments (paged by the ERP)",
    operation_id="listDocuments",
    security=STOREFRONT_OR_CUSTOMER,
    responses=responses(
        success(200, "one page of documents", DocumentList, example.DOCUMENT_LIST), fails=DOCUMENT_FAILS
    ),
    tags=["documents"],
)
def list_documents(
    customer: Customer,
    type: Annotated[DocumentType, Query(openapi_examples=examples(invoices="invoice"))],
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    sort: FieldName = None,
    direction: Annotated[Literal["asc", "desc"] | None, Query()] = None,
    search_field: FieldName = None,
    search: Annotated[str | None, Query(max_length=100)] = None,
    shop_id: ShopQuery = None,
    authorization: Authorization = None,
) -> DocumentList:
    services().tokens.caller(authorization).ensure_may_access(customer)
    documents = services().at(shop_id).documents
    return documents.list(
        customer,
        type,
        page=page,
        page_size=page_size,
        sort=sort,
        direction=direction,
        search_field=search_field,
        search=search,
    )


@router.get(
    "/v1/customers/<customer>/documents/<doc_type>/<number>",
    summary="One document: header and lines",
    operation_id="getDocument",
    security=STOREFRONT_OR_CUSTOMER,
    responses=responses(
        success(200, "the document", DocumentDetail, example.DOCUMENT_DETAIL), fails=DOCUMENT_FAILS
    ),
    tags=["documents"],
)
def get_document(
    customer: Customer,
    doc_type: DocType,
    number: Number,
    shop_id: ShopQuery = None,
    authorization: Authorization = None,
) -> DocumentDetail:
    services().tokens.caller(authorization).ensure_may_access(customer)
    return services().at(shop_id).documents.get(customer, doc_type, number)


@router.get(
    "/v1/customers/<customer>/documents/<doc_type>/<number>/pdf",
    summary="The document as PDF",
    operation_id="getDocumentPdf",
    security=STOREFRONT_OR_CUSTOMER,
    responses=responses(
        {200: {"description": "the PDF (inline, with a file name)", "content": {"application/pdf": PDF}}},
        fails=DOCUMENT_FAILS,
    ),
    tags=["documents"],
)
def get_document_pdf(  # type: ignore[no-untyped-def]  # see the comment below
    customer: Customer,
    doc_type: DocType,
    number: Number,
    shop_id: ShopQuery = None,
    authorization: Authorization = None,
):  # no return annotation: a bytes body must not go through JSON validation
    services().tokens.caller(authorization).ensure_may_access(customer)
    pdf = services().at(shop_id).documents.pdf(customer, doc_type, number)
    return Response(
        status_code=200,
        content_type="application/pdf",
        body=pdf,  # bytes: Powertools base64-encodes them for API Gateway's binary support
        headers={"Content-Disposition": f'inline; filename="{doc_type.value}-{number}.pdf"'},
    )


@router.get(
    "/v1/health",
    summary="Each ERP endpoint: reachable, breaker state, last success; orders waiting for export",
    operation_id="getHealth",
    security=STOREFRONT,
    responses=responses(
        success(200, "the health of the live API and the ERP", Health, example.HEALTH),
        fails=(SHOP_DATABASE,),
    ),
    tags=["health"],
)
def get_health() -> Health:
    return services().health.check()
