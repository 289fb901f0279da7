"""The ``tables/table/item/column`` format: reader and writer.

Every ERP response and the order request use it (live-integration-anchor §4, batch §3)::

    <tables ExportIsDone="false">
      <table tableName="EcomProducts">
        <item table="EcomProducts">
          <column columnName="ProductId"><![CDATA[1001]]></column>
          <column columnName="ProductNumber" isNull="true"/>
        </item>
      </table>
    </tables>

Reading follows the anchor: a row is any ``item`` element (anywhere below the root); its table is
``item/@table`` (else the enclosing ``table/@tableName``); a column is any child with a
``columnName``; text and CDATA sections are joined; ``isNull="true"`` is ``None`` whatever the
content; an empty element is ``""``; a column absent from an item is absent from the row (the
caller decides what "not provided" means); the same column twice in one item is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from lxml import etree

from erpbridge.errors import ProtocolError, XmlSecurityError
from erpbridge.protocol import plain_tables
from erpbridge.protocol.formats import format_bool, format_datetime, format_number
from erpbridge.protocol.table_document import Row, TablesDocument
from erpbridge.protocol.xmlsafe import (
    DEFAULT_LIMITS,
    XmlLimits,
    attributes_of,
    compiled_xpath,
    element_path,
    parse_xml,
)

__all__ = [
    "REQUEST_DECLARATION",
    "Column",
    "ColumnInput",
    "Row",
    "TablesDocument",
    "build_tables",
    "format_value",
    "iter_tables_xml",
    "parse_tables",
    "row_from_item",
]

ScalarValue = str | Decimal | bool | datetime | date | int | float | None

# The declaration .NET's XmlDocument writes for plug-in unit requests (live-integration-anchor §2.11).
REQUEST_DECLARATION: Final = '<?xml version="1.0" encoding="utf-8" standalone="yes"?>'


@dataclass(frozen=True)
class Column:
    """A column value with the request-side markers ``isInformationalOnly`` / ``isCustomField``.

    ``value`` may also be an lxml element, written as nested XML (``OrderLineFieldValues``).
    """

    value: ScalarValue | Any
    informational: bool = False
    custom: bool = False


ColumnInput = ScalarValue | Column

_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NAME = re.compile(r"[A-Za-z_][\w.\-]*")


def format_value(value: ScalarValue) -> str | None:
    """The protocol text of a Python value (None stays None: the writer emits ``isNull``)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return format_bool(value)
    if isinstance(value, Decimal | int | float):
        return format_number(value)
    if isinstance(value, datetime | date):
        return format_datetime(value)
    raise ProtocolError(f"cannot write a {type(value).__name__} as a column value")


# --- reading ------------------------------------------------------------------------------------


def _column_text(column: Any) -> str | None:
    null = column.get("isNull")
    if null is not None and null.strip().lower() == "true":
        return None
    if len(column):  # nested markup: its text, like .NET InnerText, blank indentation dropped
        return "".join(piece for piece in column.itertext() if piece.strip()) or ""
    text = column.text
    return text if text is not None else ""


# No database the shop runs on takes longer table or column names (PostgreSQL 63, SQL Server
# 128); a longer one is hostile, and would make every message that names it as large.
MAX_NAME_CHARS: Final = 255


def check_name(name: str, kind: str, element: Any, what: str) -> str:
    """``name`` (a table or column name read from ``element``), refused when it is too long."""
    if len(name) > MAX_NAME_CHARS:
        raise XmlSecurityError(
            f"{what} has a {kind} name of {len(name):,} characters, more than {MAX_NAME_CHARS} "
            f"(it starts {name[:40]!r})",
            where=element_path(element),
        )
    return name


def row_from_item(item: Any, *, what: str = "document") -> Row:
    """Read one ``item`` element into a :data:`Row`."""
    row: Row = {}
    for column in item:
        if not isinstance(column.tag, str):
            continue  # comments and processing instructions
        name = column.get("columnName")
        if name is None:
            raise ProtocolError(
                f"{what}: <{column.tag}> inside an item has no columnName (at {element_path(column)})"
            )
        check_name(name, "column", column, what)
        if name in row:
            raise ProtocolError(
                f"{what}: column {name!r} appears twice in one item (at {element_path(column)})"
            )
        row[name] = _column_text(column)
    return row


def table_of(item: Any) -> str:
    """``item/@table``, else the enclosing ``table/@tableName``, else ``""``."""
    name = item.get("table")
    if name is None:
        parent = item.getparent()
        name = parent.get("tableName") if parent is not None else None
    return name or ""


