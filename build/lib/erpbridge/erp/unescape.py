"""Stream the inner document out of a BC SOAP response without building it in memory.

The plug-in unit answers with its response document as *escaped text* inside the SOAP envelope
(``<Process_Result><request>&lt;tables&gt;…</request></Process_Result>``), possibly hundreds of MB.
A SAX parser hands that text over one entity at a time (~17 MB/s here); instead we cut the body
into large segments at safe points (never inside an entity reference, a UTF-8 character, a CRLF or
a CDATA delimiter: those wait for the next chunk) and unescape each segment as a whole in C. The
segment unescaper is libxml2 itself, on ``<t>segment</t>``: it is as fast as a ``bytes.replace``
chain over the five entities, checks what the chain cannot (undefined entities, forbidden
characters, invalid UTF-8) and releases the GIL, so segments are unescaped on worker threads while
the next chunk downloads. At most a few segments are in flight: memory stays flat.

Only markup the envelope may legally contain inside the parameter element is accepted: escaped
text, the five predefined entities, numeric character references and CDATA sections. Anything else
(a nested element, an unknown entity, a DTD in the envelope) is refused with a typed error. The
envelope around the text (everything but the text) is checked with the hardened parser at the end.

The output is UTF-8 bytes: line ends are normalised as an XML parser would (CRLF/CR → LF; ``&#xD;``
stays CR), a leading declaration's ``encoding`` (BC writes ``utf-16``) is rewritten to ``utf-8``,
and the root element's ``ExportIsDone`` attribute is read on the way.
"""

from __future__ import annotations

import codecs
import os
import re
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Final

from lxml import etree

from erpbridge.erp.ports import StreamedResponse
from erpbridge.errors import ErpResponseError, XmlError
from erpbridge.protocol.xmlsafe import safe_parser

_CDATA_OPEN: Final = b"<![CDATA["
_CDATA_CLOSE: Final = b"]]>"
# The longest legal reference is "&#x10FFFF;" (10 bytes); leading zeros make longer ones legal
# but nobody writes them, so an '&' without ';' within this many bytes is a broken document.
_MAX_ENTITY_BYTES: Final = 32
_MAX_PREFIX_BYTES: Final = 1 << 20
_MAX_SUFFIX_BYTES: Final = 1 << 16
_MAX_HEAD_BYTES: Final = 1 << 16

# Segments at least this large go to a worker thread; at most this many wait in order.
_PARALLEL_MIN_BYTES: Final = 64 * 1024
_SEGMENT_BYTES: Final = 1 << 20
_IN_FLIGHT: Final = 3
_SECURITY_MARKUP = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)

_DECLARATION = re.compile(rb"\A(?:\xef\xbb\xbf)?(\s*<\?xml\s[^>]*?\?>)")
_ENCODING_PSEUDO_ATTRIBUTE = re.compile(rb"""encoding\s*=\s*(["'])[^"']*\1""")
# Declaration, comments and processing instructions, then the root's start tag. Each part can
# match in one way only (a comment ends at its first "-->"), so hostile input cannot make the
# regex backtrack its way into quadratic time.
_ROOT_START_TAG = re.compile(
    rb"""\A(?:\xef\xbb\xbf)?\s*(?:<\?xml\s[^?]*(?:\?(?!>)[^?]*)*\?>)?"""
    rb"""(?:\s*<!--[^-]*(?:-(?!->)[^-]*)*-->|\s*<\?[^?]*(?:\?(?!>)[^?]*)*\?>)*\s*"""
    rb"""<([A-Za-z_][^\s/>]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*/?>""",
)
_EXPORT_IS_DONE = re.compile(rb"""(?:^|\s)ExportIsDone\s*=\s*(["'])(.*?)\1""", re.DOTALL)

