"""Benchmark: the shipped jobs at production scale, through the importer Lambda's handler.

For each size — ``EcomProducts`` rows in the shop file — the BC emulator writes what it would
export for the shipped jobs (``bc_emulator.exports``: products with variants in two languages,
groups and group relations, manufacturers, related products; customers with contacts and
addresses; stock per product, variant and location). Then, each in a fresh child process (so
peak RSS, ``ru_maxrss``, is the step's own):

* baseline — lxml ``iterparse`` counting and clearing the items of the same file (parse only:
  the same parser library and hardened options, no conversion, no database), run right before
  each step in its own child process; the step's ratios are to that run (the load of a shared
  machine moves in minutes);
* per database, into a fresh database, in this order:

  ============= ====================== =================================================
  step          job                    file
  ============= ====================== =================================================
  shop first    fetch-shop-data        the catalogue (all inserts)
  shop again    fetch-shop-data        the same file (all unchanged)
  shop -5%      fetch-shop-data        every 20th product gone (deactivated and hidden)
  customers     fetch-customer-data    customers, contacts, addresses (first import)
  cust. again   fetch-customer-data    the same file
  stock         fetch-stock-level      stock per location (first import)
  stock again   fetch-stock-level      the same file
  ============= ====================== =================================================

  each step through ``functions/batch/import_staged.lambda_handler`` — the importer Lambda's
  entry point — with an S3 "Object Created" event, on the local runtime (a folder as the bucket,
  SQLite for runs and claims): claim, stream the object, import in one transaction, archive.
  The child first sends the handler an empty file of the same job, so the timed invocation is a
  warm one (modules imported, engine and settings built), as most invocations in AWS are.

Prints one table of every figure: rows, seconds, rows/s, the ratio to parse-only, µs per row and
its growth from the previous size, the client's CPU seconds and their ratio to parse-only's (the
steadier figure on a busy machine; PostgreSQL's own work is not in it), peak RSS.
Targets (``MISSED`` lines and exit status 1):

* PostgreSQL: every step <= 2x parse-only of its file;  SQLite: <= 3x;
* time per row at the largest size <= 1.2x the time per row at the size before (same step);
* peak RSS < 150 MB.

    .venv/bin/python bench/bench_import.py                           # 20,000 and 200,000
    .venv/bin/python bench/bench_import.py --sizes 20000,200000,1000000 --databases postgresql
    .venv/bin/python bench/bench_import.py --sizes 20000 --explain   # the plan of every statement

``--explain`` runs the steps once more at the largest size with every statement's plan recorded
(PostgreSQL ``EXPLAIN``, SQLite ``EXPLAIN QUERY PLAN``, taken just before the statement runs, the
last execution of each statement kept) and prints them; no timings are taken in that pass.

PostgreSQL: ``$ERPBRIDGE_BENCH_DATABASE_URL`` (default the test server on 127.0.0.1:5432); the
benchmark works in its own schema ``erpbridge_bench`` and drops it afterwards. Generated files go
to a temporary folder (``--keep DIR`` keeps them there and reuses them on the next run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in ("layers/common", "functions/batch", "emulator"):
    sys.path.insert(0, str(ROOT / _path))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_streaming_reader import _peak_rss_mb, measure_baseline  # noqa: E402

PARSE_TARGET = {"postgresql": 2.0, "sqlite": 3.0}
GROWTH_TARGET = 1.2
RSS_TARGET_MB = 150.0
PG_SCHEMA = "erpbridge_bench"
PG_SERVER = os.environ.get(
    "ERPBRIDGE_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
STEPS = (  # (label, export kind)
    ("shop first", "shop"),
    ("shop again", "shop"),
    ("shop -5%", "shop_gone"),
    ("customers", "customers"),
    ("cust. again", "customers"),
    ("stock", "stock"),
    ("stock again", "stock"),
)
BUCKET = "local-staging"


# -- child processes --------------------------------------------------------------------------


def _plan_recorder(path: Path) -> None:
    """Record the plan of every statement the import runs (before it runs, same parameters)."""
    import atexit

    import sqlalchemy as sa

    plans: dict[str, dict[str, Any]] = {}

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if many or not re.match(r"\s*(INSERT|UPDATE|DELETE|SELECT|WITH)\b", statement):
            return
        if "pg_catalog" in statement or "sqlite_master" in statement or "erpbridge_migrations" in statement:
            return
        shape = re.sub(r"erpbridge_(stage|pending)_\d+", r"<\1>", " ".join(statement.split()))
        raw = cursor.connection
        if conn.dialect.name == "sqlite":
            rows = raw.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            depth: dict[int, int] = {}
            lines = []
            for node, parent, _, detail in rows:
                depth[node] = depth.get(parent, -1) + 1
                lines.append("  " * depth[node] + detail)
        else:
            explain = raw.cursor()
            explain.execute("EXPLAIN " + statement, parameters or None)
            lines = [re.sub(r"  \(cost=[^)]*\)", "", row[0]) for row in explain.fetchall()]
            explain.close()
        entry = plans.setdefault(shape, {"count": 0})
        entry["count"] += 1
        entry["plan"] = [re.sub(r"erpbridge_(stage|pending)_\d+", r"<\1>", line) for line in lines]

    sa.event.listen(sa.Engine, "before_cursor_execute", before)
    atexit.register(lambda: path.write_text(json.dumps(plans)))


def measure_step(
    job: str, path: Path, database_url: str, state: Path, run: str, plans: Path | None
) -> dict[str, Any]:
    """One staged object through the importer Lambda's handler (local runtime)."""
    os.environ.update(
        {
            "ERPBRIDGE_DATABASE_URL": database_url,
            "ERPBRIDGE_STATE_DIR": str(state),
            "ERPBRIDGE_MAPPINGS_DIR": str(ROOT / "mappings"),
            "ERPBRIDGE_ERP_AUTH": "none",  # the importer never calls the ERP
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_SERVICE_NAME": "erpbridge-bench",
        }
    )
    if plans is not None:
        _plan_recorder(plans)
    import import_staged

    class Context:
        function_name = "erpbridge-bench-import"
        memory_limit_in_mb = 1024
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:erpbridge-bench-import"
        aws_request_id = run

        def get_remaining_time_in_millis(self) -> int:
            return 900_000

    def stage(name: str, source: Path | None) -> dict[str, Any]:
        key = f"staging/{job}/{name}/page-0001.xml"
        staged = state / "objects" / BUCKET / key
        staged.parent.mkdir(parents=True, exist_ok=True)
        if source is None:
            staged.write_bytes(b'<tables ExportIsDone="true"></tables>')
        else:
            os.link(source, staged)  # no copy: the handler moves it to archive/ (a rename)
        event = json.loads((ROOT / "events" / "s3-object-created.json").read_text())
        event["detail"]["bucket"]["name"] = BUCKET
        event["detail"]["object"].update({"key": key, "size": staged.stat().st_size, "etag": f"bench-{name}"})
        return event

    # A warm container: the first invocation's imports, engine and settings are not the file's cost.
    import_staged.lambda_handler(stage(f"{run}-warm", None), Context())
    event = stage(run, path)
    cpu_started = time.process_time()
    started = time.perf_counter()
    outcome = import_staged.lambda_handler(event, Context())
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    if outcome["result"] != "imported":
        raise SystemExit(f"{job} {path.name}: {outcome}")
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "rss_mb": _peak_rss_mb(),
        **outcome["counts"],
    }


