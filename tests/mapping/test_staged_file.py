"""A staged XML file end to end: StreamingTableReader → mapping engine → shop database."""

from __future__ import annotations

import io

import pytest
from mapping_support import Shop

from erpbridge.batch.staged_file import import_staged_file
from erpbridge.errors import MalformedXmlError
from erpbridge.mapping.jobfile import parse_job
from erpbridge.protocol.tables import build_tables

JOB = parse_job(
    """
id: shop
import:
  batch_rows: 2            # several batches, so rows are merged while the file is still read
  mappings:
    - source: EcomProducts
      destination: EcomProducts
      remove_missing: true
"""
)


def _file(count: int, *, start: int = 0) -> bytes:
    rows = [
        {
            "ProductID": f"P{n}",
            "ProductLanguageID": "LANG1",
            "ProductName": f"Item {n}",
            "ProductPrice": "9.5",
        }
        for n in range(start, start + count)
    ]
    return build_tables({"EcomProducts": rows}, cdata=True)


def _count(shop: Shop) -> int:
    return int(shop.rows('SELECT count(*) FROM "EcomProducts"')[0][0])


def test_a_staged_file_is_imported_in_one_go(shop: Shop) -> None:
    report = import_staged_file(JOB, io.BytesIO(_file(7)), shop.url)
    assert report.ok and report.rows_read == 7
    assert report.tables["EcomProducts"].inserted == 7
    report = import_staged_file(JOB, io.BytesIO(_file(5, start=2)), shop.url)  # P0, P1 missing now
    counts = report.tables["EcomProducts"]
    assert (counts.inserted, counts.unchanged, counts.deleted) == (0, 5, 2)
    assert _count(shop) == 5


def test_a_truncated_file_writes_nothing_even_after_batches_were_merged(shop: Shop) -> None:
    import_staged_file(JOB, io.BytesIO(_file(3)), shop.url)
    data = _file(9, start=100)
    with pytest.raises(MalformedXmlError):
        import_staged_file(JOB, io.BytesIO(data[: len(data) * 2 // 3]), shop.url)
    assert sorted(r[0] for r in shop.rows('SELECT "ProductID" FROM "EcomProducts"')) == ["P0", "P1", "P2"]


def test_a_duplicate_in_a_later_batch_rejects_the_whole_file(shop: Shop) -> None:
    rows = [{"ProductID": f"P{n % 5}", "ProductLanguageID": "LANG1"} for n in range(6)]  # P0 twice
    report = import_staged_file(JOB, io.BytesIO(build_tables({"EcomProducts": rows})), shop.url)
    assert not report.committed
    assert [e.value for e in report.errors] == ["P0, LANG1"]
    assert _count(shop) == 0
