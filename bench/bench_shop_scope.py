"""Benchmark: what a shop scope costs an import (issue 9 §4).

The same generated ``EcomProducts`` file (``bench_streaming_reader.generate``) is imported with
``deactivate_missing`` twice per database, in the same run: without a shop (the baseline) and
with ``shop: SHOP1`` (the product keeps its default shop, the shop's membership rows are written
to ``erpbridge_shop_products`` and the deactivation scope checks them). Each case imports the
file twice into a fresh database (first: inserts; second: all unchanged, deactivation runs) and
prints seconds and the ratio shop/baseline per step, the fastest of --repeat runs.

    .venv/bin/python bench/bench_shop_scope.py --rows 50000 [--databases postgresql,sqlite] [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "common"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_import import _drop_postgres_schema, _fresh_database  # noqa: E402
from bench_streaming_reader import generate  # noqa: E402

JOB = """
id: bench-shop-scope
import:
{shop}  mappings:
    - source: EcomProducts
      destination: EcomProducts
      deactivate_missing: true
"""


def _import_twice(path: Path, url: str, shop: str | None) -> tuple[float, float]:
    from erpbridge.batch.staged_file import import_staged_file
    from erpbridge.mapping.jobfile import parse_job
    from erpbridge.shopdb import dispose_engines

    job = parse_job(JOB.format(shop=f"  shop: {shop}\n" if shop else ""))
    times = []
    for _ in range(2):
        started = time.perf_counter()
        with path.open("rb") as stream:
            report = import_staged_file(job, stream, url)
        times.append(time.perf_counter() - started)
        report.raise_for_errors()
    dispose_engines()
    return times[0], times[1]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        path = tmp / "products.xml"
        size = generate(path, args.rows)
        print(f"{args.rows:,} products, {size / 1e6:.1f} MB staged file")
        for database in args.databases.split(","):
            best: dict[str, list[float]] = {}
            for _ in range(args.repeat):
                for label, shop in (("no shop", None), ("shop SHOP1", "SHOP1")):
                    url = _fresh_database(database, tmp)
                    first, second = _import_twice(path, url, shop)
                    old = best.get(label)
                    best[label] = [min(first, old[0]), min(second, old[1])] if old else [first, second]
            if database == "postgresql":
                _drop_postgres_schema()
            base, scoped = best["no shop"], best["shop SHOP1"]
            for step, index in (("first import", 0), ("second import + deactivation", 1)):
                print(
                    f"{database:10s} {step:30s} no shop {base[index]:6.2f} s  shop {scoped[index]:6.2f} s  "
                    f"ratio {scoped[index] / base[index]:.2f}x"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
