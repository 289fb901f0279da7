"""Soak: 1,000 shop orders under mixed ERP faults, against an emulator that does NOT deduplicate.

Every create the emulator receives commits a new sales order, so each duplicate erpbridge sends is
counted, and each order that never reaches the ERP too. The run:

1. places the orders (``OrderService.place_order``, a few client threads; a client whose request
   fails retries with the same Idempotency-Key) while the emulator injects, on order creates and
   GetList lookups alike: 500, 429, hangs past the client timeout, dropped connections,
   commit-then-drop, commit-then-hang, malformed and truncated answers, and latency with a long
   tail (some creates commit after the client gave up: "short client timeouts"); plus short down
   windows (the listener really closed);
2. runs Export Failed Orders rounds with the faults still on, then rounds with them off, until no
   order waits; dead-lettered orders are re-sent once as an operator would;
3. prints created / duplicated / lost and what was injected, and exits 1 if any order was
   duplicated or lost (or the run hit its time bound with orders still waiting).

Not a timed test: the figures are counts; the elapsed time is printed for information only.

Run: ``.venv/bin/python bench/soak_orders.py`` (``--orders 1000 --workers 4 --max-seconds 600``;
``--database-url postgresql+psycopg://…`` for PostgreSQL; ``--dedup`` for an ERP that deduplicates).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in ("layers/common", "functions/live", "cli", "emulator"):
    sys.path.insert(0, str(ROOT / path))
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

CLIENT_TIMEOUT_S = 0.5
SETTLE_S = 2.0  # > the longest a create keeps running in the emulator after the client gave up
# The mix on creates and lookups: about one request in three is faulted.
FAULTS: dict[str, Any] = {
    "seed": 14,
    "kinds": ["create_order", "export_order", "get_list"],
    "error_rate": 0.06,
    "busy_429_rate": 0.04,
    "retry_after_s": 0,
    "hang_rate": 0.03,
    "hang_s": 0.8,
    "reset_rate": 0.03,
    "commit_then_drop_rate": 0.05,
    "commit_then_hang_rate": 0.05,
    "malformed_rate": 0.03,
    "truncated_rate": 0.02,
    # exponential tail, mean 0.12 s: ~1.5 % of requests outlast the 0.5 s client timeout and commit
    # afterwards
    "latency_jitter_ms": 120.0,
    "latency_distribution": "exponential",
}


def order_body(order_id: str, n: int, customers: list[str], products: list[str]) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer_number": customers[n % len(customers)],
        "billing_address": {"name": "Soak Test", "city": "Berlin", "country_code": "DE"},
        "lines": [
            {"product_id": products[n % len(products)], "quantity": 1 + n % 3},
            {"product_id": products[(n * 7 + 3) % len(products)], "quantity": 1},
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--max-seconds", type=float, default=600.0, help="time bound of the whole run")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--dedup", action="store_true", help="an ERP that deduplicates creates on OrderId")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the faults make erpbridge warn a lot; errors stay
    logging.getLogger("erpbridge").setLevel(logging.ERROR)
    deadline = time.monotonic() + args.max_seconds
    started = time.monotonic()

    from bc_emulator.faults import FaultSpec
    from bc_emulator.server import Emulator, EmulatorConfig
    from erpbridge.live.models import OrderRequest
    from erpbridge.live.ports import OrderState
    from erpbridge.settings import load_settings
    from erpbridge.wiring.live import LiveServices

    emulator = Emulator(EmulatorConfig(auth="key", products=200, customers=20, dedup=args.dedup)).start()
    state = tempfile.mkdtemp(prefix="erpbridge-soak-")
    env = {
        **emulator.settings_env(),
        "ERPBRIDGE_DATABASE_URL": args.database_url or f"sqlite:///{state}/shop.db",
        "ERPBRIDGE_STATE_DIR": state,
        "ERPBRIDGE_ERP_TIMEOUT_S": str(CLIENT_TIMEOUT_S),
        "ERPBRIDGE_ERP_CONNECT_TIMEOUT_S": "0.5",
        "ERPBRIDGE_ERP_MAX_RETRIES": "1",
        "ERPBRIDGE_ERP_RETRY_BACKOFF_S": "0.05",
        "ERPBRIDGE_ERP_BREAKER_COOLDOWN_S": "0.5",
        "ERPBRIDGE_ORDER_MAX_ATTEMPTS": "8",
        "ERPBRIDGE_ORDER_UNKNOWN_SETTLE_S": str(SETTLE_S),
    }
    for name, value in env.items():
        os.environ[name] = value
    services = LiveServices(load_settings(), migrate=True)
    orders = services.orders
    run = secrets.token_hex(3).upper()  # order ids and keys of this run: a reused database is fine

    def oid(n: int) -> str:
        return f"SOAK-{run}-{n:05d}"

    dataset = emulator.dispatcher.bc.dataset
    customers = [c.no for c in dataset.customers[:10]]
    products = [item.no for item in dataset.items[:50]]
    emulator.set_faults(FaultSpec.from_mapping(FAULTS))

    # --- 1. the shop places its orders ---------------------------------------------------------
    answers: Counter[str] = Counter()
    client_retries = Counter[str]()
    lock = threading.Lock()

    def place(n: int) -> None:
        request = OrderRequest.model_validate(order_body(oid(n), n, customers, products))
        for attempt in range(20):
            try:
                body = orders.place_order(request, f"key-{oid(n)}").body
            except Exception as error:  # a 5xx to the client: it retries with the same key
                with lock:
                    client_retries[type(error).__name__] += 1
                time.sleep(0.05 * (attempt + 1))
                continue
            with lock:
                answers[str(body["status"])] += 1
            return
        with lock:
            answers["client gave up"] += 1

    def down_windows(stop: threading.Event) -> None:
        while not stop.wait(4.0):
            emulator.go_down(0.4)

    stop = threading.Event()
    downer = threading.Thread(target=down_windows, args=(stop,), daemon=True)
    downer.start()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        list(pool.map(place, range(1, args.orders + 1)))
    stop.set()
    downer.join()
    emulator.come_up()
    placed_s = time.monotonic() - started

    # --- 2. Export Failed Orders, faults on, then off --------------------------------------------
    rounds = Counter[str]()

    def waiting() -> int:
        return sum(
            1
            for n in range(1, args.orders + 1)
            if (o := services.orders._orders.get(oid(n))) is None
            or o.state not in (OrderState.CREATED, OrderState.DEAD_LETTER)
        )

    for _ in range(6):  # with the faults still on
        if time.monotonic() > deadline:
            break
        orders.export_failed_orders(older_than_s=0, limit=args.orders)
        rounds["with faults"] += 1
        time.sleep(SETTLE_S)
    emulator.faults.clear()
    emulator.release_hanging()
    time.sleep(SETTLE_S)  # creates still running in the ERP commit; unknown sends settle
    while waiting() and time.monotonic() < deadline:
        orders.export_failed_orders(older_than_s=0, limit=args.orders)
        rounds["without faults"] += 1
        if waiting():
            time.sleep(SETTLE_S)
    dead = [
        oid(n)
        for n in range(1, args.orders + 1)
        if (o := orders._orders.get(oid(n))) is not None and o.state is OrderState.DEAD_LETTER
    ]
    for order_id in dead:  # the operator re-sends each dead-lettered order once
        orders.resend(order_id)
    still_waiting = waiting()

    # --- 3. count -------------------------------------------------------------------------------
    time.sleep(0.5)
    numbers_of: dict[str, set[str]] = {}
    for doc in emulator.dispatcher.bc.created_orders():
        numbers_of.setdefault(doc.external_document_no, set()).add(doc.no)
    per_id = Counter({shop_id: len(numbers) for shop_id, numbers in numbers_of.items()})
    ids = [oid(n) for n in range(1, args.orders + 1)]
    created = sum(1 for i in ids if per_id[i] >= 1)
    duplicated = sum(per_id[i] - 1 for i in ids if per_id[i] > 1)
    lost = sum(1 for i in ids if per_id[i] == 0)
    mismatched = 0
    outcomes: Counter[str] = Counter()
    for order_id in ids:
        stored = orders._orders.get(order_id)
        numbers = numbers_of.get(order_id, set())
        if stored is None or stored.state is not OrderState.CREATED or stored.erp_order_id not in numbers:
            mismatched += 1
        for attempt in orders._orders.attempts(order_id):
            outcomes[attempt.outcome] += 1
    counters = emulator.control.counters()
    emulator.stop()
    services.engine.dispose()

    elapsed = time.monotonic() - started
    mode = "dedup" if args.dedup else "no dedup (every create commits a new sales order)"
    print(f"soak_orders: {args.orders} orders, {args.workers} client threads, ERP {mode}")
    print(f"  database             {env['ERPBRIDGE_DATABASE_URL'].split('://')[0]}")
    print(f"  first answers        {dict(sorted(answers.items()))}")
    print(f"  client retries       {dict(sorted(client_retries.items())) or 0}")
    print(f"  export rounds        {dict(rounds)}; dead-lettered then re-sent: {len(dead)}")
    print(f"  timeline outcomes    {dict(sorted(outcomes.items()))}")
    injected = {k.removeprefix("faults."): v for k, v in counters.items() if k.startswith("faults.")}
    print(f"  faults injected      {injected}; down windows: {counters.get('down_windows', 0)}")
    print(f"  ERP requests         {counters.get('requests', 0)}")
    print(f"  created              {created}")
    print(f"  duplicated           {duplicated}")
    print(f"  lost                 {lost}")
    print(f"  shop state wrong     {mismatched} (not created, or erp_order_id not the ERP's number)")
    print(f"  still waiting        {still_waiting}")
    print(
        f"  elapsed              {elapsed:.1f} s (placing {placed_s:.1f} s; bound {args.max_seconds:.0f} s)"
    )
    return 0 if duplicated == lost == mismatched == still_waiting == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
