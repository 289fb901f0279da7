"""From a request XML to a response: the plug-in unit's ``Process`` dispatch on the root element.

| root element | kind | behaviour |
| --- | --- | --- |
| ``GetEcomData`` without children | ping | empty ``tables`` |
| ``GetEcomData/tables/Products[@type='filter']`` | product_info | ``EcomProducts`` + ``EcomPrices`` |
| ``GetEcomData/tables/*[@type='all']`` | batch_fetch | the families' rows, streamed, paged |
| ``tables[@referenceName='OrdersPut']``, ``CreateOrder`` False | calculate_order | ``EcomOrders`` + lines |
| same, ``CreateOrder`` True | create_order, or export_order for back-end ``submitType`` (ScheduledTask …) |
| ``GetList`` | get_list | ``<Items totalCount="N">`` with one item per document |
| ``GetItem`` | get_item | ``EcomOrders`` + ``EcomOrderLines`` of one document |
| ``GetPDFForItem`` | get_pdf | base64 PDF text (not XML) |

Both create kinds create the sales order once per shop ``OrderId`` (a repeat answers the first one),
unless duplicate protection is off (``EmulatorConfig(dedup=False)``, ``erpbridge emulator --no-dedup``,
``PUT /_control/mode {"dedup": false}``): then every create commits a new sales order, as a plug-in
unit that does not deduplicate would, and ``GetList`` with ``searchField="ExternalDocumentNo"`` is
how a caller finds what it already created (the search matches values *containing* the text).

Anything else is answered with a SOAP fault naming what was not understood.

Batch paging (root attributes of ``GetEcomData``, names chosen here; the references only describe
the paging add-in's settings): ``pageSize`` (rows per response; absent/0 = everything at once),
``customModifier`` (the caller's checkpoint key, the add-in's "Custom modifier"), ``reimport``
(``true`` default: after a finished export the next request starts again from the first row;
``false``: it returns only rows added since), ``page`` (1-based: re-request that page without
touching the checkpoint, e.g. after a lost response). The response root carries ``ExportIsDone``
(``false`` until the last page), ``pageNumber``, ``pageSize`` and ``totalRows``.
"""

from __future__ import annotations

import base64
import itertools
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from lxml import etree

from bc_emulator._batch import BatchRows
from bc_emulator._model import BcError, SalesDocument
from bc_emulator.business_central import BATCH_FAMILIES, BusinessCentral
from bc_emulator.dataset import Dataset
from bc_emulator.documents import CalculatedOrder
from bc_emulator.pricing import PriceQuery
from bc_emulator.soap import SERVER_FAULT
from erpbridge.errors import ErpBridgeError, XmlError
from erpbridge.protocol.formats import parse_bool, parse_number
from erpbridge.protocol.request_builders import PRODUCT_ELEMENTS
from erpbridge.protocol.tables import build_tables, iter_tables_xml, tables_from_root
from erpbridge.protocol.xmlsafe import XmlLimits, parse_xml

REQUEST_LIMITS = XmlLimits(max_bytes=48 * 1024 * 1024, max_depth=32, max_text_bytes=4 * 1024 * 1024)
UTF16_DECLARATION = b'<?xml version="1.0" encoding="utf-16"?>\n'
UTF8_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'
BACKEND_SUBMIT_TYPES = frozenset(
    {"ScheduledTask", "ManualSubmit", "CaptureTask", "Backend", "WebApi", "DownloadedFromBackEnd"}
)
PRODUCT_FIELDS = frozenset(PRODUCT_ELEMENTS)  # a Product's standard children; the others are custom
SUPPORTED_ROOTS = "GetEcomData, tables (referenceName OrdersPut), GetList, GetItem, GetPDFForItem"


@dataclass
class ParsedRequest:
    kind: str
    root: Any = None
    error: str | None = None


@dataclass
class DispatchResult:
    body: bytes | None = None  # the whole inner response (UTF-8)
    chunks: Iterator[bytes] | None = None  # or the inner response piece by piece
    error: str | None = None  # a SOAP fault message instead
    faultcode: str | None = None  # None: BC's application error (a refusal); SERVER_FAULT: a failure
    shop_order_id: str | None = None


@dataclass
class Checkpoint:
    offset: int = 0
    done: bool = False
    total: int = 0
    pages: int = 0


class RequestRejected(Exception):
    """The request is well-formed but not one the plug-in unit accepts (answered as a fault)."""


_DATASETS: dict[tuple[int, int, int], Dataset] = {}
_DATASETS_LOCK = threading.Lock()


