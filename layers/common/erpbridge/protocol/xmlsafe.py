"""Hardened XML parsing: every document from the ERP (or any other outside source) goes through here.

The parser never loads a DTD, never expands an entity, never touches the network and keeps
libxml2's own safety limits (``huge_tree`` off). On top of that, a document declaring a DOCTYPE is
rejected outright (billion laughs, external entities), and our own limits on total size, nesting
depth and the size of one text node apply. Every failure is a typed error whose ``where`` names
the line and column (syntax errors) or the element path (limit breaches).

Business Central codeunits start their response with a declaration saying ``encoding="utf-16"``
although the text reaches us as UTF-8 bytes (batch-integration-anchor §2.1); such a declaration is
rewritten before parsing. A ``str`` is encoded to UTF-8 and its declaration rewritten likewise.
"""

from __future__ import annotations

import codecs
import re
import threading
from dataclasses import dataclass
from typing import Any, BinaryIO, Final

from lxml import etree

from erpbridge.errors import ConfigurationError, MalformedXmlError, XmlSecurityError

MiB: Final = 1024 * 1024

__all__ = [
    "DEFAULT_LIMITS",
    "PARSER_OPTIONS",
    "STREAM_LIMITS",
    "LimitedStream",
    "XmlLimits",
    "attributes_of",
    "check_limits",
    "check_prolog",
    "describe_open_markup",
    "element_path",
    "open_xml_stream",
    "parse_xml",
    "safe_parser",
]


@dataclass(frozen=True)
class XmlLimits:
    """Upper bounds a document must respect. Change them per call (``limits=XmlLimits(...)``).

    ``max_elements`` bounds the tree the parser may build at once: a whole document's elements and
    attributes (comments and processing instructions count too), counted before parsing; in a
    stream, those of one item (with whatever lies between two items). ``max_item_bytes`` applies
    to streams only: the bytes the parser may hold without completing an item, so an unterminated
    attribute value, comment, name or tag is refused before libxml2 has buffered more than that.
    """

    max_bytes: int = 64 * MiB
    max_depth: int = 64
    max_text_bytes: int = 16 * MiB
    max_elements: int = 1_000_000
    max_item_bytes: int = 16 * MiB

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_depth", "max_text_bytes", "max_elements", "max_item_bytes"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"XmlLimits.{name} must be at least 1")


DEFAULT_LIMITS: Final = XmlLimits()
# Batch responses are streamed and can be hundreds of MB; depth and text limits stay as strict.
# One item holds at most 100,000 elements and 16 MiB (a product row has tens of columns).
STREAM_LIMITS: Final = XmlLimits(max_bytes=8 * 1024 * MiB, max_elements=100_000)

# The options every lxml parser in erpbridge uses. libxml2 refuses depth > 256 and text nodes
# > 10 MB by itself while huge_tree is off; our limits are checked on top.
PARSER_OPTIONS: Final[dict[str, bool]] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
}

# How many bytes of the document head we look at for the declaration and the prolog.
PROLOG_WINDOW: Final = 64 * 1024

_DECLARATION = re.compile(rb"^(\xef\xbb\xbf)?(\s*<\?xml\s[^>]*?encoding\s*=\s*)([\"'])([A-Za-z0-9._-]+)\3")
_UTF16_NAMES: Final = frozenset({"utf-16", "utf16", "utf-16le", "utf-16be", "unicode", "ucs-2", "ucs2"})
_POSITION_SUFFIX = re.compile(r",? line \d+, column \d+\s*$")
# libxml2's limits (huge_tree off), in words a user can act on; its own advice ("try
# XML_PARSE_HUGE") is about a parser option nobody outside this module can set.
_LIMIT_MESSAGES: Final = (
    ("Excessive depth", "elements nest deeper than the parser's limit of 256 levels"),
    ("Text node too long", "a text is longer than the parser's limit of 10,000,000 bytes"),
    ("Comment too big", "a comment is longer than the parser's limit of 10,000,000 bytes"),
    ("too big found", "a processing instruction is longer than the parser's limit of 10,000,000 bytes"),
    (
        "Buffer size limit",
        "a value, name or tag is longer than the parser's limit of 10,000,000 bytes",
    ),
    ("Resource limit exceeded", "a parser resource limit is exceeded"),
    ("huge", "a parser size limit is exceeded"),
    ("Huge", "a parser size limit is exceeded"),
    ("too long", "a name or value is too long"),
)
_PARSER_HINT = re.compile(r",?\s*(?:try|use) XML_PARSE_HUGE(?: option)?", re.IGNORECASE)


