"""The readers' memory limits, in process: what a stream may hold without completing an item, a
whole document's element count, attribute-heavy elements, and the messages that say so."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from erpbridge.errors import MalformedXmlError, XmlSecurityError
from erpbridge.mapping.problems import RowError
from erpbridge.protocol.streaming import StreamingTableReader
from erpbridge.protocol.tables import build_tables, parse_tables
from erpbridge.protocol.xmlsafe import XmlLimits, describe_open_markup, parse_xml

MiB = 1024 * 1024
HEAD = b'<tables><table tableName="T">' + b"".join(
    b'<item><column columnName="A">%d</column></item>' % n for n in range(100)
)


class Generated(io.RawIOBase):
    """A stream of ``parts``, where an int is that many bytes of ``filler``: gigabytes for free,
    and it records how far it was read."""

    def __init__(self, *parts: bytes | int, filler: bytes = b"a") -> None:
        self._parts: Iterator[bytes | int] = iter(parts)
        self._filler = filler
        self._left = 0
        self._pending = b""
        self.served = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = 64 * 1024 if size is None or size < 0 else size
        while not self._pending and not self._left:
            part = next(self._parts, None)
            if part is None:
                return b""
            if isinstance(part, int):
                self._left = part
            else:
                self._pending = part
        if self._pending:
            chunk, self._pending = self._pending[:size], self._pending[size:]
        else:
            count = min(size, self._left)
            self._left -= count
            chunk = (self._filler * (count // len(self._filler) + 1))[:count]
        self.served += len(chunk)
        return chunk


def _read_all(stream: Generated, **kwargs: object) -> int:
    return sum(1 for _ in StreamingTableReader(stream, **kwargs).rows())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("opening", "what"),
    [
        (b'<item><column columnName="A" note="', "the value of attribute note of <column>"),
        (b'<item><column columnName="', "the value of attribute columnName of <column>"),
        (b"<!--", "a comment"),
        (b"<item><column columnName='A'><![CDATA[", "a CDATA section"),
        (b"<?pi ", "a processing instruction"),
        (b"<item><", "an element name (aaaa"),
        (b"<item><column ", "an attribute name in <column>"),
    ],
)
def test_an_unterminated_value_comment_or_name_is_refused_before_the_parser_buffers_it(
    opening: bytes, what: str
) -> None:
    stream = Generated(HEAD, opening, 1024 * MiB)  # a gigabyte that never closes
    with pytest.raises(
        XmlSecurityError, match="holds more than 16,777,216 bytes without completing"
    ) as caught:
        _read_all(stream, what="page")
    assert what in str(caught.value) and "still not closed" in str(caught.value)
    where = caught.value.where or ""
    assert len(HEAD) <= int(where.removeprefix("byte ").replace(",", "")) < len(HEAD) + len(opening)
    assert stream.served <= 16 * MiB + 128 * 1024  # read no further than the limit (and the head)


def test_a_markup_heavy_item_is_refused_by_its_element_count() -> None:
    stream = Generated(HEAD, b'<item><column columnName="A">', 20 * MiB, filler=b"<b/>")
    with pytest.raises(XmlSecurityError, match="more than 100,000 elements and attributes"):
        _read_all(stream)
    assert stream.served < MiB


def test_an_element_with_many_attributes_is_refused_by_the_same_count() -> None:
    attributes = b"".join(b' a%d="1"' % n for n in range(150_000))
    stream = Generated(HEAD, b'<item><column columnName="A"', attributes, b"/></item></table></tables>")
    with pytest.raises(XmlSecurityError, match="elements and attributes"):
        _read_all(stream)


def test_items_up_to_the_limits_are_read_and_the_limits_can_be_set() -> None:
    big = {"A": "x" * (6 * MiB), "B": "y" * (6 * MiB), "C": "z"}  # 12 MiB in one item
    document = build_tables({"T": [big, {"A": "next"}]})
    rows = list(StreamingTableReader(io.BytesIO(document)).rows())
    assert [row for _, row in rows] == [big, {"A": "next"}]
    with pytest.raises(XmlSecurityError, match="more than 1,000,000 bytes"):
        _read_all(Generated(document), limits=XmlLimits(max_item_bytes=1_000_000))
    many = build_tables({"T": [{f"C{n}": "1" for n in range(3_000)}]})  # one item over two chunks
    assert _read_all(Generated(many)) == 1
    with pytest.raises(XmlSecurityError, match="more than 1,000 elements"):
        _read_all(Generated(many), limits=XmlLimits(max_elements=1_000))


def test_a_whole_document_with_too_many_elements_is_refused_before_a_tree_is_built() -> None:
    document = b"<tables>" + b"<item/>" * 300_000 + b"</tables>"
    with pytest.raises(
        XmlSecurityError, match="some 300,001 elements and attributes, more than the limit of 200,000"
    ):
        parse_xml(document, limits=XmlLimits(max_elements=200_000))
    assert len(parse_xml(document)) == 300_000  # within the default


def test_a_root_with_too_many_attributes_is_refused() -> None:
    root = b"<tables" + b"".join(b' a%d="1"' % n for n in range(500)) + b"><table/></tables>"
    with pytest.raises(XmlSecurityError, match="<tables> has 500 attributes, more than 100"):
        parse_tables(root)
    with pytest.raises(XmlSecurityError, match="<tables> has 500 attributes, more than 100"):
        _read_all(Generated(root))


def test_a_table_or_column_name_longer_than_any_database_takes_is_refused() -> None:
    long = "N" * 300
    for document in (build_tables({"T": [{long: "1"}]}), build_tables({long: [{"A": "1"}]})):
        with pytest.raises(XmlSecurityError, match="name of 300 characters, more than 255"):
            _read_all(Generated(document))


def test_parser_limits_are_explained_without_libxml2s_advice() -> None:
    deep = b"<tables>" + b"<a>" * 300 + b"</a>" * 300 + b"</tables>"
    with pytest.raises(XmlSecurityError, match="nest deeper than the parser's limit of 256 levels") as caught:
        parse_xml(deep, limits=XmlLimits(max_depth=1000))
    assert "XML_PARSE_HUGE" not in str(caught.value)
    with pytest.raises(XmlSecurityError, match="a text is longer than the parser's limit") as caught:
        _read_all(Generated(b"<tables><table><item><column columnName='A'>", 11 * MiB))
    assert "XML_PARSE_HUGE" not in str(caught.value)


def test_a_stream_that_ends_early_is_called_truncated() -> None:
    document = build_tables({"T": [{"A": "1"}, {"A": "2"}]})
    with pytest.raises(MalformedXmlError, match=r"it ends before the document does \(truncated\?\)"):
        _read_all(Generated(document[:-20]))


def test_describe_open_markup_names_what_is_left_open() -> None:
    assert describe_open_markup(b'<a x=">">t</a><b c="1" d="v', 10) == (24, "the value of attribute d of <b>")
    assert describe_open_markup(b"<a>t</a><!-- > -- ", 0) == (8, "a comment")
    assert describe_open_markup(b"<a>t</a>text", 0) is None


def test_a_row_error_shows_the_start_of_a_long_value_and_its_length() -> None:
    error = RowError("T", 7, "Name", "v" * 5_000_000, "longer than 255 characters")
    assert (
        str(error)
        == f"T row 7 column Name value '{'v' * 120}… (5,000,000 characters)': longer than 255 characters"
    )
