"""Hardened parsing: hostile documents are refused with a typed error that says what and where."""

from __future__ import annotations

import codecs

import pytest
from lxml import etree

from erpbridge.errors import ConfigurationError, MalformedXmlError, XmlError, XmlSecurityError
from erpbridge.protocol.xmlsafe import XmlLimits, parse_xml, safe_parser

from .conftest import RecordingServer

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<tables><table tableName="T"><item table="T"><column columnName="C">&lol9;</column></item></table></tables>"""


def test_a_plain_tables_document_parses() -> None:
    root = parse_xml(b'<tables><table tableName="T"><item table="T"/></table></tables>')
    assert root.tag == "tables"
    assert root[0][0].get("table") == "T"


def test_billion_laughs_is_refused_before_any_expansion() -> None:
    with pytest.raises(XmlSecurityError, match="DOCTYPE") as caught:
        parse_xml(BILLION_LAUGHS, what="product response")
    assert "product response" in str(caught.value)
    assert caught.value.where == "line 2"


def test_the_parser_options_alone_do_not_expand_entities() -> None:
    # Defence in depth: even without the DOCTYPE check the parser leaves entities unexpanded.
    try:  # libxml2 either stops at its amplification limit or leaves the reference unexpanded
        serialized = etree.tostring(etree.fromstring(BILLION_LAUGHS, safe_parser()))
    except etree.XMLSyntaxError as error:
        serialized = str(error).encode()
    assert len(serialized) < 300


def test_external_file_entity_is_refused_and_the_file_is_not_read(tmp_path: object) -> None:
    secret = tmp_path / "secret.txt"  # type: ignore[operator]
    secret.write_text("TOP-SECRET-CONTENT")
    document = (
        f'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file://{secret}">]>\n<x>&e;</x>'
    ).encode()
    with pytest.raises(XmlSecurityError, match="DOCTYPE") as caught:
        parse_xml(document)
    assert "TOP-SECRET" not in str(caught.value)
    root = etree.fromstring(document, safe_parser())  # the bare parser does not read it either
    assert "TOP-SECRET" not in etree.tostring(root).decode()


def test_external_url_entity_and_dtd_cause_no_network_access(recording_server: RecordingServer) -> None:
    entity = (f'<!DOCTYPE x [<!ENTITY e SYSTEM "{recording_server.url}/entity">]><x>&e;</x>').encode()
    external_dtd = f'<!DOCTYPE x SYSTEM "{recording_server.url}/x.dtd"><x>&leaked;</x>'.encode()
    parameter_entity = (
        f'<!DOCTYPE x [<!ENTITY % p SYSTEM "{recording_server.url}/p.dtd"> %p;]><x>&leaked;</x>'
    ).encode()
    for document in (entity, external_dtd, parameter_entity):
        with pytest.raises(XmlSecurityError):
            parse_xml(document)
        try:  # the bare parser neither fetches nor expands
            bare = etree.tostring(etree.fromstring(document, safe_parser())).decode()
        except etree.XMLSyntaxError as error:
            bare = str(error)
        assert "LEAKED" not in bare
    assert recording_server.hits == []


def test_doctype_after_comments_and_processing_instructions_is_found() -> None:
    document = b'<?xml version="1.0"?>\n<!-- hello -->\n<?pi x?>\n<!DOCTYPE x [<!ENTITY a "b">]><x/>'
    with pytest.raises(XmlSecurityError) as caught:
        parse_xml(document)
    assert caught.value.where == "line 4"


def test_doctype_text_inside_cdata_is_just_data() -> None:
    root = parse_xml(b"<x><c><![CDATA[<!DOCTYPE html><html/>]]></c></x>")
    assert root[0].text == "<!DOCTYPE html><html/>"


def test_deep_nesting_is_refused_with_the_element_path() -> None:
    document = b"<tables>" + b"<a>" * 80 + b"</a>" * 80 + b"</tables>"
    with pytest.raises(XmlSecurityError, match="deeper than 64") as caught:
        parse_xml(document)
    assert caught.value.where is not None
    assert caught.value.where == "line 1, /tables/a/a/a/…58 more levels…/a/a/a"


def test_nesting_beyond_libxml2s_own_limit_is_a_security_error_too() -> None:
    document = b"<a>" * 400 + b"</a>" * 400
    with pytest.raises(XmlSecurityError) as caught:
        parse_xml(document, limits=XmlLimits(max_depth=1000))
    assert caught.value.where is not None and "column" in caught.value.where


def test_oversized_text_is_refused_naming_the_column() -> None:
    document = (
        '<tables><table tableName="T"><item table="T">'
        f'<column columnName="Description">{"x" * 5000}</column></item></table></tables>'
    ).encode()
    with pytest.raises(XmlSecurityError, match="text node larger than 4096") as caught:
        parse_xml(document, limits=XmlLimits(max_text_bytes=4096))
    assert caught.value.where == "line 1, /tables/table/item/column[@columnName='Description']"


def test_with_default_limits_libxml2_refuses_a_text_node_over_10_mb() -> None:
    document = b"<x><c><![CDATA[" + b"x" * 6_000_000 + b"]]><![CDATA[" + b"y" * 6_000_000 + b"]]></c></x>"
    with pytest.raises(XmlSecurityError, match="safety limit") as caught:
        parse_xml(document)
    assert caught.value.where is not None and caught.value.where.startswith("line 1, column")


def test_multibyte_text_is_measured_in_bytes() -> None:
    document = f"<x>{'ø' * 1500}</x>".encode()  # 1500 characters, 3000 bytes
    with pytest.raises(XmlSecurityError):
        parse_xml(document, limits=XmlLimits(max_text_bytes=2000))
    assert parse_xml(document, limits=XmlLimits(max_text_bytes=3000)).text == "ø" * 1500


def test_documents_over_the_size_limit_are_refused_before_parsing() -> None:
    with pytest.raises(XmlSecurityError, match="more than the limit of 100"):
        parse_xml(b"<x>" + b"y" * 200 + b"</x>", limits=XmlLimits(max_bytes=100))


def test_truncated_xml_is_malformed_with_line_and_column() -> None:
    document = b'<tables>\n<table tableName="T">\n<item table="T"><column columnName="A">1</col'
    with pytest.raises(MalformedXmlError, match="not well-formed") as caught:
        parse_xml(document, what="batch page")
    assert caught.value.where is not None and caught.value.where.startswith("line 3, column")
    assert "batch page" in str(caught.value)


def test_invalid_utf8_is_malformed_with_its_position() -> None:
    document = b'<tables>\n<item table="T"><column columnName="A">caf\xe9</column></item></tables>'
    with pytest.raises(MalformedXmlError, match="UTF-8") as caught:
        parse_xml(document)
    assert caught.value.where is not None and caught.value.where.startswith("line 2, column")


def test_empty_document_is_malformed() -> None:
    with pytest.raises(MalformedXmlError, match="empty"):
        parse_xml(b"  \n")


def test_undefined_entity_is_malformed() -> None:
    with pytest.raises(MalformedXmlError, match="Entity 'foo' not defined"):
        parse_xml(b"<x>&foo;</x>")


def test_a_utf16_declaration_on_utf8_bytes_is_read_as_utf8() -> None:
    document = '<?xml version="1.0" encoding="utf-16"?><tables version="1"><x>Æblegrød €</x></tables>'
    root = parse_xml(document.encode("utf-8"))
    assert root[0].text == "Æblegrød €"
    assert root.get("version") == "1"


def test_real_utf16_bytes_with_a_bom_are_read() -> None:
    document = '<?xml version="1.0" encoding="utf-16"?><x>Æblegrød</x>'
    root = parse_xml(codecs.BOM_UTF16_LE + document.encode("utf-16-le"))
    assert root.text == "Æblegrød"


def test_a_str_with_an_encoding_declaration_is_accepted() -> None:
    for declared in ("utf-16", "UTF-8", "windows-1252"):
        root = parse_xml(f'<?xml version="1.0" encoding="{declared}"?><x>Æ</x>')
        assert root.text == "Æ"


def test_limits_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="max_depth"):
        XmlLimits(max_depth=0)


def test_every_failure_is_an_xml_error() -> None:
    for bad in (b"<x>", BILLION_LAUGHS, b"\xff\xfe\x00"):
        with pytest.raises(XmlError):
            parse_xml(bad)


def test_parsing_from_many_threads_at_once_gives_each_its_own_answer() -> None:
    from concurrent.futures import ThreadPoolExecutor

    def parse(n: int) -> tuple[int, str]:
        depth = 10 + n % 5
        document = (f"<r n='{n}'>" + "<a>" * depth + "x" + "</a>" * depth + "</r>").encode()
        try:
            parse_xml(document, limits=XmlLimits(max_depth=12))
        except XmlSecurityError:
            return n, "too deep"
        return n, "ok"

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = dict(pool.map(parse, range(400)))
    assert results == {n: ("ok" if 10 + n % 5 + 1 <= 12 else "too deep") for n in range(400)}
