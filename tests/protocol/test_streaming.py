"""The streaming reader: same rows as the whole-document reader, on any binary stream, hardened."""

from __future__ import annotations

import codecs
import io
import random

import boto3
import pytest
from moto import mock_aws

from erpbridge.errors import MalformedXmlError, ProtocolError, XmlSecurityError
from erpbridge.protocol.streaming import StreamingTableReader
from erpbridge.protocol.tables import build_tables, iter_tables_xml, parse_tables
from erpbridge.protocol.xmlsafe import XmlLimits

from .test_xmlsafe import BILLION_LAUGHS

DOCUMENT = b"""<?xml version="1.0" encoding="utf-8"?>
<tables version="3" ExportIsDone="false">
  <table tableName="EcomProducts">
    <item table="EcomProducts">
      <column columnName="ProductId"><![CDATA[1001]]></column>
      <column columnName="ProductName">Bike &amp; &lt;Helmet&gt;</column>
      <column columnName="ProductText"><![CDATA[one, ]]><![CDATA[two]]></column>
      <column columnName="ProductNumber" isNull="true"/>
      <column columnName="ProductShort"/>
      <column columnName="ProductBlank">   </column>
    </item>
    <item table="EcomProducts">
      <!-- a comment inside an item -->
      <column columnName="ProductId">1002</column>
      <column isNull="true" columnName="ProductNumber"><![CDATA[ignored]]></column>
    </item>
  </table>
  <table tableName="EcomGroups">
    <item><column columnName="GroupId">G1</column>
      <column columnName="Nested"><a>x<b>y</b></a></column></item>
  </table>
</tables>"""


def _read(
    data: bytes, **kwargs: object
) -> tuple[StreamingTableReader, list[tuple[str, dict[str, str | None]]]]:
    reader = StreamingTableReader(io.BytesIO(data), **kwargs)  # type: ignore[arg-type]
    return reader, list(reader.rows())


def test_rows_have_table_names_cdata_escapes_nulls_and_missing_columns() -> None:
    reader, rows = _read(DOCUMENT)
    assert rows == [
        (
            "EcomProducts",
            {
                "ProductId": "1001",
                "ProductName": "Bike & <Helmet>",
                "ProductText": "one, two",
                "ProductNumber": None,
                "ProductShort": "",
                "ProductBlank": "   ",
            },
        ),
        ("EcomProducts", {"ProductId": "1002", "ProductNumber": None}),
        ("EcomGroups", {"GroupId": "G1", "Nested": "xy"}),
    ]
    assert reader.rows_read == 3


def test_root_attributes_are_known_at_the_first_row() -> None:
    reader = StreamingTableReader(io.BytesIO(DOCUMENT))
    rows = reader.rows()
    next(rows)
    assert reader.root_attributes == {"version": "3", "ExportIsDone": "false"}
    assert reader.export_is_done is False
    assert reader.root_tag == "tables"


def test_a_document_without_items_still_gives_its_root_attributes() -> None:
    reader, rows = _read(b'<tables ExportIsDone="true"><table tableName="X"/></tables>')
    assert rows == []
    assert reader.root_attributes == {"ExportIsDone": "true"}
    assert reader.export_is_done is True


def test_same_rows_as_the_whole_document_reader_on_a_varied_document() -> None:
    rng = random.Random(7)
    alphabet = "abc &<>]]>\"'æøå€\t \n"
    tables = {
        name: [
            {
                f"C{c}": (
                    None
                    if rng.random() < 0.2
                    else "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
                )
                for c in range(rng.randint(1, 8))
            }
            for _ in range(60)
        ]
        for name in ("A", "B", "C")
    }
    for cdata in (False, True):
        data = build_tables(tables, cdata=cdata)
        _, rows = _read(data)
        assert rows == parse_tables(data).items
        assert len(rows) == 180


def test_a_stream_that_returns_tiny_chunks_works() -> None:
    class Trickle:
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def read(self, size: int = -1) -> bytes:
            return self._data.read(min(size, 7) if size and size > 0 else 7)

    reader = StreamingTableReader(Trickle(DOCUMENT))  # type: ignore[arg-type]
    assert len(list(reader.rows())) == 3
    assert reader.bytes_read == len(DOCUMENT)


@mock_aws
def test_reads_an_s3_streaming_body() -> None:
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket="staging", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    rows = [("EcomProducts", {"ProductId": f"P{n}", "ProductName": f"Name {n}"}) for n in range(2000)]
    s3.put_object(Bucket="staging", Key="page-1.xml", Body=b"".join(iter_tables_xml(rows, cdata=True)))
    body = s3.get_object(Bucket="staging", Key="page-1.xml")["Body"]
    read = list(StreamingTableReader(body).rows())
    assert read == rows


