"""The streaming extractor must give exactly what an XML parser gives, however the body is cut."""

from __future__ import annotations

from concurrent.futures import Executor

import pytest
from lxml import etree

from erpbridge.erp.soap import SoapContract, check_stripped_envelope
from erpbridge.erp.unescape import InnerDocumentExtractor, shared_executor, unescape_text
from erpbridge.errors import ErpResponseError

NS = "urn:microsoft-dynamics-schemas/codeunit/DWWebService"
CONTRACT = SoapContract(
    namespace=NS,
    method="Process",
    parameter="request",
    result_parameter="request",
    soap_action=f"{NS}:Process",
)


def body(content: bytes) -> bytes:
    return (
        b'<?xml version="1.0" encoding="utf-8"?>'
        b'<Soap:Envelope xmlns:Soap="http://schemas.xmlsoap.org/soap/envelope/"><Soap:Body>'
        b'<Process_Result xmlns="' + NS.encode() + b'"><request>' + content + b"</request></Process_Result>"
        b"</Soap:Body></Soap:Envelope>"
    )


def extract(
    data: bytes, cuts: list[int], executor: Executor | None = None
) -> tuple[bytes, InnerDocumentExtractor]:
    out: list[bytes] = []
    extractor = InnerDocumentExtractor(
        out.append,
        result_element="Process_Result",
        parameter="request",
        check_envelope=lambda envelope: check_stripped_envelope(CONTRACT, envelope),
        executor=executor,
    )
    start = 0
    for cut in [*cuts, len(data)]:
        extractor.feed(data[start:cut])
        start = cut
    result = extractor.close()
    joined = b"".join(out)
    assert result.bytes_written == len(joined)
    return joined, extractor


def parser_text(data: bytes) -> bytes:
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False))
    text = root.find(f".//{{{NS}}}request").text or ""
    return text.encode("utf-8")


ESCAPED_CASES = {
    "predefined entities and multibyte text": (
        '&lt;tables&gt;&lt;column columnName="Name"&gt;Caf\u00e9 &amp;amp; "Bar" \u2013 '
        "&quot;q&quot; &apos;a&apos; \U0001f600 &amp;lt;not a tag&amp;gt;&lt;/column&gt;&lt;/tables&gt;"
    ).encode(),
    "numeric references, including ones that produce '&' and '<'": (
        b"&#60;a b=&#34;1&#34;&#62;&#x26;amp; &#38;lt; &#xE9;&#233;&#x1F600; &#xA;&#10;&#x9;&#9;&#60;/a&#62;"
    ),
    "line ends: CRLF and CR normalised, character-referenced CR kept": b"a\r\nb\rc&#xD;d&#13;\r\ne&#xd;\r",
    "CDATA sections between escaped text": (
        b"&lt;t&gt;<![CDATA[<tables>&amp; ]] ]]]]><![CDATA[>]]>&lt;/t&gt;<![CDATA[\r\nx]]>&amp;"
    ),
    "only CDATA": b'<![CDATA[<tables ExportIsDone="false"><x>&lt;</x></tables>]]>',
    "empty text": b"",
    "long entity-dense text": b"&lt;&gt;&amp;&quot;&apos;" * 40 + b"x&#x20AC;&#8364;" * 10,
}


@pytest.mark.parametrize("content", ESCAPED_CASES.values(), ids=ESCAPED_CASES.keys())
def test_every_chunk_boundary_gives_the_parsers_text(content: bytes) -> None:
    data = body(content)
    expected = parser_text(data)
    for cut in range(len(data) + 1):
        output, _ = extract(data, [cut])
        assert output == expected, f"cut at byte {cut}"


@pytest.mark.parametrize("content", ESCAPED_CASES.values(), ids=ESCAPED_CASES.keys())
def test_byte_by_byte_and_three_way_cuts_give_the_parsers_text(content: bytes) -> None:
    data = body(content)
    expected = parser_text(data)
    assert extract(data, list(range(1, len(data))))[0] == expected
    step = max(1, len(data) // 40)
    for first in range(0, len(data), step):
        for second in range(first, len(data), step):
            assert extract(data, [first, second])[0] == expected


def test_self_closing_parameter_is_an_empty_document() -> None:
    data = body(b"").replace(b"<request></request>", b"<request/>")
    output, extractor = extract(data, [])
    assert output == b""
    assert extractor.export_is_done is None


def test_utf16_declaration_is_rewritten_and_export_is_done_read_at_every_cut() -> None:
    inner = (
        b'&lt;?xml version="1.0" encoding="utf-16" standalone="yes"?&gt;&#xD;\n'
        b'&lt;tables ExportIsDone="false" version="1.0"&gt;&lt;x/&gt;&lt;/tables&gt;'
    )
    data = body(inner)
    for cut in range(len(data) + 1):
        output, extractor = extract(data, [cut])
        assert output.startswith(b'<?xml version="1.0" encoding="utf-8" standalone="yes"?>\r\n<tables ')
        assert extractor.export_is_done is False


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        (b'&lt;tables ExportIsDone="True"&gt;', True),
        (b"&lt;tables version='1' ExportIsDone='false'&gt;", False),
        (b'&lt;tables version="1"&gt;', None),
        (b'&lt;!-- note --&gt;&lt;tables ExportIsDone="TRUE"/&gt;', True),
    ],
)
def test_export_is_done_comes_from_the_root_element(root: bytes, expected: bool | None) -> None:
    _, extractor = extract(body(root + b"&lt;/tables&gt;" if not root.endswith(b"/&gt;") else root), [])
    assert extractor.export_is_done is expected


