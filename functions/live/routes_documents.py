"""Customer documents: lists (paged, sorted, searched), one document, its PDF; and GET /v1/health."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Response, Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from live_errors import ERROR_RESPONSES, answer
from routes_prices import Authorization

from erpbridge.live.models import DocumentDetail, DocumentList, DocumentType, Health
from erpbridge.wiring.live import services

router = Router()

Customer = Annotated[str, Path(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9._-]+$")]
Number = Annotated[str, Path(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9._/-]+$")]
FieldName = Annotated[str | None, Query(max_length=50, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]


@router.get(
    "/v1/customers/<customer>/documents",
    summary="A customer's open orders, invoices, credit notes or shipments (paged by the ERP)",
    responses={**answer(DocumentList, "one page of documents"), **ERROR_RESPONSES},
    tags=["documents"],
)
def list_documents(
    customer: Customer,
    type: Annotated[DocumentType, Query()],
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    sort: FieldName = None,
    direction: Annotated[Literal["asc", "desc"] | None, Query()] = None,
    search_field: FieldName = None,
    search: Annotated[str | None, Query(max_length=100)] = None,
    authorization: Authorization = None,
) -> DocumentList:
    services().tokens.caller(authorization).ensure_may_access(customer)
    return services().documents.list(
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
    responses={**answer(DocumentDetail, "the document"), **ERROR_RESPONSES},
    tags=["documents"],
)
def get_document(
    customer: Customer,
    doc_type: Annotated[DocumentType, Path()],
    number: Number,
    authorization: Authorization = None,
) -> DocumentDetail:
    services().tokens.caller(authorization).ensure_may_access(customer)
    return services().documents.get(customer, doc_type, number)


@router.get(
    "/v1/customers/<customer>/documents/<doc_type>/<number>/pdf",
    summary="The document as PDF",
    responses={200: {"description": "the PDF", "content": {"application/pdf": {}}}, **ERROR_RESPONSES},
    tags=["documents"],
)
def get_document_pdf(
    customer: Customer,
    doc_type: Annotated[DocumentType, Path()],
    number: Number,
    authorization: Authorization = None,
):  # no return annotation: a bytes body must not go through JSON validation
    services().tokens.caller(authorization).ensure_may_access(customer)
    pdf = services().documents.pdf(customer, doc_type, number)
    return Response(
        status_code=200,
        content_type="application/pdf",
        body=pdf,  # bytes: Powertools base64-encodes them for API Gateway's binary support
        headers={"Content-Disposition": f'inline; filename="{doc_type.value}-{number}.pdf"'},
    )


@router.get(
    "/v1/health",
    summary="ERP reachable, breaker state, last success, orders waiting for export",
    responses={**answer(Health, "the health of the live API and the ERP"), **ERROR_RESPONSES},
    tags=["health"],
)
def get_health() -> Health:
    return services().health.check()
