"""Customer documents from the ERP: open orders, invoices, credit notes, shipments, and their PDFs.

Paging is server-side (``GetList`` with ``requestAmount``/``firstItem``); sort and search are passed
through to the ERP. A document the ERP does not return is a 404; ERP failures propagate as the
ERP client's typed errors and become 502/503/504 at the API's edge.

Which columns a list has is the ERP's (the plug-in unit's) business, so the sort and search fields
are checked against the columns the ERP has answered with for that document type: learned from
every list answer in this process, and, when a list with a sort or search field fails before any
was learned, from one more request without them. An unknown field is then the caller's mistake
(422 naming the columns), not an ERP failure (502).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from erpbridge.erp.ports import RequestKind
from erpbridge.errors import ErpBridgeError, ErpFaultError, ErpTimeoutError, ErpUnavailableError
from erpbridge.live.degradation import DegradationPolicy, describe
from erpbridge.live.errors import DegradedRefusalError, InvalidRequestError, NotFoundError
from erpbridge.live.models import ERP_DOCUMENT_TYPES, DocumentDetail, DocumentList, DocumentType
from erpbridge.live.ports import LiveErp

if TYPE_CHECKING:
    from erpbridge.protocol.tables import Row


class DocumentService:
    def __init__(self, *, erp: LiveErp, degradation: DegradationPolicy) -> None:
        self._erp = erp
        self._degradation = degradation
        self._columns: dict[DocumentType, frozenset[str]] = {}  # learned from the ERP's answers

    def _call(self, xml: bytes, *, kind: RequestKind) -> str:
        """The ERP's answer; down or slow is a refusal with Retry-After (documents only live in the
        ERP: there is nothing to fall back to). Busy keeps the ERP's own Retry-After."""
        try:
            return self._erp.call(xml, kind=kind)
        except (ErpUnavailableError, ErpTimeoutError) as error:
            raise DegradedRefusalError(
                "documents", describe(error), retry_after_s=self._degradation.retry_after_s
            ) from error

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

        searched = search_field if search_field and search else None
        fields = {name: value for name, value in (("sort", sort), ("search_field", searched)) if value}
        self._check_fields(doc_type, fields)
        xml = build_get_list(
            ERP_DOCUMENT_TYPES[doc_type],
            customer_number,
            request_amount=page_size,
            first_item=max(1, page_size * (page - 1) + 1),
            sort_by_field=sort,
            sort_direction=None if direction is None else direction.capitalize(),
            search_field=searched,
            search_value=search if searched else None,
        )
        try:
            listing = parse_document_list(self._call(xml, kind=RequestKind.GET_LIST))
        except ErpFaultError as error:
            if _is_not_found(error):
                raise NotFoundError(f"customer {customer_number} not found") from None
            if fields and doc_type not in self._columns:
                # Perhaps the field: ask without it to learn the columns, then say which.
                try:
                    plain = self.list(customer_number, doc_type, page_size=1)
                except ErpBridgeError:
                    raise error from None
                self._check_fields(doc_type, fields)
                if not plain.items:  # no documents at all: any sort or search finds none
                    return plain.model_copy(update={"page": page, "page_size": page_size})
            raise
        self._learn(doc_type, listing.items)
        return DocumentList(
            customer_number=customer_number,
            type=doc_type,
            page=page,
            page_size=page_size,
            total_count=listing.total_count,
            items=[dict(row) for row in listing.items],
        )

    def _learn(self, doc_type: DocumentType, rows: Sequence[Row]) -> None:
        if rows:
            self._columns[doc_type] = self._columns.get(doc_type, frozenset()).union(*rows)

    def _check_fields(self, doc_type: DocumentType, fields: dict[str, str]) -> None:
        columns = self._columns.get(doc_type)
        if not columns:
            return
        known = {column.lower() for column in columns}
        for name, value in fields.items():
            if value.lower() not in known:
                raise InvalidRequestError(
                    f"query.{name}",
                    f"not a column of {doc_type.value} documents; columns: {', '.join(sorted(columns))}",
                )

    def get(self, customer_number: str, doc_type: DocumentType, number: str) -> DocumentDetail:
        from erpbridge.protocol.request_builders import build_get_item
        from erpbridge.protocol.response_parsers import parse_document

        xml = build_get_item(ERP_DOCUMENT_TYPES[doc_type], customer_number, number)
        try:
            document = parse_document(self._call(xml, kind=RequestKind.GET_ITEM))
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
        return decode_pdf(self._call(xml, kind=RequestKind.GET_PDF))


def _is_not_found(error: ErpFaultError) -> bool:
    """Business Central reports a missing record as a fault "The <table> does not exist. …"; the
    plug-in unit passes that message through, and it is the only signal there is (anchor §4.4)."""
    return "does not exist" in (error.erp_message or "")
