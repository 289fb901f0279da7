"""The plain-shape reader gives exactly the hardened parser's rows, or declines.

read_plain_tables is only a faster way to the same answer: whenever it returns a document it must
equal what the hardened lxml path (parse_xml + tables_from_root) reads from the same text, and
whenever lxml would refuse the text (or read it differently) it must return None.
"""

from __future__ import annotations

import random

import pytest

from erpbridge.errors import ProtocolError, XmlError
from erpbridge.protocol import plain_tables
from erpbridge.protocol.plain_tables import read_plain_tables
from erpbridge.protocol.response_parsers import parse_product_info
from erpbridge.protocol.tables import TablesDocument, parse_tables, row_from_item, table_of, tables_from_root
from erpbridge.protocol.xmlsafe import XmlLimits, parse_xml

PLAIN = """<?xml version="1.0" encoding="utf-16"?>
<tables version="1.2">
  <table tableName="EcomProducts">
    <item table="EcomProducts">
      <column columnName="ProductId"><![CDATA[P-1 <a> & "b">]]></column>
      <column columnName="ProductVariantId"></column>
      <column columnName="ProductPrice">424.45</column>
      <column columnName="Note">tab\there > there
next line</column>
      <column columnName="Empty"/>
    </item>
    <item>
      <column columnName="ProductId">P2</column>
    </item>
    <item table=""><column columnName="ProductId">P3</column></item>
    <item table="Other"/>
  </table>
  <table tableName="EcomPrices"/>
  <table tableName="EcomPrices">
    <item table="EcomPrices">
      <column columnName="PriceAmount"><![CDATA[]]></column>
      <column columnName="Unicode">Grüße 💶</column>
    </item>
  </table>
</tables>
"""


def read_by_lxml(xml: str) -> TablesDocument | Exception:
    """The documented general reading: every ``item`` through table_of and row_from_item (not the
    fast ``.text`` loop of tables_from_root, which is itself checked against this below)."""
    try:
        root = parse_xml(xml)
        return TablesDocument(
            root_tag=str(root.tag),
            attributes=dict(root.items()),
            items=[(table_of(item), row_from_item(item)) for item in root.iter("item")],
        )
    except (XmlError, ProtocolError) as error:
        return error


def read_by_tree_walk(xml: str) -> TablesDocument | Exception:
    try:
        return tables_from_root(parse_xml(xml), what="document")  # row_from_item's default wording
    except (XmlError, ProtocolError) as error:
        return error


def same_reading(left: TablesDocument | Exception, right: TablesDocument | Exception) -> bool:
    if isinstance(left, Exception) or isinstance(right, Exception):
        return type(left) is type(right) and str(left) == str(right)
    return left == right


