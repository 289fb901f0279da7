"""BC's request limits across containers: four processes fire price requests at the emulator in
BC-limits mode, without and with erpbridge's shared limiter.

The emulator answers 429 beyond BC online's per-principal limits: 5 requests at once, and a rate
window (BC: 6,000 per 300 s; here the same 20 requests/s over a shorter window, so a run of a
minute reaches it). Each process is one "container": the real Lambda handler (``live_api``) with
every price cache off, so each request goes to the ERP; four threads each. With the limiter the
processes share its record through a SQLite file, as Lambda containers share a DynamoDB item.

Figures, each run in the same session:
* 429s the emulator sent without the limiter, and with it (target: 0);
* throughput (ERP answers per second) against the rate limit;
* prices answered from the ERP vs from fallbacks;
* p50/p95 of the handler: one uncontended client without the limiter (the baseline), the same
  with it (the limiter's own cost: its store reads and writes), and each storm.

Run: ``.venv/bin/python bench/bench_bc_limits.py [--seconds 30]``. Exits 1 when the limiter lets a
429 through.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in ("layers/common", "functions/live", "cli", "emulator"):
    sys.path.insert(0, str(ROOT / path))

PROCESSES = 4
THREADS = 4
MAX_IN_FLIGHT = 5
RATE_PER_S = 20  # BC online: 6,000 per 300 s


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def run_emulator(to_parent: Any, stop: Any, window_s: float) -> None:
    from bc_emulator.limits import LimitsSpec
    from bc_emulator.server import Emulator, EmulatorConfig

    limits = LimitsSpec(
        max_in_flight=MAX_IN_FLIGHT, max_per_window=int(RATE_PER_S * window_s), window_s=window_s
    )
    with Emulator(EmulatorConfig(auth="key", latency_ms=25.0, limits=limits)) as emulator:
        to_parent.put((emulator.settings_env(), emulator.control_url))
        stop.wait()


def client(env: dict[str, str], seconds: float, threads: int, results: Any) -> None:
    """One container: the Lambda handler, ``threads`` callers for ``seconds``."""
    os.environ.update(env)
    import live_api

    from erpbridge_cli.commands.live import to_event

    class Context:
        function_name = "bench"
        memory_limit_in_mb = 1024
        invoked_function_arn = "arn:aws:lambda:local:0:function:bench"
        aws_request_id = "bench"

    latencies: list[float] = []
    sources: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def caller(seed: int) -> None:
        rng = random.Random(seed)
        warm_up = 3  # connections, code paths: not measured
        while time.monotonic() < deadline:
            body = {
                "customer_number": f"{10000 + rng.randrange(50) * 10}",
                "currency": "",
                "items": [{"product_id": f"P{rng.randrange(1, 1000):06d}"}],
            }
            event = to_event(
                "POST", "/v1/prices", {"Content-Type": "application/json"}, json.dumps(body).encode()
            )
            started = time.perf_counter()
            answer = live_api.lambda_handler(event, Context())
            elapsed = time.perf_counter() - started
            source = (
                json.loads(answer["body"])["items"][0]["source"] if answer["statusCode"] == 200 else "5xx"
            )
            if warm_up:
                warm_up -= 1
                continue
            with lock:
                latencies.append(elapsed)
                sources[source] = sources.get(source, 0) + 1

    workers = [threading.Thread(target=caller, args=(n + os.getpid(),)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put({"latencies": latencies, "sources": sources})


def storm(
    context: Any, env: dict[str, str], control: Any, seconds: float, processes: int, threads: int
) -> dict[str, Any]:
    control.reset()  # fresh counters, and the emulator's own window starts empty
    results = context.Queue()
    started = time.monotonic()
    procs = [context.Process(target=client, args=(env, seconds, threads, results)) for _ in range(processes)]
    for proc in procs:
        proc.start()
    gathered = [results.get(timeout=seconds + 120) for _ in procs]
    for proc in procs:
        proc.join()
    elapsed = time.monotonic() - started
    latencies = [v for g in gathered for v in g["latencies"]]
    sources: dict[str, int] = {}
    for g in gathered:
        for name, count in g["sources"].items():
            sources[name] = sources.get(name, 0) + count
    counters = control.counters()
    return {
        "requests": len(latencies),
        "sources": sources,
        "erp_429": counters.get("faults.bc_limit_429", 0),
        "erp_answers": len(control.requests("product_info")),
        "elapsed": elapsed,
        "p50": pct(latencies, 0.5),
        "p95": pct(latencies, 0.95),
    }


def _median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(rounds, key=lambda figures: figures["p50"])[len(rounds) // 2]


def store_cost_ms(store: Any, calls: int = 2000) -> float:
    """One acquire + release on ``store``, uncontended: what the limiter adds to each ERP request."""
    from erpbridge.erp.limiter import RequestLimiter, RequestLimits

    limiter = RequestLimiter(
        store, "bench", RequestLimits(max_in_flight=5, max_per_window=6000, window_s=300.0)
    )
    started = time.perf_counter()
    for _ in range(calls):
        limiter.release(limiter.acquire(wait_s=1))
    return (time.perf_counter() - started) / calls * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each storm")
    args = parser.parse_args()
    window_s = args.seconds / 2  # the storm lasts two windows: the rate limit binds

    from bc_emulator.control import ControlClient
    from erpbridge.shopdb import upgrade

    context = multiprocessing.get_context("spawn")
    to_parent: Any = context.Queue()
    stop = context.Event()
    emulator = context.Process(target=run_emulator, args=(to_parent, stop, window_s), daemon=True)
    emulator.start()
    emulator_env, control_url = to_parent.get(timeout=60)
    control = ControlClient(control_url)
    state = Path(tempfile.mkdtemp(prefix="erpbridge-bench-limits-"))
    database_url = f"sqlite:///{state}/shop.db"
    upgrade(database_url)
    base = {
        **emulator_env,
        "ERPBRIDGE_DATABASE_URL": database_url,
        "ERPBRIDGE_STATE_DIR": str(state),
        "ERPBRIDGE_STAGE": "prod",
        "ERPBRIDGE_PRICE_CACHE_TTL_S": "0",
        "ERPBRIDGE_NEGATIVE_CACHE_TTL_S": "0",
        "ERPBRIDGE_LOCAL_CACHE_TTL_S": "0",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "ERPBRIDGE_ERP_LIMIT_REQUESTS": str(int(RATE_PER_S * window_s)),
        "ERPBRIDGE_ERP_LIMIT_WINDOW_S": str(window_s),
        "ERPBRIDGE_ERP_LIMIT_IN_FLIGHT": str(MAX_IN_FLIGHT),
    }
    without = {**base, "ERPBRIDGE_ERP_LIMIT_IN_FLIGHT": "0"}
    with_limiter = {**base, "ERPBRIDGE_ERP_LIMITER_FILE": str(state / "limiter.db")}
    try:
        # The limiter's own cost: one uncontended caller (never waits), without and with it,
        # alternating three times (the machine is noisy); the medians of the rounds count.
        quiet = min(4.0, args.seconds / 6)
        rounds_without, rounds_with = [], []
        for round_number in range(3):
            rounds_without.append(storm(context, without, control, quiet, 1, 1))
            alone_file = str(state / f"alone-{round_number}.db")
            rounds_with.append(
                storm(
                    context, {**with_limiter, "ERPBRIDGE_ERP_LIMITER_FILE": alone_file}, control, quiet, 1, 1
                )
            )
        alone_without = _median_round(rounds_without)
        alone_with = _median_round(rounds_with)
        unlimited = storm(context, without, control, args.seconds, PROCESSES, THREADS)
        limited = storm(context, with_limiter, control, args.seconds, PROCESSES, THREADS)
    finally:
        stop.set()
        emulator.join(timeout=10)

    limit_rate = RATE_PER_S
    print(
        f"BC limits: {MAX_IN_FLIGHT} at once, {int(RATE_PER_S * window_s)} per {window_s:g} s "
        f"({limit_rate} requests/s); {PROCESSES} processes x {THREADS} threads, {args.seconds:g} s each storm"
    )
    print(
        f"{'run':<34} {'requests':>8} {'429s':>6} {'ERP/s':>7} {'vs limit':>8} {'erp':>6} {'fallback':>8} "
        f"{'p50 ms':>8} {'p95 ms':>8}"
    )
    for name, figures in (
        ("1 caller, no limiter (baseline)", alone_without),
        ("1 caller, limiter", alone_with),
        ("storm, no limiter", unlimited),
        ("storm, shared limiter", limited),
    ):
        rate = figures["erp_answers"] / figures["elapsed"]
        print(
            f"{name:<34} {figures['requests']:>8} {figures['erp_429']:>6} "
            f"{rate:>7.1f} {rate / limit_rate:>7.2f}x "
            f"{figures['sources'].get('erp', 0):>6} {figures['sources'].get('fallback', 0):>8} "
            f"{figures['p50'] * 1000:>8.1f} {figures['p95'] * 1000:>8.1f}"
        )
    added_p50 = (alone_with["p50"] - alone_without["p50"]) * 1000
    added_p95 = (alone_with["p95"] - alone_without["p95"]) * 1000
    print(
        f"limiter's own cost per request (uncontended): p50 {added_p50:+.2f} ms, p95 {added_p95:+.2f} ms "
        f"(baseline p50 {alone_without['p50'] * 1000:.1f} ms: "
        f"{alone_with['p50'] / alone_without['p50']:.2f}x)"
    )
    from erpbridge.adapters.local.sqlite_limiter import SqliteLimiterStore
    from erpbridge.erp.limiter import InMemoryLimiterStore

    memory_ms = store_cost_ms(InMemoryLimiterStore())
    sqlite_ms = store_cost_ms(SqliteLimiterStore(state / "cost.db"))
    baseline_ms = alone_without["p50"] * 1000
    print(
        f"acquire + release per request: memory {memory_ms:.3f} ms, SQLite file {sqlite_ms:.3f} ms "
        f"({sqlite_ms / baseline_ms:.1%} of the baseline p50)"
    )
    ok = limited["erp_429"] == 0
    print(
        f"target: zero 429s with the limiter: {'met' if ok else 'MISSED'} ({limited['erp_429']}); "
        f"without it: {unlimited['erp_429']}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