def parse_tables(
    xml: bytes | str, *, limits: XmlLimits = DEFAULT_LIMITS, what: str = "response"
) -> TablesDocument:
    """Parse a whole ``tables`` document (hardened; see :func:`parse_xml`). Text in the plain shape
    the plug-in unit writes is read without an element tree (:mod:`.plain_tables`), to the same
    document."""
    if isinstance(xml, str):
        document = plain_tables.read_plain_tables(xml, limits=limits)
        if document is not None:
            return document
    root = parse_xml(xml, limits=limits, what=what)
    return tables_from_root(root, what=what)


def tables_from_root(root: Any, *, what: str = "response") -> TablesDocument:
    """Read the rows of an already parsed document (any root; every ``item`` below it)."""
    document = TablesDocument(root_tag=str(root.tag), attributes=attributes_of(root, what))
    document.items.extend(_rows(root, what))
    return document


# Is any column's value not simply its ``.text``: a null marker, nested markup (comments and
# processing instructions are looked for separately)? Evaluated once, in C; cheaper than a
# predicate on every column.
_SPECIAL_COLUMNS: Final = "boolean(//item/*/* | //item/*/@isNull)"


def _rows(root: Any, what: str) -> Iterator[tuple[str, Row]]:
    """(table, row) for every ``item`` below ``root``, each read as :func:`row_from_item` reads it.

    When no column carries ``isNull``, child elements, comments or processing instructions (the
    usual answer), a column's value is its ``.text`` and this is a tight loop over two lookups per
    column; otherwise every item goes through :func:`row_from_item`.
    """
    special = compiled_xpath(_SPECIAL_COLUMNS)(root) or (
        next(root.iter(etree.Comment, etree.ProcessingInstruction), None) is not None
    )
    if special:
        for item in root.iter("item"):
            yield table_of(item), row_from_item(item, what=what)
        return
    for item in root.iter("item"):
        table = item.get("table")
        if table is None:
            table = table_of(item)
        row: Row = {}
        for column in item:
            name = column.get("columnName")
            if name is None or name in row:
                row_from_item(item, what=what)  # raises the general reader's error
                continue
            text = column.text
            row[name] = "" if text is None else text
        yield table, row


# --- writing ------------------------------------------------------------------------------------
#
# The writer is on the hot path twice: every live request (small documents, a budget of a few ms)
# and the BC emulator's batch answers (hundreds of MB). So the tags of each column name are built
# once per document, a plain string value costs one concatenation, and characters XML cannot
# carry are looked for once per chunk in the encoded bytes (C-speed scans; markup never contains
# them, so a hit is always in a name or value and is then located for the error message).