class PlainReaderSpy:
    """Wraps plain_tables.read_plain_tables (parse_tables calls it through that module) and
    records each call's input and result."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, TablesDocument | None]] = []
        real = plain_tables.read_plain_tables

        def spy(xml: str, **kwargs: object) -> TablesDocument | None:
            result = real(xml, **kwargs)  # type: ignore[arg-type]
            self.calls.append((xml, result))
            return result

        monkeypatch.setattr(plain_tables, "read_plain_tables", spy)

    def results_for(self, xml: str) -> list[TablesDocument | None]:
        return [result for text, result in self.calls if text == xml]


def test_a_plain_document_is_read_exactly_as_lxml_reads_it() -> None:
    document = read_plain_tables(PLAIN)

    assert document is not None
    assert document == read_by_lxml(PLAIN)
    assert document.attributes == {"version": "1.2"}
    rows = document.items
    assert [table for table, _ in rows] == ["EcomProducts", "EcomProducts", "", "Other", "EcomPrices"]
    assert rows[0][1]["ProductId"] == 'P-1 <a> & "b">'
    assert rows[0][1]["Note"] == "tab\there > there\nnext line"
    assert rows[0][1]["Empty"] == ""


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (("424.45", "424&#46;45"), "character reference"),
        (("424.45", "&amp;"), "entity reference"),
        (('columnName="Empty"/>', 'columnName="Empty" isNull="true"/>'), "isNull"),
        (("<item>", "<!-- c --><item>"), "comment"),
        (("<item>", "<?pi x?><item>"), "processing instruction"),
        (("<tables version", '<!DOCTYPE tables [<!ENTITY e "x">]>\n<tables version'), "DOCTYPE"),
        (('<tables version="1.2">', '<tables xmlns="urn:x">'), "default namespace"),
        (('<tables version="1.2">', '<tables a="1" a="2">'), "duplicate attribute"),
        (("next line", "next\r\nline"), "carriage return in a value"),
        (("424.45", "42]4"), "bracket in a value"),
        (("424.45", "4\x01"), "forbidden character"),
        (('<item table="Other"/>', "<item table='Other'/>"), "single-quoted attribute"),
        (
            (
                '<column columnName="ProductId">P2',
                '<column columnName="ProductId">P2</column><column columnName="ProductId">P2',
            ),
            "duplicate column",
        ),
        (("</tables>", ""), "truncated"),
        (('<column columnName="Empty"/>', "<column/>"), "column without a name"),
        (("<tables", "<root"), "another root"),
        (('<item table="Other"/>', '<item table="Other" extra="1"/>'), "another attribute"),
    ],
)
def test_anything_outside_the_plain_shape_is_declined(change: tuple[str, str], why: str) -> None:
    xml = PLAIN.replace(*change, 1)
    assert xml != PLAIN, why

    assert read_plain_tables(xml) is None, why


def test_limits_the_length_cannot_vouch_for_are_left_to_lxml() -> None:
    assert read_plain_tables(PLAIN, limits=XmlLimits(max_bytes=len(PLAIN))) is None
    assert read_plain_tables(PLAIN, limits=XmlLimits(max_text_bytes=100)) is None
    assert read_plain_tables(PLAIN, limits=XmlLimits(max_depth=3)) is None
    assert read_plain_tables(PLAIN, limits=XmlLimits(max_bytes=4 * len(PLAIN))) is not None


_INTERESTING = [
    *"<>&\"'/=]![?- \t\r\nx\x00\ufffe",
    "<![CDATA[",
    "]]>",
    "<item>",
    "</item>",
    "&amp;",
    "isNull",
]


def mutations(xml: str, count: int, seed: int) -> list[str]:
    chance = random.Random(seed)
    out = []
    for _ in range(count):
        text = xml
        for _ in range(chance.randint(1, 3)):
            at = chance.randrange(len(text))
            action = chance.random()
            if action < 0.4:
                text = text[:at] + chance.choice(_INTERESTING) + text[at:]
            elif action < 0.7:
                text = text[:at] + text[at + chance.randint(1, 12) :]
            else:
                end = min(len(text), at + chance.randint(1, 40))
                text = text[:at] + text[at:end] + text[at:]  # a repeated stretch
        out.append(text)
    return out


def test_mutated_documents_are_read_as_lxml_reads_them_or_declined() -> None:
    accepted = declined = 0
    for xml in mutations(PLAIN, 4000, seed=20261127):
        document = read_plain_tables(xml)
        if document is None:
            declined += 1
            continue
        accepted += 1
        assert document == read_by_lxml(xml), xml
    # Both outcomes occur, so the comparison above really ran on accepted mutants.
    assert accepted > 150 and declined > 1000, (accepted, declined)


def test_the_emulators_product_answer_takes_the_plain_path(
    emulator: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from erpbridge.erp.client import SoapErpClient
    from erpbridge.erp.ports import RequestKind
    from erpbridge.protocol.request_builders import ProductQuery, build_product_info_request
    from erpbridge.settings import load_settings

    settings = load_settings({**emulator.settings_env(), "ERPBRIDGE_DATABASE_URL": "sqlite://"})  # type: ignore[attr-defined]
    queries = [ProductQuery(product_id=f"P{n:06d}") for n in range(1, 21)]
    answer = SoapErpClient(settings).call(
        build_product_info_request(queries, customer_number="10000", anonymous_user_key="Anonymous"),
        kind=RequestKind.PRODUCT_INFO,
    )

    document = read_plain_tables(answer)
    assert document is not None and document == read_by_lxml(answer)
    assert set(document.table_names) == {"EcomProducts", "EcomPrices"}
    spy = PlainReaderSpy(monkeypatch)
    infos = parse_product_info(answer, anonymous_user_key="Anonymous")
    assert [result is not None for result in spy.results_for(answer)] == [True]  # the plain path read it
    assert infos == parse_product_info(
        answer.encode(), anonymous_user_key="Anonymous"
    )  # bytes go through lxml: the same infos
    assert len(spy.calls) == 1  # bytes never reach the plain reader
    assert len(infos) == 20


def test_parse_tables_reads_plain_text_without_a_tree_and_everything_else_with_lxml(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = PlainReaderSpy(monkeypatch)
    reference = read_by_lxml(PLAIN)
    assert isinstance(reference, TablesDocument)

    assert parse_tables(PLAIN) == reference
    plain_results = spy.results_for(PLAIN)
    assert len(plain_results) == 1 and plain_results[0] == reference  # read by the plain reader

    assert parse_tables(PLAIN.encode()) == reference
    assert len(spy.calls) == 1  # bytes go straight to lxml

    with_comment = PLAIN.replace("<item>", "<!-- c --><item>", 1)
    assert parse_tables(with_comment) == read_by_lxml(with_comment)
    assert spy.results_for(with_comment) == [None]  # declined, so lxml read it
    assert len(spy.calls) == 2


@pytest.mark.parametrize(
    "change",
    [
        None,
        ('columnName="Empty"/>', 'columnName="Empty" isNull="true"/>'),
        ('columnName="Empty"/>', 'columnName="Empty" isNull=" TRUE "/>'),
        ('columnName="Empty"/>', 'columnName="Empty" isNull="false">x</column>'),
        ('columnName="Empty"/>', 'columnName="Empty"><b>in</b> <i>ner</i></column>'),
        ("<item>", "<!-- c --><item>"),
        ("424.45", "424<!-- c -->.45"),
        ("424.45", "424<?pi x?>.45"),
        ('<column columnName="Empty"/>', "<column/>"),
        ('<column columnName="Empty"/>', '<column columnName="Note"/>'),
        ('<item table="Other"/>', '<item table="Other"><column columnName="A">1</column></item>'),
        ('<tables version="1.2">', '<tables version="1.2"><item><column columnName="Top">t</column></item>'),
    ],
)
def test_the_tree_walk_reads_as_the_general_reader(change: tuple[str, str] | None) -> None:
    # tables_from_root's fast .text loop against table_of + row_from_item on every item.
    xml = PLAIN if change is None else PLAIN.replace(*change, 1)
    assert change is None or xml != PLAIN

    fast, general = read_by_tree_walk(xml), read_by_lxml(xml)
    assert same_reading(fast, general), (fast, general)


def test_the_tree_walk_reads_mutated_documents_as_the_general_reader() -> None:
    documents = errors = 0
    for xml in mutations(PLAIN, 1500, seed=20261128):
        fast, general = read_by_tree_walk(xml), read_by_lxml(xml)
        assert same_reading(fast, general), (xml, fast, general)
        if isinstance(general, TablesDocument):
            documents += 1
        elif isinstance(general, ProtocolError):
            errors += 1
    # Both readings produced documents and row-level errors, so the comparison really ran on both.
    assert documents > 100 and errors > 5, (documents, errors)