def test_export_is_done_that_is_not_a_boolean_is_refused() -> None:
    with pytest.raises(ErpResponseError, match="ExportIsDone"):
        extract(body(b'&lt;tables ExportIsDone="1"&gt;&lt;/tables&gt;'), [])


def test_text_that_is_not_xml_passes_through_untouched() -> None:
    pdf = b"JVBERi0xLjQK" * 1000
    output, extractor = extract(body(pdf), [5000])
    assert output == pdf
    assert extractor.export_is_done is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"&lt;a&gt;&nbsp;&lt;/a&gt;", "Entity 'nbsp' not defined"),
        (b"a &amp b", "EntityRef"),
        (b"a & b", "EntityRef"),
        (b"&#0;", "invalid xmlChar"),
        (b"&#xD800;", "invalid xmlChar"),
        (b"a \x01 b", "invalid"),
        (b"&lt;a&gt;<b>nested</b>", "markup"),
        (b"x&amp", "EntityRef"),
    ],
)
def test_broken_text_is_refused(content: bytes, message: str) -> None:
    data = body(content)
    for cut in (0, len(data) // 2, len(data) - 30):
        with pytest.raises(ErpResponseError, match=message):
            extract(data, [cut])


def test_invalid_utf8_is_refused() -> None:
    for content in (b"&lt;a&gt;\xff\xfe&lt;/a&gt;", b"<![CDATA[\xff]]>"):
        with pytest.raises(ErpResponseError, match=r"encoding|UTF-8"):
            extract(body(content), [])


def test_truncated_body_is_refused() -> None:
    data = body(b"&lt;tables&gt;" * 100)
    with pytest.raises(ErpResponseError, match="truncated"):
        extract(data[: len(data) - 80], [])


def test_envelope_that_does_not_close_properly_is_refused() -> None:
    data = body(b"&lt;a/&gt;").replace(b"</Soap:Body>", b"")
    with pytest.raises(ErpResponseError, match="envelope"):
        extract(data, [])


def test_dtd_in_the_envelope_is_refused() -> None:
    data = b'<!DOCTYPE x [<!ENTITY e "boom">]>' + body(b"&e;")
    with pytest.raises(ErpResponseError, match="DTD"):
        extract(data, [])


def test_body_without_result_element_is_refused() -> None:
    with pytest.raises(ErpResponseError, match="no result element"):
        extract(b"<html><body>Service Unavailable</body></html>", [])


def test_unescape_text_does_not_unescape_twice() -> None:
    assert unescape_text(b"&amp;lt; &amp;amp; &#38;gt; &#38;#38;") == b"&lt; &amp; &gt; &#38;"


def test_large_documents_on_worker_threads_come_out_whole_and_in_order() -> None:
    piece = (
        '&lt;item table=&quot;EcomProducts&quot;&gt;&lt;column columnName="Name"&gt;Caf\u00e9 \U0001f600 '
        "&amp;amp; &#xD;\r\n&#233;&lt;/column&gt;<![CDATA[<raw> & \u2013]]>&lt;/item&gt;\r\n"
    ).encode()
    data = body(piece * 30_000)  # ~4 MB: several segments in flight at once
    expected = parser_text(data)
    for size in (1 << 20, 65_537, 300_001):
        output, _ = extract(data, list(range(size, len(data), size)), executor=shared_executor())
        assert output == expected, f"chunks of {size} bytes"


def test_an_error_on_a_worker_thread_reaches_the_caller() -> None:
    data = body(b"&lt;ok/&gt;" * 20_000 + b"&bogus;" + b"&lt;ok/&gt;" * 20_000)
    with pytest.raises(ErpResponseError, match="bogus"):
        extract(data, list(range(70_000, len(data), 70_000)), executor=shared_executor())
