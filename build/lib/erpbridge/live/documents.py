"""Customer documents from the ERP: open orders, invoices, credit notes, shipments, and their PDFs.

Paging is server-side (``GetList`` with ``requestAmount``/``firstItem``); sort and search are passed
through to the ERP. A document the ERP does not return is a 404; ERP failures propagate as the
ERP client's typed errors and become 502/503/504 at the API's edge.
"""

from __future__ import annotations

from erpbridge.erp.ports import RequestKind
from erpbridge.errors import ErpFaultError
from erpbridge.live.errors import NotFoundError
from erpbridge.live.models import ERP_DOCUMENT_TYPES, DocumentDetail, DocumentList, DocumentType
from erpbridge.live.ports import LiveErp


class DocumentService:
    def __init__(self, *, erp: LiveErp) -> None:
        self._erp = erp

    def list(
        self,
        customer_number: str,
        doc_type: DocumentType,
        *,
        page: int = 1,
        page_size: int = 20,
        sort: str | None = None,
        direction: str | None = None,
        search_field: str | None = None,
        search: str | None = None,
    ) -> DocumentList:
        from erpbridge.protocol.request_builders import build_get_list
        from erpbridge.protocol.response_parsers import parse_document_list

        xml = build_get_list(
            ERP_DOCUMENT_TYPES[doc_type],
            customer_number,
            request_amount=page_size,
            first_item=max(1, page_size * (page - 1) + 1),
            sort_by_field=sort,
            sort_direction=None if direction is None else direction.capitalize(),
            search_field=search_field if search_field and search else None,
            search_value=search if search_field and search else None,
        )
        try:
            listing = parse_document_list(self._erp.call(xml, kind=RequestKind.GET_LIST))
        except ErpFaultError as error:
            if _is_not_found(error):
                raise NotFoundError(f"customer {customer_number} not found") from None
            raise
        return DocumentList(
            customer_number=customer_number,
            type=doc_type,
            page=page,
            page_size=page_size,
            total_count=listing.total_count,
            items=[dict(row) for row in listing.items],
        )

    def get(self, customer_number: str, doc_type: DocumentType, number: str) -> DocumentDetail:
        from erpbridge.protocol.request_builders import build_get_item
        from erpbridge.protocol.response_parsers import parse_document

        xml = build_get_item(ERP_DOCUMENT_TYPES[doc_type], customer_number, number)
        try:
            document = parse_document(self._erp.call(xml, kind=RequestKind.GET_ITEM))
        except ErpFaultError as error:
            if _is_not_found(error):
                message = f"{doc_type.value} {number} not found for customer {customer_number}"
                raise NotFoundError(message) from None
            raise
        if not document.header:
            raise NotFoundError(f"{doc_type.value} {number} not found for customer {customer_number}")
        return DocumentDetail(
            customer_number=customer_number,
            type=doc_type,
            number=number,
            header=dict(document.header),
            lines=[dict(line) for line in document.lines],
        )

    def pdf(self, customer_number: str, doc_type: DocumentType, number: str) -> bytes:
        from erpbridge.protocol.request_builders import build_get_pdf
        from erpbridge.protocol.response_parsers import decode_pdf

        # The PDF request carries no customer filter on its own (anchor §3.6): check ownership
        # with GetItem first, so a customer can never fetch another customer's document.
        self.get(customer_number, doc_type, number)
        xml = build_get_pdf(ERP_DOCUMENT_TYPES[doc_type], number, customer_number)
        return decode_pdf(self._erp.call(xml, kind=RequestKind.GET_PDF))


def _is_not_found(error: ErpFaultError) -> bool:
    """Business Central reports a missing record as a fault "The <table> does not exist. …"; the
    plug-in unit passes that message through, and it is the only signal there is (anchor §4.4)."""
    return "does not exist" in (error.erp_message or "")
