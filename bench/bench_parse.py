"""Benchmark: reading the emulator's 50-item product-info answer, six ways, beside the lxml baseline.

The answer (~80 KB, a ``tables`` document in the plug-in unit's plain shape) is fetched once from
the BC emulator, started in this process, with the request the price path sends (products
P000001..P000050, customer "10000") through ``SoapErpClient``. Then, in interleaved rounds (each
reader once per round, so machine noise hits all alike), the median time of:

a. ``read_plain_tables(text)`` — the regular-expression reader the live path tries first;
b. ``tables_from_root(parse_xml(text))`` — the hardened lxml path, the **baseline**;
c. ``parse_xml(text)`` alone — what libxml2 plus the hardening costs before any row is built;
d. ``xml.etree.ElementTree.fromstring`` and a loop building the same rows;
e. ``pyexpat`` with start/character-data/end handlers building the same rows;
f. ``parse_product_info(text)`` — the whole parse the price path does (reader + typed infos).

Each is printed with its ratio to (b); (a), (d) and (e) are checked to give the rows (b) gives.
Then hostile near-misses of ~3 MB that ``read_plain_tables`` must decline (return None, so the
caller falls back on lxml) are timed, ms per input, beside ``read_plain_tables`` on a valid
document of similar size: its possessive patterns must fail in one linear pass, never backtrack.

Run: ``.venv/bin/python bench/bench_parse.py`` (or ``make bench``). Prints figures; exits 0.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.parsers import expat

ROOT = Path(__file__).resolve().parents[1]
for path in ("layers/common", "emulator"):
    sys.path.insert(0, str(ROOT / path))

from bc_emulator.server import Emulator, EmulatorConfig  # noqa: E402
from erpbridge.erp.client import SoapErpClient  # noqa: E402
from erpbridge.erp.ports import RequestKind  # noqa: E402
from erpbridge.protocol.plain_tables import read_plain_tables  # noqa: E402
from erpbridge.protocol.request_builders import ProductQuery, build_product_info_request  # noqa: E402
from erpbridge.protocol.response_parsers import parse_product_info  # noqa: E402
from erpbridge.protocol.tables import Row, tables_from_root  # noqa: E402
from erpbridge.protocol.xmlsafe import parse_xml  # noqa: E402
from erpbridge.settings import load_settings  # noqa: E402

ITEMS = 50
ROUNDS = 400
HOSTILE_RUNS = 15
HOSTILE_SIZE = 3_000_000

Items = list[tuple[str, Row]]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f} ms"


def fetch_answer() -> str:
    emulator = Emulator(EmulatorConfig(auth="key", latency_ms=0)).start()
    try:
        settings = load_settings({**emulator.settings_env(), "ERPBRIDGE_DATABASE_URL": "sqlite://"})
        queries = [ProductQuery(product_id=p, number=p) for p in (f"P{n:06d}" for n in range(1, ITEMS + 1))]
        request_xml = build_product_info_request(
            queries, customer_number="10000", anonymous_user_key="Anonymous"
        )
        return str(SoapErpClient(settings).call(request_xml, kind=RequestKind.PRODUCT_INFO))
    finally:
        emulator.stop()


def etree_rows(text: str) -> Items:
    """The standard library's tree builder, then the rows as ``tables_from_root`` reads them from a
    plain answer (tables below the root, items below them, one text per column)."""
    root = ElementTree.fromstring(text)  # noqa: S314 — the emulator's answer, for comparison only
    items: Items = []
    for table in root.iter("table"):
        table_name = table.get("tableName") or ""
        for item in table.iter("item"):
            row: Row = {}
            for column in item:
                row[column.get("columnName") or ""] = column.text or ""
            items.append((item.get("table", table_name), row))
    return items


def expat_rows(text: str) -> Items:
    """pyexpat with three handlers collecting the same rows, no tree at all."""
    items: Items = []
    state: dict[str, Any] = {"table": "", "row": {}, "column": None}
    pieces: list[str] = []

    def start(name: str, attributes: dict[str, str]) -> None:
        if name == "column":
            state["column"] = attributes["columnName"]
            pieces.clear()
        elif name == "item":
            state["row"] = row = {}
            items.append((attributes.get("table", state["table"]), row))
        elif name == "table":
            state["table"] = attributes.get("tableName", "")

    def characters(data: str) -> None:
        if state["column"] is not None:
            pieces.append(data)

    def end(name: str) -> None:
        if name == "column":
            state["row"][state["column"]] = "".join(pieces)
            state["column"] = None

    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.CharacterDataHandler = characters
    parser.EndElementHandler = end
    parser.Parse(text, True)
    return items


def lxml_rows(text: str) -> Items:
    return tables_from_root(parse_xml(text)).items


def plain_rows(text: str) -> Items:
    document = read_plain_tables(text)
    assert document is not None, "the emulator's answer is not in the plain shape"
    return document.items


def interleaved(candidates: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for function in candidates.values():  # warm
        function()
    gc.collect()
    for _ in range(rounds):
        for name, function in candidates.items():
            started = time.perf_counter()
            function()
            samples[name].append(time.perf_counter() - started)
    return samples


def bench_readers(text: str) -> None:
    expected = lxml_rows(text)
    for reader in (plain_rows, etree_rows, expat_rows):
        assert reader(text) == expected, f"{reader.__name__} reads other rows than lxml"
    infos = parse_product_info(text, anonymous_user_key="Anonymous")
    assert len(infos) == ITEMS, len(infos)

    baseline = "(b) tables_from_root(parse_xml(text))  [baseline]"
    samples = interleaved(
        {
            "(a) read_plain_tables(text)": lambda: read_plain_tables(text),
            baseline: lambda: tables_from_root(parse_xml(text)),
            "(c) parse_xml(text) alone (libxml2)": lambda: parse_xml(text),
            "(d) ElementTree.fromstring + rows": lambda: etree_rows(text),
            "(e) pyexpat handlers + rows": lambda: expat_rows(text),
            "(f) parse_product_info(text), whole": lambda: parse_product_info(
                text, anonymous_user_key="Anonymous"
            ),
        },
        ROUNDS,
    )
    rows = len(expected)
    print(
        f"== {ITEMS}-item product-info answer: {len(text):,} characters, {rows} rows"
        f" ({ROUNDS} interleaved rounds, median)"
    )
    base = statistics.median(samples[baseline])
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"  {name:50s} {ms(median)}   {median / base:5.2f}x baseline")


def hostile_inputs(answer: str) -> tuple[str, dict[str, str]]:
    """(a valid plain document of ~HOSTILE_SIZE characters, {name: near-miss of about that size})."""
    head, _, rest = answer.partition("<tables>")
    body, _, _ = rest.rpartition("</tables>")
    valid = f"{head}<tables>{body * (HOSTILE_SIZE // len(body) + 1)}</tables>\n"
    item = '<tables>\n<table tableName="EcomProducts">\n<item table="EcomProducts">\n'
    column = '<column columnName="x">'
    opening = '<column columnName="x"><![CDATA['
    return valid, {
        "unterminated attribute": f'{item}<column columnName="{"a" * HOSTILE_SIZE}',
        "unterminated CDATA": f"{item}{opening}{'a' * HOSTILE_SIZE}",
        "100,000 unfinished CDATA column openings": item + opening * 100_000,
        "whitespace bomb (3 MB of blanks, no end)": item + " \n\t" * (HOSTILE_SIZE // 3),
        "3 MB text followed by '<'": f"{item}{column}{'a' * HOSTILE_SIZE}<",
    }


def bench_hostile(answer: str) -> None:
    valid, hostile = hostile_inputs(answer)
    assert read_plain_tables(valid) is not None, "the valid document was declined"
    for name, text in hostile.items():
        assert read_plain_tables(text) is None, f"{name}: not declined"
    candidates: dict[str, Callable[[], Any]] = {
        f"valid document, {len(valid):,} characters  [baseline]": lambda: read_plain_tables(valid)
    }
    for name, text in hostile.items():
        candidates[f"{name}, {len(text):,} characters"] = lambda text=text: read_plain_tables(text)
    samples = interleaved(candidates, HOSTILE_RUNS)
    print(f"== read_plain_tables on ~3 MB inputs ({HOSTILE_RUNS} interleaved rounds, median per input)")
    base = statistics.median(next(iter(samples.values())))
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"  {name:62s} {ms(median)}   {median / base:5.2f}x the valid document")
    print("  (every near-miss declined: None, the caller then parses with lxml)")


def main() -> int:
    answer = fetch_answer()
    bench_readers(answer)
    bench_hostile(answer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
