"""PDF rendering of sales documents (what ``GetPDFForItem`` returns, base64-encoded by the server).

A one-or-more-page A4 document with the company letterhead, addresses, document facts, the lines
and the totals, drawn with fpdf2's core fonts (Latin-1; other characters become '?').
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from fpdf import FPDF

from bc_emulator._model import (
    DOC_CREDIT,
    DOC_INVOICE,
    DOC_OPEN_ORDER,
    DOC_SHIPMENT,
    SalesDocument,
    fmt_number,
)

if TYPE_CHECKING:
    from bc_emulator.dataset import Dataset

TITLES = {
    DOC_OPEN_ORDER: "Order Confirmation",
    DOC_INVOICE: "Sales Invoice",
    DOC_CREDIT: "Sales Credit Memo",
    DOC_SHIPMENT: "Sales Shipment",
}
COMPANY = ("CRONUS International Ltd.", "5 The Ring", "10115 Berlin", "Germany")


# The core PDF fonts only know Latin-1: spell the few common others out rather than print '?'.
_PLAIN = str.maketrans({"–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "€": "EUR", "…": "..."})


def _latin1(text: str) -> str:
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def render_document_pdf(dataset: Dataset, doc: SalesDocument) -> bytes:
    """The document as PDF bytes; deterministic for the same document (fixed creation date)."""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(doc.created_at or _as_datetime(doc.posting_date))
    pdf.set_title(_latin1(f"{TITLES[doc.doc_type]} {doc.no}"))
    pdf.set_author(COMPANY[0])
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    currency = doc.currency_code or dataset.lcy_code

    pdf.set_font("helvetica", "B", 16)
    pdf.cell(0, 9, _latin1(f"{TITLES[doc.doc_type]} {doc.no}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 9)
    pdf.cell(0, 5, _latin1(" - ".join(COMPANY)), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    bill = doc.bill_to
    left = [
        doc.customer_name,
        bill.get("address", ""),
        f"{bill.get('zip', '')} {bill.get('city', '')}",
        bill.get("country", ""),
    ]
    facts = [("Customer No.", doc.customer_no), ("Document No.", doc.no), ("Currency", currency)]
    if doc.doc_type == DOC_OPEN_ORDER:
        facts.append(("Order Date", doc.order_date.isoformat()))
        if doc.external_document_no:
            facts.append(("Your Reference", doc.external_document_no))
    else:
        facts.append(("Posting Date", doc.posting_date.isoformat()))
    if doc.order_no:
        facts.append(("Order No.", doc.order_no))
    if doc.due_date:
        facts.append(("Due Date", doc.due_date.isoformat()))
    if doc.applies_to_doc_no:
        facts.append(("Applies-to Doc. No.", doc.applies_to_doc_no))
    if doc.tracking_no:
        facts.append(("Package Tracking No.", f"{doc.shipping_agent} {doc.tracking_no}"))
    pdf.set_font("helvetica", "", 10)
    for i in range(max(len(left), len(facts))):
        pdf.cell(95, 5, _latin1(left[i] if i < len(left) else ""))
        if i < len(facts):
            pdf.set_font("helvetica", "B", 10)
            pdf.cell(40, 5, _latin1(facts[i][0]))
            pdf.set_font("helvetica", "", 10)
            pdf.cell(0, 5, _latin1(facts[i][1]))
        pdf.ln(5)
    if doc.ship_to is not None:
        pdf.ln(2)
        ship = doc.ship_to
        pdf.cell(
            0,
            5,
            _latin1(f"Ship-to: {ship.name}, {ship.address}, {ship.zip} {ship.city}, {ship.country_code}"),
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.ln(5)

    priced = doc.doc_type != DOC_SHIPMENT
    widths = (24, 72, 16, 14, 22, 14, 28) if priced else (30, 110, 25, 25)
    heads = (
        ("No.", "Description", "Qty", "Unit", "Unit Price", "Disc. %", "Amount")
        if priced
        else ("No.", "Description", "Quantity", "Unit")
    )
    pdf.set_font("helvetica", "B", 9)
    pdf.set_fill_color(230, 230, 230)
    for w, h in zip(widths, heads, strict=True):
        pdf.cell(
            w,
            6,
            h,
            border="B",
            fill=True,
            align="R" if h in ("Qty", "Unit Price", "Disc. %", "Amount") else "L",
        )
    pdf.ln(6)
    pdf.set_font("helvetica", "", 9)
    for line in doc.lines:
        description = line.description + (f" ({line.variant_id})" if line.variant_id else "")
        cells = [line.item_no, description[:48], fmt_number(line.quantity), line.unit_code]
        if priced:
            cells += [
                _money(line.unit_price),
                fmt_number(line.line_discount_pct) if line.line_discount_pct else "",
                _money(line.line_amount),
            ]
        for idx, (w, text) in enumerate(zip(widths, cells, strict=True)):
            align = "R" if (priced and idx in (2, 4, 5, 6)) or (not priced and idx == 2) else "L"
            pdf.cell(w, 5, _latin1(text), align=align)
        pdf.ln(5)

    if priced:
        pdf.ln(3)
        totals = []
        if doc.shipping_fee:
            totals.append((f"Shipping ({doc.shipping_method})", doc.shipping_fee))
        totals += [
            (f"Total {currency} Excl. VAT", doc.amount),
            ("VAT Amount", doc.amount_including_vat - doc.amount),
            (f"Total {currency} Incl. VAT", doc.amount_including_vat),
        ]
        for label, value in totals:
            pdf.set_font("helvetica", "B" if label.startswith(f"Total {currency} Incl") else "", 10)
            pdf.cell(150, 6, _latin1(label), align="R")
            pdf.cell(40, 6, _money(value), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font("helvetica", "I", 8)
    pdf.cell(0, 5, "Generated by the erpbridge Business Central emulator - not a real document.")
    return bytes(pdf.output())


def _as_datetime(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)
