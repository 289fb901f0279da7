"""Benchmark: StreamingTableReader on a generated batch product response.

Generates a ``tables`` document of N EcomProducts rows x 20 columns (default 200,000 rows,
~300 MB) into a temporary file, then measures, each in a fresh child process:

* baseline — lxml ``iterparse`` (same hardened options, tag filter ``item``) counting items and
  clearing them; the least any streaming reader must do;
* reader — ``StreamingTableReader(...).rows()`` yielding every row as a dict.

Prints rows/s, seconds and peak RSS (``ru_maxrss`` of the child) for both and the time ratio
reader/baseline. Targets: ratio ≤ 1.6, peak RSS < 100 MB.

    .venv/bin/python bench/bench_streaming_reader.py            # 200,000 rows
    .venv/bin/python bench/bench_streaming_reader.py --rows 20000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "common"))

RATIO_TARGET = 1.6
RSS_TARGET_MB = 100.0

DESCRIPTION = (
    "A sturdy, lightweight product for everyday use & demanding jobs. <b>Made</b> from recycled "
    "materials; tested to the highest standards. Available in several colours and sizes. "
)


def _rows(count: int) -> Iterator[tuple[str, dict[str, str | None]]]:
    for n in range(count):
        number = f"P{n:07d}"
        yield (
            "EcomProducts",
            {
                "ProductId": number,
                "ProductVariantId": "",
                "ProductLanguageId": "ENU",
                "ProductNumber": number,
                "ProductName": f"Product {n} – Æblegrød edition",
                "ProductShortDescription": DESCRIPTION[: 40 + n % 60],
                "ProductLongDescription": DESCRIPTION[: n % 120],
                "ProductPrice": f"{(n % 1000) + 0.99:.2f}",
                "ProductStock": str(n % 250),
                "ProductWeight": f"{(n % 70) / 10:.1f}",
                "ProductVolume": "0.5",
                "ProductManufacturerId": f"M{n % 40:03d}",
                "ProductDefaultUnitId": "PCS",
                "ProductActive": "True",
                "ProductEAN": f"57{n:011d}",
                "ProductCost": f"{(n % 800) + 0.5:.2f}",
                "ProductCreated": "2024-01-02T03:04:05",
                "ProductUpdated": "2025-06-07T08:09:10",
                "ProductPrimaryGroup": f"G{n % 120:04d}",
                "ProductNeverOutOfstock": None if n % 7 else "False",
            },
        )


def generate(path: Path, rows: int) -> int:
    from erpbridge.protocol.tables import iter_tables_xml

    with path.open("wb") as out:
        for chunk in iter_tables_xml(
            _rows(rows), root_attributes={"version": "1.0", "ExportIsDone": "true"}, cdata=True
        ):
            out.write(chunk)
    return path.stat().st_size


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def measure_baseline(path: Path) -> dict[str, float]:
    from lxml import etree

    from erpbridge.protocol.xmlsafe import PARSER_OPTIONS

    started, cpu = time.perf_counter(), time.process_time()
    count = 0
    with path.open("rb") as stream:
        for _, item in etree.iterparse(stream, events=("end",), tag="item", **PARSER_OPTIONS):
            count += 1
            item.clear(keep_tail=False)
            while item.getprevious() is not None:
                del item.getparent()[0]
    return _result(count, started, cpu)


def _result(count: int, started: float, cpu: float) -> dict[str, float]:
    return {
        "rows": count,
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "rss_mb": _peak_rss_mb(),
    }


def measure_reader(path: Path, columns: int = 0) -> dict[str, float]:
    """The reader's rows of ``path``; with ``columns``, each row must have that many."""
    from erpbridge.protocol.streaming import StreamingTableReader

    started, cpu = time.perf_counter(), time.process_time()
    count = 0
    with path.open("rb") as stream:
        for _, row in StreamingTableReader(stream).rows():
            count += 1
            if columns and len(row) != columns:
                raise SystemExit(f"row {count} has {len(row)} columns")
    return _result(count, started, cpu)