_XML_FORBIDDEN_BYTES: Final = bytes(b for b in range(32) if b not in (0x09, 0x0A, 0x0D))


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _escape_attribute(text: str) -> str:
    return _escape_text(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


def _checked(text: str, where: str) -> str:
    if _INVALID_XML_CHARS.search(text):
        raise ProtocolError(f"{where} contains a character XML cannot carry")
    return text


def _cdata_body(text: str) -> str:
    # "]]>" cannot sit inside a section; a carriage return would be normalised away by the reader.
    body = text.replace("]]>", "]]]]><![CDATA[>")
    if "\r" in body:
        body = body.replace("\r", "]]>&#13;<![CDATA[")
    return body


def _encode(text: str) -> bytes:
    """UTF-8 bytes of a written chunk; ProtocolError naming the column of a character XML cannot carry."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        data = b""
    else:
        if len(data.translate(None, _XML_FORBIDDEN_BYTES)) == len(data) and not (
            b"\xef\xbf" in data and (b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data)
        ):
            return data
    bad = _INVALID_XML_CHARS.search(text)
    before = text[: bad.start() if bad else 0]
    table = before.rsplit('table="', 1)[-1].split('"', 1)[0] if 'table="' in before else "?"
    column = before.rsplit('columnName="', 1)[-1].split('"', 1)[0] if 'columnName="' in before else "?"
    raise ProtocolError(f"{table}.{column} contains a character XML cannot carry")


class _ColumnTags(dict[str, str]):
    """Column name → its opening tag followed by ``suffix``, built the first time a name is seen."""

    def __init__(self, suffix: str) -> None:
        super().__init__()
        self.suffix = suffix

    def __missing__(self, name: str) -> str:
        tag = f'\n      <column columnName="{_escape_attribute(name)}"{self.suffix}'
        self[name] = tag
        return tag


class _TablesWriter:
    """Writes ``tables``/``item`` markup into a list of string parts (see the note above)."""

    def __init__(self, *, cdata: bool) -> None:
        self.cdata = cdata
        self._open = _ColumnTags("><![CDATA[" if cdata else ">")
        self._close = "]]></column>" if cdata else "</column>"
        self._empty = _ColumnTags("></column>")
        self._null = _ColumnTags(' isNull="true" />')

    def table_open(self, table: str) -> tuple[str, str]:
        """The ``<table>`` opening tag and the ``<item>`` opening tag of ``table``."""
        escaped = _escape_attribute(_checked(table, "table name"))
        return f'\n  <table tableName="{escaped}">', f'\n    <item table="{escaped}">'

    def item(self, parts: list[str], item_open: str, row: Mapping[str, ColumnInput]) -> None:
        opening, close, null = self._open, self._close, self._null
        parts.append(item_open)
        # One comprehension per item: the hot loop of a 100,000-product export. Non-empty text
        # is the common case, then None; "" and other types (numbers, Column, ...) take the branches.
        if self.cdata:
            columns = [
                opening[name]
                + (value if "]]>" not in value and "\r" not in value else _cdata_body(value))
                + close
                if value.__class__ is str and value
                else null[name]
                if value is None
                else self._other(name, value)
                for name, value in row.items()
            ]
        else:
            columns = [
                opening[name] + _escape_text(value) + close
                if value.__class__ is str and value
                else null[name]
                if value is None
                else self._other(name, value)
                for name, value in row.items()
            ]
        parts.append("".join(columns))
        parts.append("\n    </item>")

    def _other(self, name: str, value: Any) -> str:
        if value.__class__ is str:
            return self._empty[name]
        markers = ""
        if isinstance(value, Column):
            if value.informational:
                markers += ' isInformationalOnly="True"'
            if value.custom:
                markers += ' isCustomField="True"'
            value = value.value
        opening = f'\n      <column columnName="{_escape_attribute(name)}"{markers}'
        if etree.iselement(value):
            return f"{opening}>{etree.tostring(value, encoding='unicode')}</column>"
        text = format_value(value)
        if text is None:
            return f'{opening} isNull="true" />'
        if not text:
            return f"{opening}></column>"
        body = f"<![CDATA[{_cdata_body(text)}]]>" if self.cdata else _escape_text(text)
        return f"{opening}>{body}</column>"


def _root_open(root_tag: str, root_attributes: Mapping[str, str]) -> str:
    if not _NAME.fullmatch(root_tag):
        raise ProtocolError(f"not an XML element name: {root_tag!r}")
    for key in root_attributes:
        if not _NAME.fullmatch(key):
            raise ProtocolError(f"not an XML attribute name: {key!r}")
    attributes = "".join(
        f' {key}="{_escape_attribute(_checked(value, key))}"' for key, value in root_attributes.items()
    )
    return f"<{root_tag}{attributes}>"


def iter_tables_xml(
    rows: Iterable[tuple[str, Mapping[str, ColumnInput]]],
    *,
    root_attributes: Mapping[str, str] | None = None,
    declaration: bool = True,
    cdata: bool = False,
    root_tag: str = "tables",
    chunk_rows: int = 500,
) -> Iterator[bytes]:
    """Write ``(table, row)`` pairs as a ``tables`` document, chunk by chunk (UTF-8 bytes).

    Consecutive rows of the same table share one ``<table>`` element. Memory stays flat, so the
    emulator can answer with hundreds of MB.
    """
    writer = _TablesWriter(cdata=cdata)
    parts: list[str] = []
    if declaration:
        parts.append(REQUEST_DECLARATION + "\n")
    parts.append(_root_open(root_tag, root_attributes or {}))
    current: str | None = None
    item_open = ""
    pending = 0
    for table, row in rows:
        if table != current:
            if current is not None:
                parts.append("\n  </table>")
            table_open, item_open = writer.table_open(table)
            parts.append(table_open)
            current = table
        writer.item(parts, item_open, row)
        pending += 1
        if pending >= chunk_rows:
            yield _encode("".join(parts))
            parts.clear()
            pending = 0
    if current is not None:
        parts.append("\n  </table>")
    parts.append(f"\n</{root_tag}>\n")
    yield _encode("".join(parts))


def build_tables(
    tables: Mapping[str, Sequence[Mapping[str, ColumnInput]]],
    *,
    root_attributes: Mapping[str, str] | None = None,
    declaration: bool = True,
    cdata: bool = False,
    root_tag: str = "tables",
) -> bytes:
    """Write a whole ``tables`` document. ``None`` → ``isNull="true"``; a table without rows is kept."""
    writer = _TablesWriter(cdata=cdata)
    parts: list[str] = []
    if declaration:
        parts.append(REQUEST_DECLARATION + "\n")
    parts.append(_root_open(root_tag, root_attributes or {}))
    for table, rows in tables.items():
        table_open, item_open = writer.table_open(table)
        parts.append(table_open)
        for row in rows:
            writer.item(parts, item_open, row)
        parts.append("\n  </table>")
    parts.append(f"\n</{root_tag}>\n")
    return _encode("".join(parts))