_local = threading.local()
_executor_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def shared_executor() -> ThreadPoolExecutor:
    """The process-wide worker pool for segment unescaping (created on first use)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            workers = max(2, min(4, os.cpu_count() or 2))
            _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="erp-unescape")
        return _executor


def unescape_text(data: bytes) -> bytes:
    """Unescape one complete piece of XML element text (no '<', nothing split at its ends).

    Raises :class:`ErpResponseError` for an undefined or broken entity reference, a reference to a
    forbidden character, a raw forbidden character or invalid UTF-8.
    """
    if not data:
        return data
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = safe_parser()  # lxml parsers are not thread-safe: one per thread
    try:
        root = etree.fromstring(b"<t>" + data + b"</t>", parser)
    except etree.XMLSyntaxError as error:
        message = str(error.msg or error).rsplit(", line ", 1)[0]
        raise ErpResponseError(f"response text is not valid escaped XML text: {message}") from None
    if len(root):  # pragma: no cover - callers cut segments before every '<'
        raise ErpResponseError("response text holds markup")
    text: str = root.text or ""
    return text.encode("utf-8")


def _incomplete_utf8_tail(data: bytes) -> int:
    """How many bytes at the end of ``data`` are the start of a UTF-8 character cut in two."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return 0
        if byte >= 0xC0:  # lead byte: how long its character should be
            length = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return back if back < length else 0
    return 0


def rewrite_declared_encoding(head: bytes) -> bytes:
    """Make a leading XML declaration say utf-8 (the bytes we write are UTF-8, whatever BC declared)."""
    match = _DECLARATION.match(head)
    if match is None or b"encoding" not in match.group(1):
        return head
    declaration = _ENCODING_PSEUDO_ATTRIBUTE.sub(b'encoding="utf-8"', match.group(1), count=1)
    return head[: match.start(1)] + declaration + head[match.end(1) :]


def rewrite_declared_encoding_text(text: str) -> str:
    """:func:`rewrite_declared_encoding` for a document already in memory as text."""
    if not text.lstrip("\ufeff \t\r\n").startswith("<?xml"):
        return text
    head, rest = text[:512], text[512:]
    return rewrite_declared_encoding(head.encode("utf-8")).decode("utf-8") + rest


def _parse_export_is_done(attributes: bytes) -> bool | None:
    match = _EXPORT_IS_DONE.search(attributes)
    if match is None:
        return None
    value = match.group(2).strip().lower()
    if value == b"true":
        return True
    if value == b"false":
        return False
    raise ErpResponseError(
        f"response root has ExportIsDone={match.group(2).decode('utf-8', 'replace')!r}, not a boolean"
    )