def test_rows_can_be_read_once() -> None:
    reader, _ = _read(DOCUMENT)
    with pytest.raises(ProtocolError, match="only once"):
        list(reader.rows())


def test_a_column_twice_and_a_column_without_name_are_refused() -> None:
    twice = (
        b'<tables><item table="T"><column columnName="A">1</column>'
        b'<column columnName="A">2</column></item></tables>'
    )
    with pytest.raises(ProtocolError, match="'A' appears twice"):
        _read(twice)
    nameless = b'<tables><item table="T"><column name="A">1</column></item></tables>'
    with pytest.raises(ProtocolError, match="no columnName"):
        _read(nameless)


def test_a_utf16_declaration_on_utf8_bytes_and_real_utf16_are_read() -> None:
    text = (
        '<?xml version="1.0" encoding="utf-16"?>'
        '<tables><item table="T"><column columnName="A">Æblegrød</column></item></tables>'
    )
    assert _read(text.encode("utf-8"))[1] == [("T", {"A": "Æblegrød"})]
    assert _read(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))[1] == [("T", {"A": "Æblegrød"})]


def test_billion_laughs_and_external_entities_are_refused() -> None:
    with pytest.raises(XmlSecurityError, match="DOCTYPE"):
        _read(BILLION_LAUGHS)
    with pytest.raises(XmlSecurityError, match="DOCTYPE"):
        _read(b'<!DOCTYPE t [<!ENTITY e SYSTEM "file:///etc/passwd">]><tables><item>&e;</item></tables>')


def test_deep_nesting_is_refused_with_its_path() -> None:
    deep_items = b"<tables>" + b"<t>" * 70 + b'<item table="T"/>' + b"</t>" * 70 + b"</tables>"
    with pytest.raises(XmlSecurityError, match="deeper than 64") as caught:
        _read(deep_items)
    assert caught.value.where is not None and "/tables/t/t/" in caught.value.where
    deep_column = (
        b'<tables><item table="T"><column columnName="A">'
        + b"<x>" * 70
        + b"</x>" * 70
        + b"</column></item></tables>"
    )
    with pytest.raises(XmlSecurityError, match="deeper than 64"):
        _read(deep_column)


def test_oversized_text_and_total_size_are_refused() -> None:
    big = b'<tables><item table="T"><column columnName="Desc">' + b"x" * 5000 + b"</column></item></tables>"
    with pytest.raises(XmlSecurityError, match="larger than 1024 bytes") as caught:
        _read(big, limits=XmlLimits(max_text_bytes=1024))
    assert caught.value.where is not None and "column[@columnName='Desc']" in caught.value.where
    rows = [("T", {"A": "x" * 100}) for _ in range(2000)]
    with pytest.raises(XmlSecurityError, match="larger than the limit of 100000 bytes"):
        list(
            StreamingTableReader(
                io.BytesIO(b"".join(iter_tables_xml(rows))), limits=XmlLimits(max_bytes=100_000)
            ).rows()
        )


def test_truncated_and_invalid_utf8_documents_are_malformed_after_the_good_rows() -> None:
    truncated = DOCUMENT[: DOCUMENT.index(b'<table tableName="EcomGroups">') + 60]
    reader = StreamingTableReader(io.BytesIO(truncated))
    rows = reader.rows()
    assert next(rows)[1]["ProductId"] == "1001"
    assert next(rows)[1]["ProductId"] == "1002"
    with pytest.raises(MalformedXmlError) as caught:
        next(rows)
    assert caught.value.where is not None and caught.value.where.startswith("line ")
    invalid = DOCUMENT.replace(b"1002", b"10\xff2")
    with pytest.raises(MalformedXmlError, match="UTF-8"):
        _read(invalid)


def test_an_empty_stream_is_malformed() -> None:
    with pytest.raises(MalformedXmlError, match="empty"):
        _read(b"")


def test_unusual_column_shapes_read_like_the_whole_document_reader() -> None:
    data = b"""<tables><table tableName="T">
      <item><column columnName="A" isNull="True">x</column><column columnName="B" isNull="false">kept</column>
        <column isInformationalOnly="True" columnName="C">info</column>
        <column columnName="D"> </column></item>
      <item><column columnName="A">1</column><column columnName="B">2</column></item>
    </table></tables>"""
    _, rows = _read(data)
    assert rows == parse_tables(data).items
    assert rows[0] == ("T", {"A": None, "B": "kept", "C": "info", "D": " "})
