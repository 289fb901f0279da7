"""Concurrent requests in one process: answers never cross, nothing turned away, nothing accepted
and lost — through `erpbridge serve` over real HTTP and through the Lambda handler from many
threads, on SQLite and PostgreSQL (issue 14, section 1; docs/live-concurrency.md).

Each start is a fresh process (nothing built, nothing resolved yet: a cold start) against the BC
emulator; several starts run side by side, on one database per test that is empty at first. A burst
is 50 requests released at once (tests/live/live_load.py): prices, document lists and orders for
three customers with their own tokens, some orders from clients that give up after 50 ms and send
the same order again, and the ERP dropping the connection after a quarter of the creates (answer
``unknown``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import live_load
import pytest
import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
PYTHONPATH = os.pathsep.join(
    str(ROOT / part) for part in ("layers/common", "functions/live", "functions/batch", "cli", "emulator")
)
STARTS = 20
PARALLEL_STARTS = 4


def api_env(emulator: Any, database_url: str, state_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ERPBRIDGE_") or key == "ERPBRIDGE_TEST_DATABASE_URL"
    }
    return {
        **env,
        **emulator.settings_env(),
        "ERPBRIDGE_DATABASE_URL": database_url,
        "ERPBRIDGE_STATE_DIR": str(state_dir),
        "ERPBRIDGE_JWT_SECRET": live_load.JWT_SECRET,
        "ERPBRIDGE_JWT_REQUIRED": "true",
        "PYTHONPATH": PYTHONPATH,
        "COLUMNS": "250",  # one line per message in the server's output
    }


@pytest.fixture
def faulty_emulator(emulator: Any) -> Any:
    emulator.control.set_faults(**live_load.ORDER_FAULTS)
    return emulator


def in_erp(emulator: Any) -> dict[str, int]:
    """How many sales orders the ERP holds per shop order id."""
    counts: dict[str, int] = {}
    for sales_order in emulator.control.sales_orders():
        for shop_id in set(re.findall(r"'(WEB-[A-Za-z0-9-]+)'", str(sales_order))):
            counts[shop_id] = counts.get(shop_id, 0) + 1
    return counts


def check_stored_orders(outcomes: list[live_load.Outcome], get: Any) -> list[str]:
    """After the burst: every order answered 2xx is readable, for its own customer."""
    problems = []
    for outcome in outcomes:
        if outcome.kind == "order" and 200 <= outcome.status < 300:
            order_id = outcome.body["order_id"]
            status, body = get(order_id, outcome.customer)
            if status != 200 or body.get("customer_number") != outcome.customer:
                problems.append(f"order {order_id} answered {outcome.status}, then GET {status} {body}")
    return problems


def check_erp(outcomes: list[live_load.Outcome], erp: dict[str, int]) -> list[str]:
    """Created orders are in the ERP once; no order is there twice."""
    problems = [f"{order_id} is in the ERP {count} times" for order_id, count in erp.items() if count > 1]
    for outcome in outcomes:
        order_id = outcome.body["order_id"] if outcome.kind == "order" and outcome.status == 201 else None
        if order_id and erp.get(order_id) != 1:
            problems.append(f"{order_id} answered created; sales orders in the ERP: {erp.get(order_id, 0)}")
    return problems


# --- `erpbridge serve` over HTTP ------------------------------------------------------------------


class ServeStarter:
    """Starts fresh `erpbridge serve` processes through the fork server of live_load.py."""

    def __init__(self, env: dict[str, str]) -> None:
        self._process = subprocess.Popen(
            [sys.executable, str(Path(live_load.__file__)), "fork-server"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )
        self._lock = threading.Lock()

    def start(self, env: dict[str, str], log: Path) -> tuple[int, str]:
        """The new server's pid and base URL, once it listens."""
        assert self._process.stdin is not None and self._process.stdout is not None
        with self._lock:
            self._process.stdin.write(json.dumps({"env": env, "log": str(log)}).encode() + b"\n")
            self._process.stdin.flush()
            pid = int(self._process.stdout.readline())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace") if log.exists() else ""
            found = re.search(r"live API on (http://127\.0\.0\.1:\d+)", text)
            if found:
                return pid, found.group(1)
            if not _alive(pid):
                break
            time.sleep(0.02)
        stop(pid)
        raise AssertionError(f"erpbridge serve did not start:\n{text[-3000:]}")

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(pid: int) -> None:
    """Stop a server and wait until it is gone (its connections closed)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture(scope="module")
def serve_starter() -> Iterator[ServeStarter]:
    starter = ServeStarter({**os.environ, "PYTHONPATH": PYTHONPATH, "COLUMNS": "250"})
    yield starter
    starter.close()


def one_serve_start(
    starter: ServeStarter, number: int, database_url: str, emulator: Any, folder: Path
) -> list[live_load.Outcome]:
    """Start `erpbridge serve`, send one burst right away, read back every accepted order, stop."""
    folder.mkdir()
    pid, base_url = starter.start(api_env(emulator, database_url, folder / "state"), folder / "serve.log")
    try:
        outcomes = live_load.run_burst(
            live_load.burst(f"s{number}"),
            live_load.http_sender(base_url),
            live_load.order_row_lookup(database_url),
            timeout_error=requests.Timeout,
        )

        def get(order_id: str, customer: str) -> tuple[int, Any]:
            answer = requests.get(
                f"{base_url}/v1/orders/{order_id}",
                headers={"Authorization": f"Bearer {live_load.token(customer)}"},
                timeout=30,
            )
            return answer.status_code, answer.json()

        outcomes[0].problems.extend(check_stored_orders(outcomes, get))
    finally:
        stop(pid)
    return outcomes


def test_serve_answers_never_cross_and_accepted_orders_are_stored(
    serve_starter: ServeStarter, database_url: str, faulty_emulator: Any, tmp_path: Path
) -> None:
    """20 fresh `erpbridge serve` processes, 50 concurrent mixed requests each, right after start.

    The processes share one database, empty at first: the first ones migrate it side by side (as
    several servers or containers starting together on a new database), later ones find it ready.
    """
    with ThreadPoolExecutor(max_workers=PARALLEL_STARTS) as pool:
        runs = list(
            pool.map(
                lambda n: one_serve_start(
                    serve_starter, n, database_url, faulty_emulator, tmp_path / f"start-{n}"
                ),
                range(STARTS),
            )
        )
    outcomes = [outcome for run in runs for outcome in run]
    totals = live_load.summary(outcomes)
    kind = sa.make_url(database_url).get_backend_name()
    print(f"erpbridge serve, {kind}, {STARTS} starts x {live_load.BURST}: {json.dumps(totals)}")
    problems = [f"start {n}: {p}" for n, run in enumerate(runs) for o in run for p in o.problems]
    problems += check_erp(outcomes, in_erp(faulty_emulator))
    assert problems == [], f"{json.dumps(totals)}\n" + "\n".join(problems[:30])
    assert totals["crossed"] == totals["5xx"] == totals["no_answer"] == totals["other_non_2xx"] == 0
    assert totals["orders_2xx"] == STARTS * sum(1 for s in live_load.burst("x") if s.kind == "order")
    unknown = sum(1 for o in outcomes if o.kind == "order" and o.body.get("status") == "unknown")
    assert unknown > 0  # the ERP dropped some answers: those orders were stored all the same


# --- the Lambda handler from many threads ---------------------------------------------------------


def test_lambda_handler_called_from_many_threads_never_crosses_answers(
    database_url: str, faulty_emulator: Any, tmp_path: Path
) -> None:
    """A fresh process as a cold Lambda environment (settings from the environment, database
    migrated by the deployment); 3 bursts of 50 threads calling ``lambda_handler`` at once."""
    from erpbridge.shopdb import dispose_engines, upgrade

    upgrade(database_url)
    dispose_engines()
    env = {
        **api_env(faulty_emulator, database_url, tmp_path / "state"),
        "POWERTOOLS_METRICS_DISABLED": "false",
    }
    done = subprocess.run(
        [sys.executable, str(Path(live_load.__file__)), "lambda", "3", "la"],
        env=env,
        capture_output=True,
        timeout=240,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    bursts = [[live_load.Outcome(**o) for o in run] for run in json.loads(done.stdout.splitlines()[-1])]
    outcomes = [outcome for run in bursts for outcome in run]
    totals = live_load.summary(outcomes)
    print(f"lambda_handler from 50 threads, 3 bursts: {json.dumps(totals)}")
    problems = [p for o in outcomes for p in o.problems] + check_erp(outcomes, in_erp(faulty_emulator))
    assert problems == [], f"{json.dumps(totals)}\n" + "\n".join(problems[:30])
    assert totals["crossed"] == totals["5xx"] == totals["no_answer"] == totals["other_non_2xx"] == 0
    assert totals["orders_2xx"] == 3 * sum(1 for s in live_load.burst("x") if s.kind == "order")


# --- building the services ------------------------------------------------------------------------


def test_services_are_built_once_when_many_threads_ask_at_once(
    database_url: str, emulator: Any, tmp_path: Path
) -> None:
    """`erpbridge serve`'s services (which migrate the database) asked for by 16 threads at once in a
    fresh process: one engine, one migration run, one of each service."""
    code = (
        "import sys; sys.argv = ['live_load', 'services', '16'];"
        "from erpbridge_cli.commands.live import _local_services; _local_services();"
        f"import runpy; runpy.run_path({str(Path(live_load.__file__))!r}, run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=api_env(emulator, database_url, tmp_path / "state"),
        capture_output=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    counts = json.loads(done.stdout.splitlines()[-1])
    assert counts == dict.fromkeys(counts, 1)
    from erpbridge.shopdb import current_revision
    from erpbridge.shopdb.migrate import available_revisions

    assert current_revision(database_url) == available_revisions()[-1]


def test_concurrent_upgrades_apply_each_migration_once(database_url: str) -> None:
    """Several processes (here: threads) migrating one empty database at once: none fails with
    "database is locked", and each migration is applied exactly once."""
    from erpbridge.shopdb import dispose_engines, upgrade
    from erpbridge.shopdb.migrate import applied_revisions, available_revisions

    start = threading.Barrier(6)

    def migrate() -> list[str]:
        start.wait(timeout=30)
        return upgrade(database_url)

    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            applied = [future.result() for future in [pool.submit(migrate) for _ in range(6)]]
        assert sorted(r for run in applied for r in run) == available_revisions()
        assert applied_revisions(database_url) == available_revisions()
    finally:
        dispose_engines()