def _child(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"child {args[:2]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- databases ----------------------------------------------------------------------------------


def _fresh_database(kind: str, tmp: Path) -> str:
    from erpbridge.shopdb import dispose_engines, upgrade

    if kind == "sqlite":
        for leftover in tmp.glob("bench.db*"):  # the database and its WAL files
            leftover.unlink()
        url = f"sqlite:///{tmp}/bench.db"
    else:
        import sqlalchemy as sa

        admin = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
            connection.execute(sa.text(f"CREATE SCHEMA {PG_SCHEMA}"))
        admin.dispose()
        separator = "&" if "?" in PG_SERVER else "?"
        url = f"{PG_SERVER}{separator}options=-csearch_path%3D{PG_SCHEMA}"
    upgrade(url)
    dispose_engines()
    return url


def _drop_postgres_schema() -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
    admin.dispose()


# -- the run ------------------------------------------------------------------------------------


def _exports(folder: Path, size: int) -> dict[str, Any]:
    manifest = folder / "exports.json"
    if manifest.exists():
        described: dict[str, Any] = json.loads(manifest.read_text())
        if all(Path(f["path"]).exists() for f in described["files"].values()):
            return described
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bc_emulator.exports", str(size), str(folder)],
        check=True,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("emulator", "layers/common")),
        },
    )
    described = json.loads(done.stdout.strip().splitlines()[-1])
    described["wall_seconds"] = time.perf_counter() - started
    manifest.write_text(json.dumps(described))
    return described