def shared_dataset(seed: int, products: int, customers: int) -> Dataset:
    """Emulators in one process share a generated dataset; one that changes it (a price change)
    takes a copy of its own first (``BusinessCentral._own_dataset``)."""
    key = (seed, products, customers)
    with _DATASETS_LOCK:
        dataset = _DATASETS.get(key)
        if dataset is None:
            dataset = _DATASETS[key] = Dataset.generate(seed=seed, products=products, customers=customers)
        return dataset


def _attr(element: Any, name: str) -> str:
    """Attribute by name, case-insensitive (AL's XML attribute lookups are written per name)."""
    value = element.get(name)
    if value is not None:
        return str(value)
    lower = name.lower()
    for key, val in element.attrib.items():
        if str(key).lower() == lower:
            return str(val)
    return ""


def _int_attr(element: Any, name: str, default: int) -> int:
    text = _attr(element, name).strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise RequestRejected(f"Attribute {name}='{text}' of <{element.tag}> is not an integer.") from None


def _bool_attr(element: Any, name: str, default: bool) -> bool:
    text = _attr(element, name).strip()
    if not text:
        return default
    try:
        return parse_bool(text)
    except ErpBridgeError:
        raise RequestRejected(f"Attribute {name}='{text}' of <{element.tag}> is not true or false.") from None


def _children(element: Any) -> list[Any]:
    return [child for child in element if isinstance(child.tag, str)]


