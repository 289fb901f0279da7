"""The tables/table/item/column format: every shape a response can take, and the writer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from lxml import etree

from erpbridge.errors import MalformedXmlError, ProtocolError, XmlSecurityError
from erpbridge.protocol.tables import Column, build_tables, iter_tables_xml, parse_tables
from erpbridge.protocol.xmlsafe import XmlLimits, parse_xml

RESPONSE = b"""<?xml version="1.0" encoding="utf-8"?>
<tables version="2.1" ExportIsDone="false">
  <table tableName="EcomProducts">
    <item table="EcomProducts">
      <column columnName="ProductId"><![CDATA[1001]]></column>
      <column columnName="ProductName">Bike &amp; &lt;Helmet&gt;</column>
      <column columnName="ProductLongDescription"><![CDATA[part one, ]]><![CDATA[part two]]></column>
      <column columnName="ProductNumber" isNull="true"/>
      <column columnName="ProductShortDescription"/>
      <column columnName="ProductManufacturerId" isNull="true"><![CDATA[ignored]]></column>
    </item>
    <item table="EcomProducts">
      <column columnName="ProductId">1002</column>
    </item>
  </table>
  <table tableName="EcomGroups">
    <item><column columnName="GroupId">G1</column></item>
  </table>
</tables>"""


def test_rows_are_read_with_cdata_escapes_nulls_and_missing_columns() -> None:
    document = parse_tables(RESPONSE)
    first, second = document.rows("EcomProducts")
    assert first == {
        "ProductId": "1001",
        "ProductName": "Bike & <Helmet>",
        "ProductLongDescription": "part one, part two",
        "ProductNumber": None,
        "ProductShortDescription": "",
        "ProductManufacturerId": None,
    }
    assert second == {"ProductId": "1002"}
    assert "ProductName" not in second


def test_an_item_without_table_attribute_takes_the_table_name() -> None:
    assert parse_tables(RESPONSE).rows("EcomGroups") == [{"GroupId": "G1"}]


def test_root_attributes_and_paging_marker() -> None:
    document = parse_tables(RESPONSE)
    assert document.attributes == {"version": "2.1", "ExportIsDone": "false"}
    assert document.export_is_done is False
    assert document.table_names == ["EcomProducts", "EcomGroups"]
    assert parse_tables(b"<tables/>").export_is_done is True
    assert parse_tables(b'<tables ExportIsDone="True"/>').export_is_done is True
    with pytest.raises(ProtocolError, match="ExportIsDone"):
        _ = parse_tables(b'<tables ExportIsDone="1"/>').export_is_done


def test_table_names_are_case_sensitive() -> None:
    assert parse_tables(RESPONSE).rows("ecomproducts") == []


def test_a_column_twice_in_one_item_is_refused_with_its_place() -> None:
    document = (
        b'<tables><item table="T"><column columnName="A">1</column>'
        b'<column columnName="A">2</column></item></tables>'
    )
    with pytest.raises(ProtocolError, match="'A' appears twice") as caught:
        parse_tables(document)
    assert "/tables/item/column[@columnName='A']" in str(caught.value)


def test_a_column_without_name_is_refused() -> None:
    with pytest.raises(ProtocolError, match="no columnName"):
        parse_tables(b'<tables><item table="T"><column>1</column></item></tables>')


def test_nested_markup_in_a_column_reads_as_its_text() -> None:
    document = b"""<tables><item table="EcomOrderLines"><column columnName="OrderLineFieldValues">
      <OrderLineFieldValueCollection><OrderLineFieldValue><OrderLineFieldSystemName>Engraving</OrderLineFieldSystemName>
      <Value>ABC</Value></OrderLineFieldValue></OrderLineFieldValueCollection></column></item></tables>"""
    assert parse_tables(document).rows("EcomOrderLines") == [{"OrderLineFieldValues": "EngravingABC"}]


def test_hostile_documents_raise_typed_errors() -> None:
    with pytest.raises(XmlSecurityError):
        parse_tables(b'<!DOCTYPE t [<!ENTITY a "b">]><tables>&a;</tables>')
    with pytest.raises(MalformedXmlError):
        parse_tables(b'<tables><item table="T"><column columnName="A">1')


def test_writer_output_has_the_exact_shape() -> None:
    written = build_tables(
        {
            "EcomOrders": [
                {
                    "OrderId": "O1",
                    "OrderDate": datetime(2024, 1, 2, 3, 4, 5),
                    "OrderPriceTotal": Decimal("10.499"),
                    "CreateOrder": False,
                    "OrderPaymentMethodName": Column("Invoice", informational=True),
                    "MyField": Column(7, custom=True),
                    "OrderComment": None,
                    "OrderReference": "",
                }
            ],
            "EcomOrderLines": [],
        },
        root_attributes={"source": "LiveIntegration", "referenceName": "OrdersPut"},
    )
    assert written.startswith(b'<?xml version="1.0" encoding="utf-8" standalone="yes"?>\n<tables ')
    root = parse_xml(written)
    assert root.tag == "tables"
    assert list(root.attrib.items()) == [("source", "LiveIntegration"), ("referenceName", "OrdersPut")]
    assert [t.get("tableName") for t in root] == ["EcomOrders", "EcomOrderLines"]
    item = root[0][0]
    assert item.tag == "item" and item.get("table") == "EcomOrders"
    columns = [(c.tag, dict(c.attrib), c.text) for c in item]
    assert columns == [
        ("column", {"columnName": "OrderId"}, "O1"),
        ("column", {"columnName": "OrderDate"}, "2024-01-02T03:04:05"),
        ("column", {"columnName": "OrderPriceTotal"}, "10.5"),
        ("column", {"columnName": "CreateOrder"}, "False"),
        ("column", {"columnName": "OrderPaymentMethodName", "isInformationalOnly": "True"}, "Invoice"),
        ("column", {"columnName": "MyField", "isCustomField": "True"}, "7"),
        ("column", {"columnName": "OrderComment", "isNull": "true"}, None),
        ("column", {"columnName": "OrderReference"}, None),
    ]
    assert b"CDATA" not in written  # requests carry escaped text, never CDATA


def test_round_trip_keeps_every_value_in_cdata_and_escaped_mode() -> None:
    awkward = "a & b < c > d ]]> e \"quoted\" 'single' \u00e6\u00f8\u00e5 \u20ac\r\nline"
    rows = {"T": [{"A": awkward, "B": None, "C": "", "D": "  padded  "}]}
    for cdata in (False, True):
        written = build_tables(rows, cdata=cdata)
        assert parse_tables(written).rows("T") == [{"A": awkward, "B": None, "C": "", "D": "  padded  "}]
    assert b"<![CDATA[" in build_tables(rows, cdata=True)


def test_nested_element_values_are_written_as_markup() -> None:
    nested = etree.fromstring(
        b"<OrderLineFieldValueCollection><OrderLineFieldValue/></OrderLineFieldValueCollection>"
    )
    root = parse_xml(build_tables({"T": [{"OrderLineFieldValues": Column(nested)}]}))
    assert root[0][0][0][0].tag == "OrderLineFieldValueCollection"


@pytest.mark.parametrize("value", ["bad\x01char", "nul\x00", "not a char \ufffe", "lone \ud800"])
@pytest.mark.parametrize("cdata", [False, True])
def test_characters_xml_cannot_carry_are_refused_naming_the_column(value: str, cdata: bool) -> None:
    row = {"ProductId": "1", "ProductName": value}
    with pytest.raises(ProtocolError, match=r"EcomProducts\.ProductName"):
        build_tables({"EcomProducts": [row]}, cdata=cdata)
    with pytest.raises(ProtocolError, match=r"EcomProducts\.ProductName"):
        b"".join(iter_tables_xml([("EcomProducts", {"ProductId": "0"}), ("EcomProducts", row)], cdata=cdata))


def test_stream_and_document_writers_write_the_same_bytes() -> None:
    rows = [
        (
            "EcomProducts",
            {"ProductId": "1", "ProductName": "Bike & <Co> ]]> end\r", "Empty": "", "Null": None},
        ),
        ("EcomProducts", {"ProductId": "2", "Price": Decimal("12.50"), "Active": True}),
        ("EcomGroups", {"GroupId": "G1", "Shops": 'S"1'}),
    ]
    tables = {"EcomProducts": [row for _, row in rows[:2]], "EcomGroups": [rows[2][1]]}
    for cdata in (False, True):
        streamed = b"".join(
            iter_tables_xml(rows, root_attributes={"ExportIsDone": "true"}, cdata=cdata, chunk_rows=1)
        )
        whole = build_tables(tables, root_attributes={"ExportIsDone": "true"}, cdata=cdata)
        assert streamed == whole


def test_streaming_writer_groups_consecutive_rows_by_table() -> None:
    rows = [("A", {"x": "1"}), ("A", {"x": "2"}), ("B", {"y": None}), ("A", {"x": "3"})]
    written = b"".join(
        iter_tables_xml(rows, root_attributes={"ExportIsDone": "false"}, cdata=True, chunk_rows=2)
    )
    document = parse_tables(written, limits=XmlLimits())
    assert [t.get("tableName") for t in parse_xml(written)] == ["A", "B", "A"]
    assert document.items == [("A", {"x": "1"}), ("A", {"x": "2"}), ("B", {"y": None}), ("A", {"x": "3"})]
    assert document.export_is_done is False


def test_other_root_elements_are_supported_for_list_responses() -> None:
    written = build_tables(
        {"Invoice": [{"No": "INV-1"}]}, root_tag="Items", root_attributes={"totalCount": "9"}
    )
    document = parse_tables(written)
    assert (document.root_tag, document.attributes, document.items) == (
        "Items",
        {"totalCount": "9"},
        [("Invoice", {"No": "INV-1"})],
    )


def test_root_tag_and_attribute_names_must_be_xml_names() -> None:
    with pytest.raises(ProtocolError, match="attribute name"):
        build_tables({}, root_attributes={"bad name": "x"})
    with pytest.raises(ProtocolError, match="element name"):
        build_tables({}, root_tag="1tables")