class InnerDocumentExtractor:
    """Feed the SOAP response body in chunks; the unescaped inner document goes to ``write``.

    ``result_element`` / ``parameter`` are local names (``Process_Result`` / ``request``).
    ``check_envelope`` gets the envelope with the text cut out (a few hundred bytes) and must raise
    if it is not the expected SOAP shape; the client passes the hardened parser's check.
    """

    _PREFIX, _TEXT, _CDATA, _SUFFIX = range(4)

    def __init__(
        self,
        write: Callable[[bytes], object],
        *,
        result_element: str,
        parameter: str,
        check_envelope: Callable[[bytes], None] | None = None,
        executor: Executor | None = None,
    ) -> None:
        self._write = write
        self._executor = executor
        self._in_flight: deque[Future[bytes] | bytes] = deque()
        self._check_envelope = check_envelope
        name = rb"(?:[A-Za-z_][\w.-]*:)?"
        self._result_start = re.compile(
            rb"<" + name + re.escape(result_element.encode()) + rb"(?=[\s/>])[^>]*>"
        )
        self._parameter_start = re.compile(
            rb"<" + name + re.escape(parameter.encode()) + rb"(?=[\s/>])[^>]*?(/?)>"
        )
        self._state = self._PREFIX
        self._prefix = b""
        self._suffix = b""
        self._pending = b""
        self._head: bytes | None = b""  # None once the head has been examined and written
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self.bytes_written = 0
        self.export_is_done: bool | None = None

    @property
    def unmatched_body(self) -> bytes | None:
        """The body so far when no result element was found in it (e.g. a SOAP fault), else None."""
        return self._prefix if self._state == self._PREFIX else None

    # -- input -----------------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        if len(chunk) > _SEGMENT_BYTES:  # keep segments small: bounded memory, libxml2's text limit
            for start in range(0, len(chunk), _SEGMENT_BYTES):
                self._feed_one(chunk[start : start + _SEGMENT_BYTES])
        elif chunk:
            self._feed_one(chunk)

    def _feed_one(self, chunk: bytes) -> None:
        if self._state == self._PREFIX:
            self._feed_prefix(chunk)
        elif self._state == self._SUFFIX:
            self._add_suffix(chunk)
        else:
            self._feed_content(self._pending + chunk if self._pending else chunk)

    def close(self) -> StreamedResponse:
        """The body is complete: check the envelope, flush, and report what was written."""
        if self._state == self._PREFIX:
            raise ErpResponseError(
                "SOAP response has no result element (expected <Process_Result><request>…); "
                f"first bytes: {self._prefix[:200].decode('utf-8', 'replace')!r}"
            )
        if self._state != self._SUFFIX:
            raise ErpResponseError("SOAP response ended inside the result text (truncated response)")
        self._drain(keep=0)
        if self._check_envelope is not None:
            try:
                self._check_envelope(self._prefix + self._suffix)
            except XmlError as error:
                raise ErpResponseError(f"SOAP envelope is not valid: {error}") from error
        self._flush_head()
        try:
            self._utf8.decode(b"", final=True)
        except UnicodeDecodeError as error:
            raise ErpResponseError("response text ends in the middle of a UTF-8 character") from error
        return StreamedResponse(bytes_written=self.bytes_written, export_is_done=self.export_is_done)

    # -- states ----------------------------------------------------------------------------------

    def _feed_prefix(self, chunk: bytes) -> None:
        buffer = self._prefix + chunk
        if _SECURITY_MARKUP.search(buffer):
            raise ErpResponseError("SOAP response contains a DTD or entity declaration; refused")
        result = self._result_start.search(buffer)
        parameter = self._parameter_start.search(buffer, result.end()) if result else None
        if parameter is None:
            if len(buffer) > _MAX_PREFIX_BYTES:
                raise ErpResponseError(
                    f"SOAP response has no result element in its first {_MAX_PREFIX_BYTES} bytes"
                )
            self._prefix = buffer
            return
        self._prefix = buffer[: parameter.end()]
        rest = buffer[parameter.end() :]
        if parameter.group(1):  # <request/>: an empty document
            self._state = self._SUFFIX
            self._add_suffix(rest)
        else:
            self._state = self._TEXT
            self._feed_content(rest)

    def _add_suffix(self, chunk: bytes) -> None:
        self._suffix += chunk
        if len(self._suffix) > _MAX_SUFFIX_BYTES:
            raise ErpResponseError("SOAP response has unexpected content after the result element")

    def _feed_content(self, buffer: bytes) -> None:
        self._pending = b""
        while buffer:
            if self._state == self._CDATA:
                end = buffer.find(_CDATA_CLOSE)
                if end == -1:
                    # Hold back what may be the start of "]]>" or a CR whose LF is still to come.
                    if buffer.endswith(b"]]"):
                        keep = 2
                    elif buffer.endswith((b"]", b"\r")):
                        keep = 1
                    else:
                        keep = 0
                    self._emit_raw(buffer[: len(buffer) - keep])
                    self._pending = buffer[len(buffer) - keep :]
                    return
                self._emit_raw(buffer[:end])
                buffer = buffer[end + len(_CDATA_CLOSE) :]
                self._state = self._TEXT
                continue
            markup = buffer.find(b"<")
            if markup == -1:
                self._emit_text_with_holdback(buffer)
                return
            if markup:
                self._unescape(buffer[:markup])
            tail = buffer[markup:]
            if tail.startswith(_CDATA_OPEN):
                self._state = self._CDATA
                buffer = tail[len(_CDATA_OPEN) :]
            elif tail.startswith(b"</"):
                self._state = self._SUFFIX
                self._add_suffix(tail)
                return
            elif len(tail) < len(_CDATA_OPEN) and (_CDATA_OPEN.startswith(tail) or tail == b"<"):
                self._pending = tail
                return
            else:
                raise ErpResponseError(
                    "SOAP result holds markup where escaped text was expected: "
                    f"{tail[:40].decode('utf-8', 'replace')!r}"
                )

    def _emit_text_with_holdback(self, buffer: bytes) -> None:
        cut = len(buffer)
        ampersand = buffer.rfind(b"&", max(0, cut - _MAX_ENTITY_BYTES))
        if ampersand != -1 and buffer.find(b";", ampersand) == -1:
            cut = ampersand
        cut -= _incomplete_utf8_tail(buffer[max(0, cut - 4) : cut])
        if cut and buffer[cut - 1] == 0x0D:  # '\r': a following '\n' may be in the next chunk
            cut -= 1
        if cut:
            self._unescape(buffer[:cut] if cut < len(buffer) else buffer)
        self._pending = buffer[cut:]
        if len(self._pending) > _MAX_ENTITY_BYTES:
            raise ErpResponseError("response text has an unterminated entity reference")

    def _emit_raw(self, data: bytes) -> None:
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if self._in_flight:
            self._in_flight.append(data)  # keep the order of the segments still being unescaped
        else:
            self._emit(data)

    def _unescape(self, segment: bytes) -> None:
        if self._executor is not None and len(segment) >= _PARALLEL_MIN_BYTES:
            self._in_flight.append(self._executor.submit(unescape_text, segment))
            self._drain(keep=_IN_FLIGHT)
        elif self._in_flight:
            self._in_flight.append(unescape_text(segment))
            self._drain(keep=_IN_FLIGHT)
        else:
            self._emit(unescape_text(segment))

    def _drain(self, *, keep: int) -> None:
        """Write out finished segments, in order, until at most ``keep`` are in flight."""
        try:
            while len(self._in_flight) > keep:
                item = self._in_flight.popleft()
                self._emit(item if isinstance(item, bytes) else item.result())
        except BaseException:
            for item in self._in_flight:
                if not isinstance(item, bytes):
                    item.cancel()
            self._in_flight.clear()
            raise

    # -- output ----------------------------------------------------------------------------------

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        if self._head is not None:
            self._head += data
            if self._head_complete(self._head, data):
                self._flush_head()
            return
        self._deliver(data)

    def _head_complete(self, head: bytes, added: bytes) -> bool:
        """Whether the head holds the root's start tag (or will never: not XML, too long)."""
        if len(head) >= _MAX_HEAD_BYTES:
            return True
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped and not stripped.startswith(b"<"):
            return True  # not an XML document (e.g. base64 PDF text): nothing to look at
        # A start tag ends with '>': only new data with one can complete it.
        return b">" in added and _ROOT_START_TAG.match(head) is not None

    def _flush_head(self) -> None:
        head = self._head
        if head is None:
            return
        self._head = None
        head = rewrite_declared_encoding(head)
        root = _ROOT_START_TAG.match(head)
        if root is not None:
            self.export_is_done = _parse_export_is_done(root.group(2))
        self._deliver(head)

    def _deliver(self, data: bytes) -> None:
        try:
            self._utf8.decode(data)
        except UnicodeDecodeError as error:
            raise ErpResponseError(
                f"response text is not valid UTF-8 near byte {self.bytes_written}"
            ) from error
        self._write(data)
        self.bytes_written += len(data)