class Dispatcher:
    """The plug-in unit codeunit: parses a request, calls the ERP behaviour, writes the answer."""

    def __init__(self, bc: BusinessCentral, *, utf16_declaration: bool = True) -> None:
        self.bc = bc
        self.declaration = UTF16_DECLARATION if utf16_declaration else UTF8_DECLARATION
        self._checkpoints: dict[tuple[str, str, str], Checkpoint] = {}
        self._checkpoint_lock = threading.Lock()
        self._batch_cache: dict[tuple[str, str, str], BatchRows] = {}
        self._counters: Counter[str] = Counter()
        self._counter_lock = threading.Lock()

    @classmethod
    def create(
        cls, *, seed: int, products: int, customers: int, today: date | None, utf16_declaration: bool = True
    ) -> Dispatcher:
        return cls(
            BusinessCentral(shared_dataset(seed, products, customers), today),
            utf16_declaration=utf16_declaration,
        )

    # --- state ---------------------------------------------------------------------------------

    def reset(self) -> None:
        self.bc.reset()
        self.clear_checkpoints()
        with self._counter_lock:
            self._counters.clear()

    def clear_checkpoints(self) -> None:
        with self._checkpoint_lock:
            self._checkpoints.clear()

    def checkpoints(self) -> dict[str, Any]:
        with self._checkpoint_lock:
            return {
                "|".join(key): {"offset": cp.offset, "done": cp.done, "total": cp.total, "pages": cp.pages}
                for key, cp in self._checkpoints.items()
            }

    def counters(self) -> dict[str, int]:
        with self._counter_lock:
            counters = {f"erp.{k}": v for k, v in sorted(self._counters.items())}
        counters["erp.orders_duplicated"] = self.duplicated_orders()
        return counters

    def duplicated_orders(self) -> int:
        """Sales orders beyond the first for the same shop OrderId (always 0 with dedup on)."""
        per_shop_id = Counter(doc.external_document_no for doc in self.bc.created_orders())
        return sum(n - 1 for n in per_shop_id.values())

    def _count(self, name: str, amount: int = 1) -> None:
        with self._counter_lock:
            self._counters[name] += amount

    def sales_orders(self) -> list[dict[str, Any]]:
        return [_order_json(doc) for doc in self.bc.created_orders()]

    def sales_order(self, shop_order_id: str) -> dict[str, Any] | None:
        doc = self.bc.sales_order_for(shop_order_id)
        return None if doc is None else _order_json(doc)

    # --- classification ------------------------------------------------------------------------

    def classify(self, request_xml: str) -> ParsedRequest:
        try:
            root = parse_xml(request_xml, limits=REQUEST_LIMITS, what="request")
        except XmlError as error:
            return ParsedRequest("unknown", error=f"The request is not well-formed XML: {error}")
        tag = root.tag if isinstance(root.tag, str) else ""
        if tag == "GetEcomData":
            children = _children(root)
            if not children:
                return ParsedRequest("ping", root)
            if len(children) != 1 or children[0].tag != "tables":
                return ParsedRequest("unknown", root, "GetEcomData must contain one <tables> element.")
            families = _children(children[0])
            if not families:
                return ParsedRequest("ping", root)
            types = {_attr(f, "type").lower() for f in families}
            if types == {"filter"} and [f.tag for f in families] == ["Products"]:
                return ParsedRequest("product_info", root)
            if types == {"all"}:
                return ParsedRequest("batch_fetch", root)
            got = ", ".join(f"{f.tag} type={_attr(f, 'type')!r}" for f in families)
            return ParsedRequest(
                "unknown",
                root,
                'GetEcomData/tables supports Products type="filter" (alone) or families with type="all"; '
                f"got {got}.",
            )
        if tag == "tables":
            if _attr(root, "referenceName") != "OrdersPut":
                return ParsedRequest(
                    "unknown",
                    root,
                    'A tables request needs referenceName="OrdersPut", '
                    f"not {_attr(root, 'referenceName')!r}.",
                )
            header = root.find("table/item[@table='EcomOrders']")
            if header is None:
                header = next((i for i in root.iter("item") if i.get("table") == "EcomOrders"), None)
            if header is None:
                return ParsedRequest("unknown", root, "The order request has no EcomOrders item.")
            create_text = next(
                ((c.text or "").strip() for c in header if c.get("columnName") == "CreateOrder"), ""
            )
            try:
                create = parse_bool(create_text) if create_text else False
            except ErpBridgeError:
                return ParsedRequest(
                    "unknown", root, f"CreateOrder must be True or False, not {create_text!r}."
                )
            if not create:
                return ParsedRequest("calculate_order", root)
            backend = _attr(root, "submitType") in BACKEND_SUBMIT_TYPES
            return ParsedRequest("export_order" if backend else "create_order", root)
        simple = {"GetList": "get_list", "GetItem": "get_item", "GetPDFForItem": "get_pdf"}
        if tag in simple:
            return ParsedRequest(simple[tag], root)
        return ParsedRequest(
            "unknown", root, f"The request <{tag}> is not supported. Supported: {SUPPORTED_ROOTS}."
        )

    # --- handling ------------------------------------------------------------------------------

    def handle(self, request: ParsedRequest) -> DispatchResult:
        if request.error is not None:
            return DispatchResult(error=request.error)
        try:
            handler = getattr(self, "_" + request.kind)
            result: DispatchResult = handler(request.root)
            return result
        except (BcError, RequestRejected, ErpBridgeError) as error:
            return DispatchResult(error=str(error))
        except Exception as error:  # an AL runtime error surfaces as a SOAP fault too
            return DispatchResult(
                error=f"Internal error in the emulator while processing {request.kind}: {error!r}",
                faultcode=SERVER_FAULT,
            )

    def _xml(
        self,
        tables: dict[str, list[Any]],
        *,
        root_tag: str = "tables",
        attributes: dict[str, str] | None = None,
    ) -> DispatchResult:
        body = build_tables(
            tables, root_attributes=attributes, root_tag=root_tag, declaration=False, cdata=True
        )
        return DispatchResult(body=self.declaration + body)

    def _ping(self, root: Any) -> DispatchResult:
        return self._xml({})

    def _product_info(self, root: Any) -> DispatchResult:
        customer_no = _attr(root, "AccessUserCustomerNumber") or _attr(root, "ExternalUserId")
        vat_country = _attr(root, "VatCountryCode") or None
        vat_posting_group = _attr(root, "VatPostingGroup") or None
        products = root.find("tables/Products")
        queries: list[PriceQuery] = []
        for index, product in enumerate(_children(products), start=1):
            if product.tag != "Product":
                raise RequestRejected(
                    f'Products type="filter" may contain only <Product>, not <{product.tag}>.'
                )
            fields: dict[str, str] = {}
            custom: dict[str, str] = {}
            for child in product.iterchildren(tag=etree.Element):
                tag = child.tag
                name = child.get("columnName") if tag == "column" else tag
                text = ("".join(child.itertext()) if len(child) else child.text) or ""
                if name in PRODUCT_FIELDS:
                    fields[name] = text.strip()
                elif tag != "column" or _attr(child, "isCustomField").lower() == "true":
                    custom[str(name)] = text
            product_id = fields.get("ProductId", "")
            if not product_id and not fields.get("ProductNumber"):
                raise RequestRejected(f"Product {index} has neither ProductId nor ProductNumber.")
            quantity_text = fields.get("Quantity", "")
            try:
                quantity = parse_number(quantity_text) if quantity_text else parse_number("1")
            except ErpBridgeError:
                raise RequestRejected(
                    f"Quantity '{quantity_text}' of product {product_id} is not a number."
                ) from None
            queries.append(
                PriceQuery(
                    product_id=product_id,
                    variant_id=fields.get("ProductVariantId", ""),
                    unit_id=fields.get("ProductUnitId", ""),
                    quantity=quantity,
                    identifier=fields.get("ProductIdentifier", ""),
                    product_number=fields.get("ProductNumber", ""),
                    currency=fields.get("CurrencyCode") or None,
                    custom_fields=custom,
                )
            )
        answers = self.bc.product_info(
            customer_no or None, queries, vat_country=vat_country, vat_posting_group=vat_posting_group
        )
        product_rows = []
        price_rows = []
        anonymous_key = customer_no if self.bc.dataset.find_customer(customer_no) is None else ""
        for answer in answers:
            if answer is None:
                continue
            product_rows.append(answer.product_row())
            price_rows.extend(answer.price_rows(anonymous_key))
        self._count("product_lines", len(queries))
        return self._xml({"EcomProducts": product_rows, "EcomPrices": price_rows})

    def _orders(self, root: Any) -> tuple[dict[str, str | None], list[dict[str, str | None]]]:
        document = tables_from_root(root, what="order request")
        headers = document.rows("EcomOrders")
        return headers[0], document.rows("EcomOrderLines")

    def _calculate_order(self, root: Any) -> DispatchResult:
        header, lines = self._orders(root)
        calculated = self.bc.calculate_order(header, lines)
        _echo_custom_fields(calculated, *_custom_fields(root))
        self._count("orders_calculated")
        result = self._xml(dict(calculated.tables()))
        result.shop_order_id = calculated.shop_order_id
        return result

    def _create_order(self, root: Any) -> DispatchResult:
        header, lines = self._orders(root)
        calculated, number, created_now = self.bc.create_order(header, lines)
        custom, line_fields = _custom_fields(root)
        if number:
            _echo_custom_fields(calculated, custom, line_fields)
        doc = self.bc.sales_order_for(calculated.shop_order_id) if created_now else None
        if doc is not None and doc.no == number:
            doc.custom_fields, doc.line_fields = custom, line_fields
        self._count("orders_created" if created_now else "orders_repeated" if number else "orders_refused")
        result = self._xml(dict(calculated.tables()))
        result.shop_order_id = calculated.shop_order_id
        return result

    _export_order = _create_order

    def _get_list(self, root: Any) -> DispatchResult:
        doc_type = _attr(root, "type")
        rows, total = self.bc.list_documents(
            doc_type,
            _attr(root, "customerID"),
            first_item=_int_attr(root, "firstItem", 1),
            amount=_int_attr(root, "requestAmount", 10),
            sort_by=_attr(root, "sortByField") or None,
            direction=_attr(root, "sortDirection") or None,
            search_field=_attr(root, "searchField") or None,
            search_value=_attr(root, "searchValue") or None,
        )
        return self._xml({doc_type: rows}, root_tag="Items", attributes={"totalCount": str(total)})

    def _get_item(self, root: Any) -> DispatchResult:
        doc_type = _attr(root, "type")
        number = _attr(root, "documentNO")
        found = self.bc.get_document(doc_type, _attr(root, "customerID"), number)
        if found is None:
            raise BcError(
                f"The {doc_type} does not exist. Identification fields and values: No.='{number}', "
                f"Customer No.='{_attr(root, 'customerID')}'."
            )
        header, lines = found
        return self._xml({"EcomOrders": [header], "EcomOrderLines": lines})

    def _get_pdf(self, root: Any) -> DispatchResult:
        pdf = self.bc.render_pdf(_attr(root, "type"), _attr(root, "id"), _attr(root, "externalUserID"))
        self._count("pdfs")
        return DispatchResult(body=base64.b64encode(pdf))

    # --- batch ---------------------------------------------------------------------------------

    def _rows_for(self, family: str, shop_id: str, language: str) -> BatchRows:
        key = (family.lower(), shop_id, language.upper())
        with self._checkpoint_lock:
            rows = self._batch_cache.get(key)
        if rows is None:
            rows = self.bc.batch_rows(family, shop_id=shop_id, language=language or None)
            len(rows)  # computes the offsets once, outside the lock
            with self._checkpoint_lock:
                self._batch_cache[key] = rows
        return rows

    def _batch_fetch(self, root: Any) -> DispatchResult:
        shop_id = _attr(root, "shopID")
        families = _children(root.find("tables"))
        known = {f.lower(): f for f in BATCH_FAMILIES}
        sources: list[BatchRows] = []
        for element in families:
            if element.tag.lower() not in known:
                raise BcError(
                    f"Unknown table '{element.tag}' in GetEcomData. Supported: {', '.join(BATCH_FAMILIES)}."
                )
            sources.append(self._rows_for(element.tag, shop_id, _attr(element, "setLanguage")))
        total = sum(len(s) for s in sources)
        page_size = _int_attr(root, "pageSize", 0)
        if page_size < 0:
            raise RequestRejected("pageSize must not be negative.")
        attributes: dict[str, str] = {}
        if page_size == 0:
            offset, count, done = 0, total, True
        else:
            signature = ";".join(f"{e.tag}:{_attr(e, 'setLanguage').upper()}" for e in families)
            key = (_attr(root, "customModifier"), shop_id, signature)
            page = _int_attr(root, "page", 0)
            with self._checkpoint_lock:
                checkpoint = self._checkpoints.setdefault(key, Checkpoint())
                if page > 0:
                    offset = (page - 1) * page_size
                else:
                    if checkpoint.done:
                        reimport = _bool_attr(root, "reimport", True)
                        # reimport=false: only rows added since the finished export (none in a
                        # fixed data set); true: a new full export from the first row.
                        checkpoint.offset = checkpoint.total if not reimport else 0
                        checkpoint.done = False
                    offset = checkpoint.offset
                count = max(0, min(page_size, total - offset))
                done = offset + count >= total
                if page <= 0:
                    checkpoint.offset = offset + count
                    checkpoint.done = done
                    checkpoint.total = total
                    checkpoint.pages += 1
            attributes["pageNumber"] = str(page if page > 0 else offset // page_size + 1)
            attributes["pageSize"] = str(page_size)
        attributes["totalRows"] = str(total)
        attributes = {"ExportIsDone": "true" if done else "false", **attributes}
        self._count("batch_pages")
        self._count("batch_rows", count)

        def rows() -> Iterator[tuple[str, dict[str, str | None]]]:
            remaining = count
            skip = offset
            for source in sources:
                if remaining <= 0:
                    return
                size = len(source)
                if skip >= size:
                    skip -= size
                    continue
                taken = min(remaining, size - skip)
                yield from itertools.islice(source.iter_from(skip), taken)
                remaining -= taken
                skip = 0

        def chunks() -> Iterator[bytes]:
            yield self.declaration
            yield from iter_tables_xml(
                rows(), root_attributes=attributes, declaration=False, cdata=True, chunk_rows=200
            )

        return DispatchResult(chunks=chunks())


def _custom_fields(root: Any) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """An order request's custom order fields (``isCustomField`` EcomOrders columns) and each
    line's ``OrderLineFieldValues`` collection, by the shop's ``OrderLineId``."""
    header: dict[str, str] = {}
    for column in root.iterfind("table/item[@table='EcomOrders']/column[@isCustomField]"):
        if _attr(column, "isCustomField").lower() == "true":
            header[_attr(column, "columnName")] = "".join(column.itertext())
    lines: dict[str, dict[str, str]] = {}
    for item in root.iterfind("table/item[@table='EcomOrderLines']"):
        line_id = "".join(item.findtext("column[@columnName='OrderLineId']") or "").strip()
        values = {
            (entry.findtext("OrderLineFieldSystemName") or "").strip(): entry.findtext("Value") or ""
            for entry in item.iterfind("column[@columnName='OrderLineFieldValues']/*/OrderLineFieldValue")
        }
        if values:
            lines[line_id] = values
    return header, lines


def _echo_custom_fields(
    calculated: CalculatedOrder, header: Mapping[str, str], lines: Mapping[str, Mapping[str, str]]
) -> None:
    """Answer custom fields as a plug-in unit that stores them does: the order's on the
    EcomOrders item, a line's as columns of its product line (Dynamicweb writes both back)."""
    calculated.header_row.update(header)
    for row in calculated.line_rows:
        fields = lines.get(row.get("OrderLineId") or "")
        if fields and row.get("OrderLineType") == "0":
            row.update(fields)


def _order_json(doc: SalesDocument) -> dict[str, Any]:
    data = asdict(doc)
    data["shop_order_id"] = doc.external_document_no
    data["amount"] = doc.amount
    data["amount_including_vat"] = doc.amount_including_vat
    return data
