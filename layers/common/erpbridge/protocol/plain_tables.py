"""The plain shape of a ``tables`` document, read without building an element tree.

Every live call parses an answer: the price path one per cache miss (~80 KB for 50 products).
Building an lxml tree and visiting its ~3,000 nodes from Python costs ~1.2 ms, a fifth of the time
the ERP itself takes to answer. The plug-in unit writes its answers in one plain shape:
``<tables>``, then ``<table tableName="…">``, ``<item table="…">`` and ``<column columnName="…">``
holding one CDATA section or plain text, with whitespace between. A document entirely in that
shape is read here by two regular-expression passes in C (~0.8 ms): one checks the whole document
against the shape, one collects the names and values.

Anything outside the shape — comments, processing instructions, entity or character references,
``isNull``, other attributes, a DOCTYPE, characters XML forbids, carriage returns, a ``]`` in a
value, a document larger than the limits can judge by length alone — makes
:func:`read_plain_tables` return None, and the caller parses with the hardened lxml parser, which
gives the same document or the precise error. So this is only ever a faster way to the same answer
(tests compare the two readers on the plug-in unit's answers and on thousands of mutated documents).
"""

from __future__ import annotations

import re
from typing import Final

from erpbridge.protocol.table_document import Row, TablesDocument
from erpbridge.protocol.xmlsafe import DEFAULT_LIMITS, XmlLimits

__all__ = ["read_plain_tables"]

# Characters XML 1.0 forbids (as a character-class body); a document holding one is declined, so
# the lxml parser reports it.
_FORBIDDEN = "\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff"
_S = "[ \t\r\n]"
# An attribute value lxml returns verbatim: no reference, no whitespace it would normalise.
_NAME = f'[^"<&\t\n\r{_FORBIDDEN}]'
# Text lxml returns verbatim: no markup, reference, carriage return (line ends are normalised) or
# "]" (so "]]>", illegal in text and the end of a CDATA section, cannot occur).
_TEXT = f"[^<&\\]\r{_FORBIDDEN}]*+"
_CDATA = f"[^\\]\r{_FORBIDDEN}]*+"

_TABLE_START = f'<(table){_S}++tableName="({_NAME}*+)"{_S}*+'
_ITEM_START = f'<(item)(?:{_S}++table=("{_NAME}*+"))?{_S}*+'
_COLUMN = (
    f'<column{_S}++columnName="({_NAME}++)"{_S}*+'
    f"(?:/>|>(?:<!\\[CDATA\\[({_CDATA})\\]\\]>|({_TEXT}))</column{_S}*+>)"
)


def _without_groups(pattern: str) -> str:
    return re.sub(r"\((?!\?)", "(?:", pattern)


_ITEM = f"{_without_groups(_ITEM_START)}(?:/>|>(?:{_S}*+{_without_groups(_COLUMN)})*+{_S}*+</item{_S}*+>)"
_TABLE = f"{_without_groups(_TABLE_START)}(?:/>|>(?:{_S}*+{_ITEM})*+{_S}*+</table{_S}*+>)"
_PROLOG = f'(?:<\\?xml{_S}++version="1\\.0"(?:{_S}++encoding="[A-Za-z0-9._-]++")?{_S}*+\\?>)?'
# At most one root attribute (two could be a duplicate, which lxml refuses), never a namespace
# declaration (the elements would then not be the plain item and column lxml's reader looks for).
_ROOT = f'<tables(?:{_S}++(?P<attribute>(?!xmlns)[A-Za-z_][A-Za-z0-9_.-]*+)="(?P<value>{_NAME}*+)")?{_S}*+>'
# Possessive quantifiers: a document that is not in the shape fails in one pass, never backtracks.
_DOCUMENT: Final = re.compile(f"{_PROLOG}{_S}*+{_ROOT}(?:{_S}*+{_TABLE})*+{_S}*+</tables{_S}*+>{_S}*+")
# In a document _DOCUMENT accepted, the only places these can match are the starts of its tables,
# items and columns (a value's text is consumed with its column; closing tags and the prolog start
# differently), so the second pass sees exactly the elements the first one checked.
_ELEMENTS: Final = re.compile(f"{_TABLE_START}|{_ITEM_START}|{_COLUMN}")
# Depth of a column below the document (tables/table/item/column), see xmlsafe.check_limits.
_COLUMN_DEPTH: Final = 4


def read_plain_tables(xml: str, *, limits: XmlLimits = DEFAULT_LIMITS) -> TablesDocument | None:
    """The document :func:`erpbridge.protocol.tables.parse_tables` reads from ``xml`` when it is a
    ``tables`` document in the plain shape; otherwise None (parse it with lxml)."""
    # A character is 1–4 UTF-8 bytes: within a quarter of the limits, no limit can be broken.
    if len(xml) > min(limits.max_bytes, limits.max_text_bytes) // 4 or limits.max_depth < _COLUMN_DEPTH:
        return None
    shape = _DOCUMENT.fullmatch(xml)
    if shape is None:
        return None
    attribute = shape["attribute"]
    document = TablesDocument(
        root_tag="tables", attributes={} if attribute is None else {attribute: shape["value"]}
    )
    rows = document.items
    row: Row = {}
    table = ""
    for is_table, table_name, is_item, item_table, column, cdata, text in _ELEMENTS.findall(xml):
        if column:
            if column in row:
                return None  # lxml's reader reports the duplicate
            row[column] = cdata or text
        elif is_item:
            row = {}
            # An item's own table attribute wins, even empty; else the enclosing table's name.
            rows.append((item_table[1:-1] if item_table else table, row))
        elif is_table:
            table = table_name
    return document