def _child(kind: str, path: Path, columns: int) -> dict[str, float]:
    """Run one measurement in a fresh interpreter so its peak RSS is its own."""
    done = subprocess.run(
        [sys.executable, __file__, "--measure", kind, "--file", str(path), "--columns", str(columns)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000, help="rows to generate (default 200,000)")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each; best counts")
    parser.add_argument("--keep", type=Path, help="write the generated file here and keep it")
    parser.add_argument(
        "--export",
        type=Path,
        help="read this existing file instead of a generated one, e.g. an emulator export that "
        "`bench_import.py --keep DIR` left (rows of any width)",
    )
    parser.add_argument("--measure", choices=["baseline", "reader"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--columns", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        if args.measure == "baseline":
            print(json.dumps(measure_baseline(args.file)))
        else:
            print(json.dumps(measure_reader(args.file, args.columns)))
        return 0

    with tempfile.TemporaryDirectory(prefix="erpbridge-bench-") as tmp:
        columns = 0 if args.export else 20
        if args.export:
            path = args.export
            size = path.stat().st_size
            print(f"{path}: {size / 1e6:,.1f} MB")
        else:
            path = args.keep or Path(tmp) / "products.xml"
            started = time.perf_counter()
            size = generate(path, args.rows)
            print(
                f"generated {args.rows:,} rows x 20 columns: {size / 1e6:,.1f} MB "
                f"in {time.perf_counter() - started:.1f} s ({path})"
            )
        # Baseline and reader alternate so that both see the same background load; best run counts.
        runs: dict[str, list[dict[str, float]]] = {"baseline": [], "reader": []}
        for _ in range(args.repeat):
            for kind in ("baseline", "reader"):
                runs[kind].append(_child(kind, path, columns))
        results: dict[str, dict[str, float]] = {}
        for kind, measured in runs.items():
            best = min(measured, key=lambda r: r["seconds"])
            best["cpu_seconds"] = min(r["cpu_seconds"] for r in measured)
            best["rss_mb"] = max(r["rss_mb"] for r in measured)
            results[kind] = best
        if args.keep is None and args.export is None:
            os.remove(path)

    for kind, label in (("baseline", "baseline: iterparse count+clear"), ("reader", "StreamingTableReader")):
        r = results[kind]
        print(
            f"{label:34s} {r['rows']:>9,.0f} rows  {r['seconds']:7.2f} s (cpu {r['cpu_seconds']:6.2f} s)  "
            f"{r['rows'] / r['seconds']:>10,.0f} rows/s  {size / 1e6 / r['seconds']:6.1f} MB/s  "
            f"peak RSS {r['rss_mb']:6.1f} MB"
        )
    expected = results["baseline"]["rows"] if args.export else args.rows
    if results["reader"]["rows"] != results["baseline"]["rows"] or results["reader"]["rows"] != expected:
        print("FAIL: row counts differ")
        return 1
    ratio = results["reader"]["seconds"] / results["baseline"]["seconds"]
    cpu_ratio = results["reader"]["cpu_seconds"] / results["baseline"]["cpu_seconds"]
    ok_time = ratio <= RATIO_TARGET
    print(f"cpu-time ratio reader/baseline: {cpu_ratio:.2f}x (less sensitive to a busy machine)")
    ok_rss = results["reader"]["rss_mb"] < RSS_TARGET_MB
    print(f"ratio reader/baseline: {ratio:.2f}x (target <= {RATIO_TARGET}x) {'OK' if ok_time else 'MISSED'}")
    print(
        f"reader peak RSS: {results['reader']['rss_mb']:.1f} MB (target < {RSS_TARGET_MB:.0f} MB) "
        f"{'OK' if ok_rss else 'MISSED'}"
    )
    return 0 if ok_time and ok_rss else 1


if __name__ == "__main__":
    sys.exit(main())