def _steps(
    database: str, files: dict[str, Any], tmp: Path, plans: Path | None = None
) -> dict[str, dict[str, Any]]:
    url = _fresh_database(database, tmp)
    state = tmp / f"state-{database}"
    shutil.rmtree(state, ignore_errors=True)
    results = {}
    for number, (label, kind) in enumerate(STEPS, start=1):
        described = files[kind]
        args = ["--measure", "step", "--job", described["job"], "--file", described["path"]]
        args += ["--url", url, "--state", str(state), "--run", f"bench-{number:02d}"]
        if plans is not None:
            args += ["--plans", str(plans.with_name(f"{plans.stem}-{number:02d}.json"))]
        # Parse-only of the same file right before the step: on a shared machine the load moves,
        # and a baseline taken minutes earlier would flatter or wrong the step.
        baseline = _child("--measure", "baseline", "--file", described["path"])
        results[label] = {**_child(*args), "baseline": baseline}
    if database == "postgresql":
        _drop_postgres_schema()
    return results


def _print_plans(folder: Path, database: str) -> None:
    print(f"\n=== {database}: the plan of every statement (last execution) ===")
    for number, (label, _) in enumerate(STEPS, start=1):
        path = folder / f"plans-{database}-{number:02d}.json"
        if not path.exists():
            continue
        print(f"\n--- {label} ---")
        for shape, entry in json.loads(path.read_text()).items():
            print(f"* [{entry['count']}x] {shape[:200]}")
            for line in entry["plan"]:
                print(f"      {line}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="20000,200000", help="comma list of EcomProducts rows (default 20000,200000)"
    )
    parser.add_argument("--databases", default="postgresql,sqlite", help="comma list: postgresql, sqlite")
    parser.add_argument("--repeat", type=int, default=1, help="runs per step; the fastest counts (default 1)")
    parser.add_argument("--explain", action="store_true", help="print every statement's plan (largest size)")
    parser.add_argument("--keep", type=Path, help="keep generated files in this folder (and reuse them)")
    parser.add_argument("--measure", choices=["baseline", "step"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--state", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--plans", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure == "baseline":
        print(json.dumps(measure_baseline(args.file)))
        return 0
    if args.measure == "step":
        print(json.dumps(measure_step(args.job, args.file, args.url, args.state, args.run, args.plans)))
        return 0

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    temporary = None if args.keep else tempfile.TemporaryDirectory(prefix="erpbridge-bench-")
    base = args.keep or Path(temporary.name)  # type: ignore[union-attr]
    base.mkdir(parents=True, exist_ok=True)
    figures: dict[tuple[int, str, str], dict[str, Any]] = {}
    baselines: dict[tuple[int, str], dict[str, Any]] = {}
    try:
        for size in sizes:
            folder = base / f"size-{size}"
            described = _exports(folder, size)
            files = described["files"]
            rows = {kind: sum(f["rows"].values()) for kind, f in files.items()}
            print(
                f"\n{size:,} products: {described['items']:,} items, {described['customers']:,} customers; "
                + ", ".join(f"{k} {rows[k]:,} rows {files[k]['bytes'] / 1e6:,.0f} MB" for k in files)
                + f" (generated in {described.get('wall_seconds', 0):.0f} s)",
                flush=True,
            )
            for kind, f in files.items():
                runs = [_child("--measure", "baseline", "--file", f["path"]) for _ in range(args.repeat)]
                baselines[(size, kind)] = min(runs, key=lambda r: r["seconds"])
            for database in databases:
                runs_per_step: dict[str, list[dict[str, Any]]] = {}
                for _ in range(args.repeat):
                    for label, result in _steps(database, files, folder).items():
                        runs_per_step.setdefault(label, []).append(result)
                for label, kind in STEPS:
                    best = dict(min(runs_per_step[label], key=lambda r: r["seconds"]))
                    best["rss_mb"] = max(r["rss_mb"] for r in runs_per_step[label])
                    best["kind"] = kind
                    figures[(size, database, label)] = best
                _print_table(sizes, databases, figures, baselines, only=(size, database))
        ok = _print_summary(sizes, databases, figures, baselines)
        if args.explain:
            size = sizes[-1]
            folder = base / f"size-{size}"
            files = _exports(folder, size)["files"]
            for database in databases:
                _steps(database, files, folder, plans=folder / f"plans-{database}.json")
                _print_plans(folder, database)
    finally:
        if temporary is not None:
            temporary.cleanup()
    return 0 if ok else 1


def _baseline(
    figures: dict[tuple[int, str, str], dict[str, Any]],
    baselines: dict[tuple[int, str], dict[str, Any]],
    size: int,
    database: str,
    label: str,
    kind: str,
) -> dict[str, Any]:
    """The parse-only run taken right before the step (the per-file one when there is none)."""
    own: dict[str, Any] | None = figures[(size, database, label)].get("baseline")
    return own or baselines[(size, kind)]


def _per_row_us(result: dict[str, Any]) -> float:
    return float(result["seconds"]) / max(int(result["rows_read"]), 1) * 1e6


def _print_table(
    sizes: list[int],
    databases: list[str],
    figures: dict[tuple[int, str, str], dict[str, Any]],
    baselines: dict[tuple[int, str], dict[str, Any]],
    only: tuple[int, str] | None = None,
) -> None:
    header = (
        f"{'products':>9} {'database':10} {'step':12} {'rows':>10} {'seconds':>8} {'rows/s':>8} "
        f"{'parse s':>7} {'x parse':>7} {'µs/row':>7} {'growth':>6} {'cpu s':>6} {'parse cpu':>9} "
        f"{'x cpu':>6} "
        f"{'RSS MB':>6}  ins/upd/del"
    )
    print(header)
    for size in sizes:
        for database in databases:
            if only is not None and (size, database) != only:
                continue
            for label, kind in STEPS:
                r = figures.get((size, database, label))
                if r is None:
                    continue
                base = r.get("baseline") or baselines[(size, kind)]
                growth = ""
                previous = sizes[sizes.index(size) - 1] if sizes.index(size) else None
                if previous is not None and (previous, database, label) in figures:
                    growth = f"{_per_row_us(r) / _per_row_us(figures[(previous, database, label)]):.2f}x"
                print(
                    f"{size:>9,} {database:10} {label:12} {r['rows_read']:>10,} {r['seconds']:>8.2f} "
                    f"{r['rows_read'] / r['seconds']:>8,.0f} {base['seconds']:>7.2f} "
                    f"{r['seconds'] / base['seconds']:>6.2f}x "
                    f"{_per_row_us(r):>7.1f} {growth:>6} {r['cpu_seconds']:>6.2f} "
                    f"{base['cpu_seconds']:>9.2f} "
                    f"{r['cpu_seconds'] / base['cpu_seconds']:>5.2f}x {r['rss_mb']:>6.1f}  "
                    f"{r['inserted']}/{r['updated']}/{r['deleted']}",
                    flush=True,
                )


def _print_summary(
    sizes: list[int],
    databases: list[str],
    figures: dict[tuple[int, str, str], dict[str, Any]],
    baselines: dict[tuple[int, str], dict[str, Any]],
) -> bool:
    print("\nparse-only baseline (lxml iterparse count+clear):")
    for (size, kind), b in sorted(baselines.items()):
        print(
            f"  {size:>9,} {kind:10} {b['rows']:>10,} items {b['seconds']:7.2f} s  RSS {b['rss_mb']:.1f} MB"
        )
    print("\nall figures:")
    _print_table(sizes, databases, figures, baselines)
    ok = True
    print("\ntargets:")
    for database in databases:
        target = PARSE_TARGET[database]
        worst = max(
            (
                figures[(s, database, label)]["seconds"]
                / _baseline(figures, baselines, s, database, label, kind)["seconds"],
                s,
                label,
            )
            for s in sizes
            for label, kind in STEPS
            if (s, database, label) in figures
        )
        passed = worst[0] <= target
        ok = ok and passed
        print(
            f"  {database}: every step <= {target}x parse-only: {'OK' if passed else 'MISSED'} "
            f"(worst {worst[0]:.2f}x: {worst[2]} at {worst[1]:,})"
        )
        if len(sizes) >= 2:
            small, large = sizes[-2], sizes[-1]
            growth = max(
                (
                    _per_row_us(figures[(large, database, label)])
                    / _per_row_us(figures[(small, database, label)]),
                    label,
                )
                for label, _ in STEPS
            )
            passed = growth[0] <= GROWTH_TARGET
            ok = ok and passed
            print(
                f"  {database}: time per row at {large:,} <= {GROWTH_TARGET}x at {small:,}: "
                f"{'OK' if passed else 'MISSED'} (worst {growth[0]:.2f}x: {growth[1]})"
            )
        rss = max(figures[(s, database, label)]["rss_mb"] for s in sizes for label, _ in STEPS)
        passed = rss < RSS_TARGET_MB
        ok = ok and passed
        print(
            f"  {database}: peak RSS < {RSS_TARGET_MB:.0f} MB: {'OK' if passed else 'MISSED'} ({rss:.1f} MB)"
        )
    return ok


if __name__ == "__main__":
    sys.exit(main())
