"""Staged export files for the shipped jobs, at any size, without a server.

A file holds what the emulator's ``GetEcomData`` answers for a shipped job's request
(``mappings/fetch-*.yaml``) in one response, written by the same ``tables`` writer the server
streams with. The benchmark (``bench/bench_import.py``) and the growth test
(``tests/mapping/test_import_growth.py``) import them through the shipped jobs.

* ``shop`` — Products (masters and variants with Groups/PrimaryGroup/GroupSorting and
  VariantGroups/VariantOptions, variant-option relations, variant groups and options),
  ProductGroups (Shops, ParentGroups), Currencies, Countries, Units, Languages, Manufacturers,
  RelatedProducts;
* ``shop_gone`` — the same with every 20th item (and its variants) gone: a re-import
  deactivates 5 % of the catalogue;
* ``customers`` — customers and their contacts (AccessUser) with ship-to addresses;
* ``stock`` — stock locations and stock per product, variant and location.

A size is the number of ``EcomProducts`` rows in the shop file ("products in the file": two
languages x masters and variants, about 5.7 rows per BC item); one customer per ten product rows.

    .venv/bin/python -m bc_emulator.exports 20000 /tmp/exports      # prints what it wrote (JSON)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bc_emulator._batch import TableRow, batch_rows
from bc_emulator.dataset import Dataset

SHOP_ID = "SHOP1"
LANGUAGES = 2  # ENU and DAN
GONE_EVERY = 20  # every 20th item is missing from ``shop_gone``: 5 %
SAMPLE_ITEMS = 2000  # items generated to measure product rows per item

# The families each shipped job requests (its fetch.request), in request order.
FAMILIES: dict[str, tuple[str, ...]] = {
    "shop": (
        "Products",
        "ProductGroups",
        "Currencies",
        "Countries",
        "Units",
        "Languages",
        "Manufacturers",
        "RelatedProducts",
    ),
    "customers": ("Customers",),
    "stock": ("Stock",),
}
JOBS = {
    "shop": "fetch-shop-data",
    "shop_gone": "fetch-shop-data",
    "customers": "fetch-customer-data",
    "stock": "fetch-stock-level",
}
FILE_NAMES = {
    "shop": "shop-data.xml",
    "shop_gone": "shop-data-gone.xml",
    "customers": "customer-data.xml",
    "stock": "stock-level.xml",
}


def _with_languages(dataset: Dataset) -> Dataset:
    dataset.languages = dataset.languages[:LANGUAGES]
    return dataset


def sized_dataset(product_rows: int, *, seed: int = 1) -> Dataset:
    """A data set whose shop export has about ``product_rows`` EcomProducts rows."""
    sample = _with_languages(Dataset.generate(seed=seed, products=SAMPLE_ITEMS, customers=1))
    per_item = sum(1 for table, _ in batch_rows(sample, "Products") if table == "EcomProducts") / SAMPLE_ITEMS
    items = max(1, round(product_rows / per_item))
    return _with_languages(Dataset.generate(seed=seed, products=items, customers=max(1, product_rows // 10)))


def without_every(dataset: Dataset, nth: int = GONE_EVERY) -> Dataset:
    """The same company with every ``nth`` item gone (discontinued)."""
    kept = [item for index, item in enumerate(dataset.items) if index % nth != nth - 1]
    return dataclasses.replace(dataset, items=kept)


def export_rows(dataset: Dataset, families: tuple[str, ...]) -> Iterator[TableRow]:
    for family in families:
        yield from batch_rows(dataset, family, shop_id=SHOP_ID)


def write_export(path: Path, rows: Iterator[TableRow]) -> dict[str, int]:
    """Write a ``tables`` document (CDATA, ``ExportIsDone="true"``); returns rows per table."""
    from erpbridge.protocol.tables import iter_tables_xml

    counts: dict[str, int] = {}

    def counted() -> Iterator[TableRow]:
        for table, row in rows:
            counts[table] = counts.get(table, 0) + 1
            yield table, row

    with path.open("wb") as out:
        for chunk in iter_tables_xml(
            counted(), root_attributes={"ExportIsDone": "true"}, cdata=True, chunk_rows=2000
        ):
            out.write(chunk)
    return counts


def write_exports(directory: Path, product_rows: int, *, seed: int = 1) -> dict[str, object]:
    """The four files in ``directory``: per kind its path, job, bytes and rows per table."""
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    dataset = sized_dataset(product_rows, seed=seed)
    generated = time.perf_counter() - started
    sources = {
        "shop": (dataset, FAMILIES["shop"]),
        "shop_gone": (without_every(dataset), FAMILIES["shop"]),
        "customers": (dataset, FAMILIES["customers"]),
        "stock": (dataset, FAMILIES["stock"]),
    }
    files: dict[str, object] = {}
    for kind, (data, families) in sources.items():
        path = directory / FILE_NAMES[kind]
        counts = write_export(path, export_rows(data, families))
        files[kind] = {"path": str(path), "job": JOBS[kind], "bytes": path.stat().st_size, "rows": counts}
    return {
        "product_rows": product_rows,
        "items": len(dataset.items),
        "customers": len(dataset.customers),
        "dataset_seconds": round(generated, 2),
        "seconds": round(time.perf_counter() - started, 2),
        "files": files,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("product_rows", type=int, help="EcomProducts rows in the shop file")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print(json.dumps(write_exports(args.directory, args.product_rows, seed=args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
