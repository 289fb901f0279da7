"""The emulated Business Central: the ERP behaviour on top of a :class:`~bc_emulator.dataset.Dataset`.

Public API (no HTTP, no XML — the server serialises what these return)
======================================================================

``BusinessCentral(dataset, today=None)`` — thread-safe (one re-entrant lock around mutations):

``product_info(customer_no, lines: list[PriceQuery], currency=None, on=None, *, vat_country=None,
vat_posting_group=None)``
    → ``list[PriceAnswer | None]`` in request order; None = item (or unit) unknown: omit it.
    ``PriceAnswer.product_row()`` is the ``EcomProducts`` row (ProductId, ProductVariantId,
    ProductIdentifier echoed, ProductPrice, ProductPriceWithVat, ProductStock, ProductDefaultUnitId,
    echoed custom fields); ``PriceAnswer.price_rows()`` the ``EcomPrices`` quantity-break rows.
    ``customer_no`` None/""/"Anonymous"/unknown = anonymous (all-customers prices only);
    ``currency`` None/"" = LCY (EUR); ``on`` None = today.

``calculate_order(header, lines)`` → ``CalculatedOrder``; ``create_order(header, lines)`` →
    ``(CalculatedOrder, sales_order_no, created_now)``. ``header`` is the parsed ``EcomOrders`` item
    (column name → text), ``lines`` the ``EcomOrderLines`` items. ``CalculatedOrder.header_row`` /
    ``.line_rows`` are the response rows (``.tables()`` gives ``{"EcomOrders": [...],
    "EcomOrderLines": [...]}``). Create is idempotent on the shop's ``OrderId``; created orders
    appear in ``list_documents("OpenOrder", ...)``.

``list_documents(doc_type, customer_no, first_item=1, amount=10, sort_by=None, direction=None,
    search_field=None, search_value=None)`` → ``(rows, total)``; doc types OpenOrder, Invoice,
    Credit, SalesShipment. ``get_document(doc_type, customer_no, number)`` → ``(header_row,
    line_rows) | None`` (EcomOrders / EcomOrderLines columns). ``render_pdf(doc_type, number,
    customer_no)`` → PDF bytes (BcError when not found).

``batch_rows(family, *, shop_id="", language=None)`` → ``BatchRows``: iterate for
    ``(table_name, row)``; ``len(rows)``; ``rows.iter_from(offset)`` / ``rows[a:b]`` jump to a row
    offset cheaply (the server's per-caller checkpoint). Families: Products, ProductGroups,
    Currencies, Countries, Units, Languages, Manufacturers, RelatedProducts, Customers, Prices, Stock
    (``BATCH_FAMILIES``); unknown family → BcError. ``language`` None = every language.

Errors BC itself would report (unknown item in an order, unknown sort field, unknown document
type …) raise ``BcError``; answer them as a SOAP fault carrying the message.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

from bc_emulator._batch import BatchRows, batch_rows
from bc_emulator._model import BcError, Row, SalesDocument, money
from bc_emulator.dataset import Dataset
from bc_emulator.documents import CalculatedOrder, DocumentStore
from bc_emulator.pricing import PriceAnswer, PriceQuery, PricingEngine

BATCH_FAMILIES = (
    "Products",
    "ProductGroups",
    "Currencies",
    "Countries",
    "Units",
    "Languages",
    "Manufacturers",
    "RelatedProducts",
    "Customers",
    "Prices",
    "Stock",
)


class BusinessCentral:
    """The ERP's behaviour on a data set: prices, orders, documents, PDFs, batch exports.

    ``today`` is BC's work date (None = the real current date, read on every call).
    """

    def __init__(self, dataset: Dataset, today: date | None = None) -> None:
        self.dataset = dataset
        self._today = today
        self.lock = threading.RLock()
        self.pricing = PricingEngine(dataset)
        self.documents = DocumentStore(dataset, self.pricing)
        # item no → its item card price and price list line prices before change_price
        self._prices_before: dict[str, tuple[Decimal, list[Decimal]]] = {}
        # Emulators of one process share a generated dataset (dispatch.shared_dataset); the first
        # change to its data gives this BC a copy of its own, so another emulator never sees it.
        self._owns_dataset = False

    @property
    def today(self) -> date:
        return self._today or date.today()

    def product_info(
        self,
        customer_no: str | None,
        lines: Sequence[PriceQuery],
        currency: str | None = None,
        on: date | None = None,
        *,
        vat_country: str | None = None,
        vat_posting_group: str | None = None,
    ) -> list[PriceAnswer | None]:
        """Best price, best line discount, VAT and stock per line (None = unknown item or unit)."""
        return self.pricing.product_info(
            customer_no,
            lines,
            currency,
            on or self.today,
            vat_country=vat_country,
            vat_posting_group=vat_posting_group,
        )

    def calculate_order(
        self, header: Mapping[str, str | None], lines: Sequence[Mapping[str, str | None]]
    ) -> CalculatedOrder:
        return self.documents.calculate_order(header, lines, self.today)

    def create_order(
        self, header: Mapping[str, str | None], lines: Sequence[Mapping[str, str | None]]
    ) -> tuple[CalculatedOrder, str, bool]:
        with self.lock:
            return self.documents.create_order(header, lines, self.today, datetime.now())

    @property
    def dedup(self) -> bool:
        """Whether a repeated create on the same shop OrderId answers the first sales order."""
        return self.documents.dedup

    def set_dedup(self, dedup: bool) -> None:
        with self.lock:
            self.documents.dedup = dedup

    def sales_order_for(self, shop_order_id: str) -> SalesDocument | None:
        """The sales order created for a shop OrderId (for the control API / tests)."""
        with self.lock:
            return self.documents.order_for_shop_id(shop_order_id)

    def created_orders(self) -> list[SalesDocument]:
        with self.lock:
            return list(self.documents.created.values())

    def block_customer(self, customer_no: str, blocked: bool) -> None:
        """Block (or unblock) a customer: its baskets fault, its orders answer ``OrderCreated`` False."""
        with self.lock:
            if self.dataset.find_customer(customer_no) is None:
                raise BcError(
                    f"The Customer does not exist. Identification fields and values: No.='{customer_no}'"
                )
            if blocked:
                self.documents.blocked_customers.add(customer_no)
            else:
                self.documents.blocked_customers.discard(customer_no)

    def change_price(self, item_no: str, factor: Decimal) -> Decimal:
        """Multiply an item's prices (its item card price and every price list line) by ``factor``,
        rounded to cents, as a price update in BC would; :meth:`reset` restores them. Returns the
        new item card price."""
        with self.lock:
            item = self.dataset.item_by_no.get(item_no)
            if item is None:
                raise BcError(f"The Item does not exist. Identification fields and values: No.='{item_no}'")
            self._own_dataset()
            item = self.dataset.item_by_no[item_no]
            lines = self.dataset.sales_prices.get(item_no, [])
            self._prices_before.setdefault(item_no, (item.unit_price, [line.unit_price for line in lines]))
            item.unit_price = money(item.unit_price * factor)
            for line in lines:
                line.unit_price = money(line.unit_price * factor)
            return item.unit_price

    def _own_dataset(self) -> None:
        if not self._owns_dataset:
            self.dataset = copy.deepcopy(self.dataset)
            self.pricing.dataset = self.documents.dataset = self.dataset
            self._owns_dataset = True

    def reset(self) -> None:
        """Forget orders created through the emulator (the generated history stays) and price changes."""
        with self.lock:
            self.documents.reset()
            for item_no, (unit_price, line_prices) in self._prices_before.items():
                self.dataset.item_by_no[item_no].unit_price = unit_price
                for line, price in zip(self.dataset.sales_prices.get(item_no, []), line_prices, strict=True):
                    line.unit_price = price
            self._prices_before.clear()

    def list_documents(
        self,
        doc_type: str,
        customer_no: str,
        first_item: int = 1,
        amount: int = 10,
        sort_by: str | None = None,
        direction: str | None = None,
        search_field: str | None = None,
        search_value: str | None = None,
    ) -> tuple[list[Row], int]:
        with self.lock:
            return self.documents.list_documents(
                doc_type, customer_no, first_item, amount, sort_by, direction, search_field, search_value
            )

    def get_document(self, doc_type: str, customer_no: str, number: str) -> tuple[Row, list[Row]] | None:
        with self.lock:
            return self.documents.get_document(doc_type, customer_no, number)

    def render_pdf(self, doc_type: str, number: str, customer_no: str) -> bytes:
        from bc_emulator.pdf import render_document_pdf

        with self.lock:
            doc = self.documents.find(doc_type, customer_no, number)
        if doc is None:
            raise BcError(f"{doc_type} {number} does not exist for customer {customer_no}.")
        return render_document_pdf(self.dataset, doc)

    def batch_rows(self, family: str, *, shop_id: str = "", language: str | None = None) -> BatchRows:
        return batch_rows(self.dataset, family, shop_id=shop_id, language=language)