def safe_parser() -> Any:
    """A fresh lxml ``XMLParser`` with the hardened options (parsers are not thread-safe)."""
    return etree.XMLParser(**PARSER_OPTIONS)


def _rewrite_declared_encoding(head: bytes, *, only_utf16: bool = True) -> bytes:
    """Replace the declared encoding by utf-8: only a UTF-16 name (BC's label on UTF-8 bytes; called
    only when the bytes are not UTF-16), or any name with ``only_utf16=False``. Returns ``head``
    itself when nothing is replaced."""
    match = _DECLARATION.match(head)
    if match is None:
        return head
    if only_utf16 and match.group(4).decode("ascii").lower() not in _UTF16_NAMES:
        return head
    start, end = match.span(4)
    return head[:start] + b"utf-8" + head[end:]


def _utf16_codec(head: bytes) -> str | None:
    """The codec name when the bytes really are UTF-16 (BOM or a NUL-interleaved '<'), else None."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(b"<\x00"):
        return "utf-16-le"
    if head.startswith(b"\x00<"):
        return "utf-16-be"
    return None


def _force_utf8_declaration(text: str) -> bytes:
    """``text`` as UTF-8 bytes whose declaration, whatever encoding it names, says utf-8."""
    return _rewrite_declared_encoding(text.encode("utf-8"), only_utf16=False)


# Complete markup and text, as libxml2's push parser waits for it (used to explain a refusal).
_COMPLETE_TOKEN = re.compile(
    rb"[^<]+|<!--.*?-->|<\?.*?\?>|<!\[CDATA\[.*?\]\]>|<!(?!--)[^<>\[]*>"
    rb"|</?[^\s<>/\"'=!?]+(?:\s+[^\s<>/\"'=]+\s*=\s*(?:\"[^\"<]*\"|'[^'<]*'))*\s*/?>",
    re.DOTALL,
)
_TAG_START = re.compile(rb"<([^\s<>/\"'=!?]*)")
_ATTRIBUTE = re.compile(rb"\s+([^\s<>/\"'=]+)\s*=\s*(?:\"[^\"<]*\"|'[^'<]*')")
_ATTRIBUTE_OPEN = re.compile(rb"\s+([^\s<>/\"'=]*)(\s*=\s*[\"']?)?")


def _shown(name: bytes) -> str:
    text = name.decode("utf-8", "replace")
    return text if len(text) <= 40 else text[:40] + f"… ({len(name):,} bytes)"


def describe_open_markup(data: bytes, offset: int) -> tuple[int, str] | None:
    """Where in ``data`` (which starts at byte ``offset`` of the document) the first markup that
    ``data`` does not close begins, and what it is ("a comment", "the value of attribute x of
    <column>", …); None when everything in ``data`` is complete. Slow (Python), for messages only;
    ``data`` should start at a token boundary."""
    position = data.find(b"<")
    if position < 0:
        return None
    length = len(data)
    while position < length:
        match = _COMPLETE_TOKEN.match(data, position)
        if match is None:
            return offset + position, _kind_of_open_markup(data, position)
        position = match.end()
    return None


def _kind_of_open_markup(data: bytes, position: int) -> str:
    for prefix, kind in (
        (b"<!--", "a comment"),
        (b"<![CDATA[", "a CDATA section"),
        (b"<?", "a processing instruction"),
        (b"<!", "a declaration"),
        (b"</", "an end tag"),
    ):
        if data.startswith(prefix, position):
            return kind
    start = _TAG_START.match(data, position)
    assert start is not None  # data[position] is "<"
    name = start.group(1)
    if start.end() == len(data):
        return f"an element name ({_shown(name)})" if name else "a tag"
    cursor = start.end()
    attributes = 0
    while True:
        attribute = _ATTRIBUTE.match(data, cursor)
        if attribute is None:
            break
        cursor, attributes = attribute.end(), attributes + 1
    tag = f"<{_shown(name)}>"
    if attributes > 1000:
        return f"the start tag {tag} with {attributes:,} attributes"
    opened = _ATTRIBUTE_OPEN.match(data, cursor)
    if opened is not None:
        quote = (opened.group(2) or b"").rstrip()[-1:]
        if quote in (b'"', b"'") and data.find(quote, opened.end()) < 0:
            return f"the value of attribute {_shown(opened.group(1))} of {tag}"
        if opened.end() == len(data):
            return f"an attribute name in {tag}" if opened.group(1) else f"the start tag {tag}"
    return f"the start tag {tag}"


def check_prolog(head: bytes, *, complete: bool, what: str = "document") -> None:
    """Reject a DOCTYPE in the prolog (before the root element) of an ASCII-compatible document.

    ``head`` is the start of the document; ``complete`` says whether it is the whole document.
    A prolog that does not end inside ``head`` is refused unless the document simply ends there
    (the parser then reports the truncation).
    """
    position = 3 if head.startswith(codecs.BOM_UTF8) else 0
    length = len(head)
    while True:
        while position < length and head[position] in b" \t\r\n":
            position += 1
        if position >= length:
            return _prolog_end(head, complete=complete, what=what)
        if head.startswith(b"<?", position):
            close, terminator = head.find(b"?>", position + 2), 2
        elif head.startswith(b"<!--", position):
            close, terminator = head.find(b"-->", position + 4), 3
        elif head[position : position + 9].upper() == b"<!DOCTYPE":
            line = head.count(b"\n", 0, position) + 1
            raise XmlSecurityError(
                f"{what} declares a DOCTYPE; DTDs and entities are refused", where=f"line {line}"
            )
        else:
            return None  # the root element (or junk the parser will report) starts here
        if close < 0:
            return _prolog_end(head, complete=complete, what=what)
        position = close + terminator


def _prolog_end(head: bytes, *, complete: bool, what: str) -> None:
    if complete:
        return None  # the parser reports the missing root element with its position
    raise XmlSecurityError(
        f"{what} has a prolog longer than {PROLOG_WINDOW} bytes before its root element",
        where=f"byte {len(head)}",
    )


MAX_ATTRIBUTES_READ: Final = 100


def attributes_of(element: Any, what: str) -> dict[str, str]:
    """An element's attributes as a dict; more than :data:`MAX_ATTRIBUTES_READ` are refused
    (lxml's ``items()`` takes time quadratic in their number)."""
    keys = element.keys()
    if len(keys) > MAX_ATTRIBUTES_READ:
        raise XmlSecurityError(
            f"{what}: <{element.tag}> has {len(keys):,} attributes, more than {MAX_ATTRIBUTES_READ}",
            where=element_path(element),
        )
    return {str(key): str(element.get(key)) for key in keys}


def element_path(element: Any) -> str:
    """``/tables/table/item/column[@columnName='X']`` with the source line, for error messages."""
    parts: list[str] = []
    node = element
    while node is not None:
        tag = node.tag if isinstance(node.tag, str) else "?"
        name = node.get("columnName") if tag == "column" else None
        parts.append(f"{tag}[@columnName='{name}']" if name is not None else tag)
        node = node.getparent()
    parts.reverse()
    if len(parts) > 10:  # a hostile nesting would make the message as large as the document
        parts = [*parts[:4], f"…{len(parts) - 7} more levels…", *parts[-3:]]
    line = element.sourceline
    path = "/" + "/".join(parts)
    return f"line {line}, {path}" if line else path


def syntax_error(
    error: etree.XMLSyntaxError, what: str, *, at_end: bool = False
) -> MalformedXmlError | XmlSecurityError:
    """Translate lxml's syntax error into our typed error with line:column.

    ``at_end``: the error came when the input ended (a stream's ``close()``), so the document is
    truncated unless the error says otherwise."""
    message = _POSITION_SUFFIX.sub("", str(error.msg or error)).strip()
    line, column = error.position if error.position else (error.lineno, 0)
    # iterparse raises a generic "no element found"; the parser's own log has the real cause.
    # The log may still hold entries of earlier parses in this thread, so the last one wins.
    entries = [e for e in getattr(error, "error_log", None) or () if e.level >= etree.ErrorLevels.ERROR]
    if entries:
        message, line, column = entries[-1].message, entries[-1].line, entries[-1].column
    message = _PARSER_HINT.sub("", message).strip()
    where = f"line {line}, column {column}"
    for marker, meaning in _LIMIT_MESSAGES:
        if marker in message:
            limit = f"{what} breaks a parser safety limit: {meaning} ({message})"
            return XmlSecurityError(limit, where=where)
    if "UTF-8" in message or "Invalid bytes in character encoding" in message:
        return MalformedXmlError(f"{what} is not valid UTF-8 text: {message}", where=where)
    if at_end or "Premature end of data" in message:
        return MalformedXmlError(
            f"{what} is not well-formed XML: it ends before the document does (truncated?): {message}",
            where=where,
        )
    return MalformedXmlError(f"{what} is not well-formed XML: {message}", where=where)


def _normalise(data: bytes | str, limits: XmlLimits, what: str) -> bytes:
    if isinstance(data, str):
        if len(data) > limits.max_bytes:  # a character is at least one byte
            raise XmlSecurityError(f"{what} is larger than {limits.max_bytes} bytes", where="byte 0")
        data = _force_utf8_declaration(data)
    elif not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"parse_xml needs bytes or str, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > limits.max_bytes:
        raise XmlSecurityError(
            f"{what} is {len(data)} bytes, more than the limit of {limits.max_bytes}", where="byte 0"
        )
    utf16 = _utf16_codec(data[:4])
    if utf16 is not None:
        try:
            data = _force_utf8_declaration(data.decode(utf16))
        except UnicodeDecodeError as error:
            raise MalformedXmlError(f"{what} is not valid UTF-16 text", where=f"byte {error.start}") from None
    else:
        data = _rewrite_declared_encoding(data)  # copies the document only when it rewrites
    if not data.strip():
        raise MalformedXmlError(f"{what} is empty", where="byte 0")
    _check_element_count(data, limits, what)
    return data


def _check_element_count(data: bytes, limits: XmlLimits, what: str) -> None:
    """Refuse a document with more than ``max_elements`` elements and attributes before a tree is
    built for it (each costs libxml2 and lxml some 130-220 bytes, 40 times its smallest spelling
    ``<a/>`` or `` a=""``). Counted in C, generously: every ``<`` that opens neither an end tag nor
    a CDATA section, and every ``=``."""
    if len(data) <= 4 * limits.max_elements:
        return  # too short to hold more
    elements = data.count(b"<") - data.count(b"</") - data.count(b"<![CDATA[") + data.count(b"=")
    if elements > limits.max_elements:
        raise XmlSecurityError(
            f"{what} has some {elements:,} elements and attributes, more than the limit of "
            f"{limits.max_elements:,}",
            where="byte 0",
        )


def parse_xml(data: bytes | str, *, limits: XmlLimits = DEFAULT_LIMITS, what: str = "document") -> Any:
    """Parse a whole document with every protection on; returns the root ``lxml.etree._Element``.

    Raises :class:`MalformedXmlError` (truncated, invalid UTF-8, bad syntax) or
    :class:`XmlSecurityError` (DOCTYPE/entities, a limit broken); ``where`` says where.
    """
    payload = _normalise(data, limits, what)
    check_prolog(payload[:PROLOG_WINDOW], complete=len(payload) <= PROLOG_WINDOW, what=what)
    try:
        root = etree.fromstring(payload, safe_parser())
    except etree.XMLSyntaxError as error:
        raise syntax_error(error, what) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # defence in depth behind check_prolog
        raise XmlSecurityError(f"{what} declares a DOCTYPE; DTDs and entities are refused", where="line 1")
    check_limits(root, limits, what)
    return root


# Compiled XPath objects serialise concurrent use behind a lock; each thread gets its own.
_per_thread = threading.local()


def compiled_xpath(expression: str, *, smart_strings: bool = True) -> Any:
    """``etree.XPath(expression)`` compiled once per thread."""
    cache: dict[tuple[str, bool], Any] | None = getattr(_per_thread, "xpaths", None)
    if cache is None:
        cache = _per_thread.xpaths = {}
    compiled = cache.get((expression, smart_strings))
    if compiled is None:
        if len(cache) > 32:
            cache.clear()
        compiled = cache[(expression, smart_strings)] = etree.XPath(expression, smart_strings=smart_strings)
    return compiled


def _deeper_than(depth: int) -> Any:
    """XPath selecting the elements one level below ``depth`` (evaluated in C, no Python per node)."""
    return compiled_xpath("/" + "/".join(["*"] * (depth + 1)))


# libxml2 refuses a text node over this many bytes while huge_tree is off (CDATA is merged into it).
LIBXML2_TEXT_CAP: Final = 10_000_000


def check_limits(root: Any, limits: XmlLimits, what: str) -> None:
    """Enforce ``max_depth`` and ``max_text_bytes`` on a parsed document."""
    too_deep = _deeper_than(limits.max_depth)(root)
    if too_deep:
        raise XmlSecurityError(
            f"{what} nests elements deeper than {limits.max_depth} levels", where=element_path(too_deep[0])
        )
    if limits.max_text_bytes >= LIBXML2_TEXT_CAP:
        return  # the parser already enforced a stricter cap
    # A text with more than max/4 characters may exceed max bytes (UTF-8 is at most 4 per character).
    suspicious = limits.max_text_bytes // 4
    if max(map(len, compiled_xpath("//text()", smart_strings=False)(root)), default=0) <= suspicious:
        return
    for text in compiled_xpath("//text()")(root):
        if len(text) > suspicious and _utf8_len(str(text)) > limits.max_text_bytes:
            raise XmlSecurityError(
                f"{what} has a text node larger than {limits.max_text_bytes} bytes",
                where=element_path(text.getparent()),
            )


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


class LimitedStream:
    """Serves the (possibly rewritten) head, then the rest of the stream, counting every byte."""

    def __init__(self, head: bytes, stream: Any, limits: XmlLimits, what: str) -> None:
        self._buffer = head
        self._stream = stream
        self._limits = limits
        self._what = what
        self.bytes_read = len(head)
        self._check()

    def _check(self) -> None:
        if self.bytes_read > self._limits.max_bytes:
            raise XmlSecurityError(
                f"{self._what} is larger than the limit of {self._limits.max_bytes} bytes",
                where=f"byte {self._limits.max_bytes}",
            )

    def read(self, size: int | None = -1) -> bytes:
        if self._buffer:
            chunk, self._buffer = self._buffer, b""
            if size is not None and 0 <= size < len(chunk):
                chunk, self._buffer = chunk[:size], chunk[size:]
            return chunk
        chunk = _read_from(self._stream, size if size is not None and size > 0 else 64 * 1024)
        self.bytes_read += len(chunk)
        self._check()
        return chunk


class _Utf16Transcoder:
    """Re-encodes a real UTF-16 stream as UTF-8 chunk by chunk (rare; BC sends UTF-8 bytes)."""

    def __init__(self, head: bytes, stream: BinaryIO, codec: str) -> None:
        self._decoder = codecs.getincrementaldecoder(codec)()
        self._stream = stream
        self._pending = head
        self._first = True

    def read(self, size: int = 64 * 1024) -> bytes:
        while True:
            raw = self._pending or _read_from(self._stream, size)
            self._pending = b""
            text = self._decoder.decode(raw, final=not raw)
            if self._first and text:
                self._first = False
                return _force_utf8_declaration(text)
            if text or not raw:
                return text.encode("utf-8")


def _read_from(stream: Any, size: int) -> bytes:
    chunk = stream.read(size)
    if not isinstance(chunk, bytes | bytearray | memoryview):
        raise TypeError("an XML stream must yield bytes (open files in binary mode)")
    return bytes(chunk)


def open_xml_stream(
    stream: BinaryIO, *, limits: XmlLimits = STREAM_LIMITS, what: str = "document"
) -> LimitedStream:
    """Wrap a binary stream for ``iterparse``: declaration fixed, DOCTYPE refused, size counted."""
    head = b""
    while len(head) < PROLOG_WINDOW:
        chunk = _read_from(stream, PROLOG_WINDOW - len(head))
        if not chunk:
            break
        head += chunk
    complete = len(head) < PROLOG_WINDOW
    source: Any = stream
    codec = _utf16_codec(head[:4])
    if codec is not None:
        transcoder = _Utf16Transcoder(head, stream, codec)
        source = transcoder
        head = transcoder.read(PROLOG_WINDOW)
        complete = False
    else:
        head = _rewrite_declared_encoding(head)
    if not head.strip() and complete:
        raise MalformedXmlError(f"{what} is empty", where="byte 0")
    check_prolog(head, complete=complete, what=what)
    return LimitedStream(head, source, limits, what)
