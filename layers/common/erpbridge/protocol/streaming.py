"""Streaming reader of ``tables`` documents of any size (batch responses of hundreds of MB).

``lxml.etree.iterparse`` with the hardened options of :mod:`erpbridge.protocol.xmlsafe` reads the
stream in 64 KiB chunks; each ``item`` is turned into a :data:`Row` when its end tag arrives and
is then cleared and unlinked, so memory does not grow with the file. Any binary file-like object
with ``read(n)`` works: an open file, ``io.BytesIO``, a botocore ``StreamingBody`` from S3.

Hardening: a DOCTYPE is refused before parsing starts, entities and DTDs are never loaded, the
total size is counted against ``limits.max_bytes`` (default :data:`STREAM_LIMITS`, 8 GiB), the
depth of items and of markup inside a column against ``limits.max_depth``, text inside a column
against ``limits.max_text_bytes``; libxml2 itself caps any nesting at 256 and a single text node at
10 MB (``huge_tree`` off).

Speed: the common column shapes are read inline with one attribute call per column; the name of
the lone attribute is checked to be ``columnName`` the first time each column name is seen (a
bounded cache). Consequence, by design: after ``ProductId`` has been seen, a malformed
``<column foo="ProductId">`` would be read as that column instead of being refused; any other
oddity (other attributes, nested markup, comments, duplicates) goes through the general reader
and behaves exactly like :func:`erpbridge.protocol.tables.parse_tables`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

from lxml import etree

from erpbridge.errors import ProtocolError, XmlSecurityError
from erpbridge.protocol.table_document import Row, export_is_done
from erpbridge.protocol.tables import MAX_NAME_CHARS, check_name, row_from_item
from erpbridge.protocol.xmlsafe import (
    LIBXML2_TEXT_CAP,
    PARSER_OPTIONS,
    STREAM_LIMITS,
    LimitedStream,
    XmlLimits,
    attributes_of,
    describe_open_markup,
    element_path,
    open_xml_stream,
    syntax_error,
)

__all__ = ["CHUNK_BYTES", "StreamingTableReader"]

CHUNK_BYTES = 64 * 1024
_COLUMN_KEYS = ["columnName"]
_NULL_KEYS = ["columnName", "isNull"]
_VERIFIED_MAX = 10_000
# How much of the input since the last complete item is kept to explain a refusal (1 MiB).
_EXPLAIN_CHUNKS = 16
# More "=" than this since the last item (a chunk of plain columns has some 2,000): read the next
# item with the general reader.
_MANY_ATTRIBUTES = 8_000


def _tags(chunk: bytes) -> int:
    """Tags (and comments, PIs, CDATA sections) a chunk may hold: its "<" (a scan in C)."""
    return chunk.count(b"<")


def _attributes(chunk: bytes) -> int:
    """Attributes a chunk may set: its "=" (a scan in C)."""
    return chunk.count(b"=")


class StreamingTableReader:
    """Yield ``(table name, row)`` for every ``item`` of a ``tables`` stream, in document order.

    ``root_attributes`` (e.g. ``ExportIsDone``, ``version``) is filled when the first row is
    yielded, and at the latest when the rows are exhausted. Rows can be read once.
    """

    def __init__(
        self, stream: BinaryIO, *, limits: XmlLimits = STREAM_LIMITS, what: str = "response"
    ) -> None:
        self._stream = stream
        self._limits = limits
        self._what = what
        self._source: LimitedStream | None = None
        self._started = False
        self.root_attributes: dict[str, str] = {}
        self.root_tag: str | None = None
        self.rows_read = 0

    @property
    def bytes_read(self) -> int:
        """Bytes taken from the stream so far."""
        return self._source.bytes_read if self._source is not None else 0

    @property
    def export_is_done(self) -> bool:
        """The paging marker of the root (missing = True); known once the first row is read."""
        return export_is_done(self.root_attributes)

    def _capture_root(self, root: Any) -> None:
        self.root_tag = str(root.tag)
        self.root_attributes = attributes_of(root, self._what)
        docinfo = root.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None:  # defence behind the prolog check
            raise XmlSecurityError(f"{self._what} declares a DOCTYPE; DTDs and entities are refused")

    def rows(self) -> Iterator[tuple[str, Row]]:
        """The rows, one at a time; memory stays flat whatever the size of the stream.

        The document head is read (and a DOCTYPE refused) when this is called."""
        if self._started:
            raise ProtocolError("a StreamingTableReader can be read only once")
        self._started = True
        self._source = open_xml_stream(self._stream, limits=self._limits, what=self._what)
        # remove_blank_text drops the indentation between columns before lxml builds nodes for
        # it (the reference reader ignores whitespace-only nodes too); a column whose whole text
        # is blank keeps it.
        parser = etree.XMLPullParser(events=("end",), tag="item", remove_blank_text=True, **PARSER_OPTIONS)
        return self._rows(parser, self._source)

    def _rows(self, parser: Any, source: LimitedStream) -> Iterator[tuple[str, Row]]:
        max_depth = self._limits.max_depth
        max_text = self._limits.max_text_bytes
        # A text of more characters than this may exceed max_text bytes (UTF-8: ≤ 4 bytes each).
        # libxml2 already refuses a text node over 10 MB (CDATA sections are merged into it), so
        # only a stricter limit needs a look at every column.
        text_limit = max_text // 4 if max_text < LIBXML2_TEXT_CAP else None
        # Column names already seen on an element whose only attribute is columnName: for them
        # the attribute's name need not be fetched again (bounded, so hostile names cannot grow it).
        # The interned copy becomes the row's key: rows share one string per name, and lookups
        # with literal keys in the consumer hit the identity fast path.
        verified: dict[str, str] = {}
        parent: Any = None
        table = ""
        count = 0
        read, feed, read_events = source.read, parser.feed, parser.read_events
        root: Any = None
        # libxml2's push parser holds an unfinished tag, comment, CDATA section or PI until its
        # end arrives, and the current item's tree until its end tag: both are bounded by what
        # was fed since the last item ended (bytes; "<" of tags and "=" that may set an
        # attribute, counted in C). The first chunks since then are kept to say what was left
        # open.
        max_pending, max_elements = self._limits.max_item_bytes, self._limits.max_elements
        pending = elements = equals = 0
        since: list[bytes] = []
        since_offset = 0
        try:
            while True:
                chunk = read(CHUNK_BYTES)
                if chunk:
                    pending += len(chunk)
                    equals += _attributes(chunk)
                    if len(since) < _EXPLAIN_CHUNKS:
                        since.append(chunk)
                    if pending > max_pending or elements + equals > max_elements:
                        raise self._too_large(since, since_offset, pending > max_pending)
                    feed(chunk)
                else:
                    try:
                        root = parser.close()  # reports a truncated document
                    except etree.XMLSyntaxError as error:
                        raise syntax_error(error, self._what, at_end=True) from None
                before = count
                for _, item in read_events():
                    if count == 0:
                        self._capture_root(item.getroottree().getroot())
                    if item.getparent() is not parent:
                        parent = self._enter_parent(item, max_depth)
                        table = (parent.get("tableName") or "") if parent is not None else ""
                        check_name(table, "table", parent, self._what)
                    # The common shapes are read inline: <column columnName="..">text</column> and
                    # <column columnName=".." isNull="true"/>. Anything else (nested markup, other
                    # attributes, comments, duplicates, long text) goes through the general reader.
                    children = item.getchildren()
                    # lxml's values() takes time quadratic in an element's attributes: when the
                    # input since the last item could hold many, the general reader (get() only)
                    # reads the item.
                    row = {} if equals > _MANY_ATTRIBUTES else _inline_row(children, verified, text_limit)
                    if len(row) != len(children):
                        row = self._general_row(item, max_depth, max_text)
                    name = item.get("table")
                    if name is not None and len(name) > MAX_NAME_CHARS:
                        check_name(name, "table", item, self._what)
                    count += 1
                    self.rows_read = count
                    yield (table if name is None else name), row
                    item.clear(keep_tail=False)
                    while item.getprevious() is not None:
                        del parent[0]
                if count != before:  # an item ended in this chunk: what follows starts afresh
                    pending = elements = equals = 0
                    since = [chunk]
                    since_offset = source.bytes_read - len(chunk)
                elif chunk:
                    # Tags are counted only in a chunk where no item ended (so hardly ever in a
                    # real file), after libxml2 has it: the tree may outgrow the limit by one
                    # chunk's worth (64 KiB) before the next chunk is refused.
                    elements += _tags(chunk)
                if not chunk:
                    break
        except etree.XMLSyntaxError as error:
            raise syntax_error(error, self._what) from None
        if count == 0 and root is not None:
            self._capture_root(root)

    def _too_large(self, since: list[bytes], offset: int, by_bytes: bool) -> XmlSecurityError:
        """The refusal of an item (or what lies between two items) that outgrew the limits."""
        limits = self._limits
        if not by_bytes:
            return XmlSecurityError(
                f"{self._what} holds more than {limits.max_elements:,} elements and attributes "
                "without completing an item (an item this large is refused)",
                where=f"byte {offset:,}",
            )
        message = f"{self._what} holds more than {limits.max_item_bytes:,} bytes without completing an item"
        seen = b"".join(since)
        # The first chunk is the one where the last item ended: start after that item's end.
        start = max(seen.rfind(b"</item", 0, CHUNK_BYTES), seen.rfind(b"/>", 0, CHUNK_BYTES), 0)
        found = describe_open_markup(seen[start:], offset + start)
        if found is not None and offset + len(seen) - found[0] >= CHUNK_BYTES:
            at, what = found
            held = offset + len(seen) - at
            return XmlSecurityError(
                f"{message}: {what} starting at byte {at:,} is still not closed {held:,} bytes later",
                where=f"byte {at:,}",
            )
        return XmlSecurityError(f"{message} (an item this large is refused)", where=f"byte {offset:,}")

    def _enter_parent(self, item: Any, max_depth: int) -> Any:
        """A new container of items: check the depth once and drop finished containers."""
        parent = item.getparent()
        depth = 0
        node = item
        while node is not None:
            depth += 1
            node = node.getparent()
        if depth > max_depth:
            raise XmlSecurityError(
                f"{self._what} nests elements deeper than {max_depth} levels", where=element_path(item)
            )
        if parent is not None:
            while parent.getprevious() is not None:  # earlier <table> elements are finished
                grand = parent.getparent()
                if grand is None:
                    break
                del grand[0]
        return parent

    def _general_row(self, item: Any, max_depth: int, max_text: int) -> Row:
        for element in item.iter():
            if not isinstance(element.tag, str):
                continue
            if not len(element):  # a leaf: the deepest point of its branch
                depth = sum(1 for _ in element.iterancestors()) + 1
                if depth > max_depth:
                    raise XmlSecurityError(
                        f"{self._what} nests elements deeper than {max_depth} levels",
                        where=element_path(element),
                    )
            for text in (element.text, element.tail):
                if text is not None and len(text.encode("utf-8", "surrogatepass")) > max_text:
                    raise XmlSecurityError(
                        f"{self._what} has a text node larger than {max_text} bytes",
                        where=element_path(element),
                    )
        return row_from_item(item, what=self._what)


def _inline_row(columns: Any, verified: dict[str, str], text_limit: int | None) -> Row:
    """The columns of the common shapes, <column columnName="..">text</column> and
    <column columnName=".." isNull="true"/>, up to the first of another shape (nested markup,
    other attributes, a name not yet verified that is too long, a text over ``text_limit``
    characters): the caller reads a row shorter than its columns with the general reader.
    ``verified`` holds the interned names already seen (bounded: hostile names cannot grow it)."""
    row: Row = {}
    for column in columns:
        values = column.values()
        if len(values) == 1 and not len(column):
            name = verified.get(values[0])
            if name is None:
                if column.keys() != _COLUMN_KEYS or len(values[0]) > MAX_NAME_CHARS:
                    break
                if len(verified) > _VERIFIED_MAX:
                    verified.clear()
                name = verified[values[0]] = sys.intern(values[0])
            text = column.text
            if text_limit is not None and text is not None and len(text) > text_limit:
                break
            row[name] = text or ""
        elif len(values) == 2 and values[1] == "true" and column.keys() == _NULL_KEYS:
            row[values[0]] = None
        else:
            break
    return row
