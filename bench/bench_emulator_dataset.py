"""Benchmark: BC emulator data generation and in-process ERP behaviour (no HTTP).

Prints, for 1,000 / 10,000 / 100,000 products:
  * data set generation time,
  * batch export row production (Products family, rows/s) — a sample of pages across the export,
  * 50-line product-info latency in process (best price + quantity breaks + stock),
next to a baseline measured in the same run: building the same number of plain Python dicts with
random values (what any generator must at least pay). Ratios are what to compare across machines.

Run: .venv/bin/python bench/bench_emulator_dataset.py [--max-products 100000]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from decimal import Decimal

from bc_emulator.business_central import BusinessCentral
from bc_emulator.dataset import Dataset
from bc_emulator.pricing import PriceQuery


def baseline_dicts(n: int) -> float:
    """Seconds to build n small dicts from a seeded RNG: the floor for generating n items."""
    rng = random.Random(1)
    start = time.perf_counter()
    items = [
        {"no": f"P{i:06d}", "price": Decimal(rng.randrange(199, 50000)).scaleb(-2), "qty": rng.random()}
        for i in range(n)
    ]
    elapsed = time.perf_counter() - start
    assert len(items) == n
    return elapsed


def best_of(runs: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-products", type=int, default=100_000)
    args = parser.parse_args()
    sizes = [n for n in (1_000, 10_000, 100_000) if n <= args.max_products]
    print(
        f"{'products':>9} {'generate':>10} {'baseline':>10} {'ratio':>6} {'rows':>9} {'rows/s':>10} "
        f"{'50-line info':>13}"
    )
    for n in sizes:
        runs = 7 if n <= 10_000 else 2
        generate = best_of(runs, lambda n=n: Dataset.generate(seed=1, products=n, customers=50))
        base = best_of(runs, lambda n=n: baseline_dicts(n))
        ds = Dataset.generate(seed=1, products=n, customers=50)
        bc = BusinessCentral(ds)
        gc.collect()  # free the data sets of the timing runs now, not inside the next measurement

        rows = bc.batch_rows("Products", shop_id="SHOP1")
        total = len(rows)
        page = 5_000
        offsets = [int(total * k / 10) for k in range(10)]
        start = time.perf_counter()
        produced = sum(len(rows[o : o + page]) for o in offsets)
        rows_per_s = produced / (time.perf_counter() - start)

        customer = ds.customers[0].no
        queries = [PriceQuery(item.no, identifier=f"{item.no}..ENU") for item in ds.items[:50]]
        bc.product_info(customer, queries)
        samples = []
        for _ in range(50):
            start = time.perf_counter()
            bc.product_info(customer, queries)
            samples.append(time.perf_counter() - start)
        info_ms = statistics.median(samples) * 1000

        print(
            f"{n:>9,} {generate:>9.3f}s {base:>9.3f}s {generate / base:>6.1f} {total:>9,} "
            f"{rows_per_s:>10,.0f} {info_ms:>11.2f}ms"
        )


if __name__ == "__main__":
    main()
