"""Concurrent mixed load on the live API, and the checks that no answer crossed (helper of
test_concurrency.py; not a test module).

One burst is 50 requests sent at once: prices, document lists and orders for three customers, each
with that customer's token, plus health checks. Every answer is checked against the request it
answers (customer, products, order id), so an answer meant for another request is counted as
crossed. An order answered 2xx is looked up in the shop database the moment the answer arrives
(``row_exists``): an accepted order is stored before it is answered.

Run as a script (``python live_load.py lambda``) it sends the bursts through the Lambda handler
itself from many threads, in a fresh process, and prints the outcomes as JSON.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

CUSTOMERS = ("10000", "10010", "10020")
BURST = 50
JWT_SECRET = "test-secret-for-customer-tokens-0123456789"
ORDER_FAULTS = {"kinds": ["create_order"], "commit_then_drop_rate": 0.25, "seed": 14}  # some answers unknown


@dataclass
class Spec:
    """One request of a burst and what its answer must say."""

    index: int
    kind: str  # prices | documents | order | health
    method: str
    path: str
    customer: str | None = None
    body: dict[str, Any] | None = None
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    products: list[str] = field(default_factory=list)
    order_id: str | None = None
    impatient: bool = False  # the client gives up after 50 ms and retries with the same key


@dataclass
class Outcome:
    index: int
    kind: str
    customer: str | None
    status: int
    body: Any
    problems: list[str]
    stored_at_answer: bool | None = None  # orders answered 2xx: was the row there when it arrived?
    attempts: int = 1


def token(customer: str) -> str:
    import jwt

    claims = {"customer_number": customer, "exp": int(time.time()) + 3600}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def burst(tag: str) -> list[Spec]:
    """50 mixed requests; ``tag`` makes order ids and Idempotency-Keys unique per burst."""
    tokens = {customer: f"Bearer {token(customer)}" for customer in CUSTOMERS}
    specs: list[Spec] = []
    for n in range(BURST):
        customer = CUSTOMERS[n % len(CUSTOMERS)]
        auth = {"Authorization": tokens[customer]}
        kind = ("documents", "prices", "order", "documents", "prices")[n % 5] if n % 25 else "health"
        if kind == "health":
            specs.append(Spec(n, kind, "GET", "/v1/health"))
        elif kind == "documents":
            specs.append(
                Spec(
                    n,
                    kind,
                    "GET",
                    f"/v1/customers/{customer}/documents",
                    customer=customer,
                    query={"type": "invoice", "page_size": str(5 + n % 4)},
                    headers=auth,
                )
            )
        elif kind == "prices":
            products = [f"P{1 + (n + k) % 40:06d}" for k in range(1 + n % 3)]
            specs.append(
                Spec(
                    n,
                    kind,
                    "POST",
                    "/v1/prices",
                    customer=customer,
                    body={"customer_number": customer, "items": [{"product_id": p} for p in products]},
                    headers=auth,
                    products=products,
                )
            )
        else:
            order_id = f"WEB-{tag}-{n:02d}"
            specs.append(
                Spec(
                    n,
                    kind,
                    "POST",
                    "/v1/orders",
                    customer=customer,
                    body={
                        "order_id": order_id,
                        "customer_number": customer,
                        "lines": [{"product_id": f"P{1 + n % 20:06d}", "quantity": 1 + n % 3}],
                    },
                    headers={**auth, "Idempotency-Key": f"key-{order_id}"},
                    order_id=order_id,
                    impatient=n % 4 == 0,
                )
            )
    return specs


def problems_of(spec: Spec, status: int, body: Any) -> list[str]:
    """Why this answer is not the answer to ``spec`` (empty when it is)."""
    try:
        return _problems_of(spec, status, body)
    except (KeyError, TypeError, AttributeError, ValueError):
        return [f"crossed: {spec.kind} answered with another shape: {json.dumps(body)[:200]}"]


def _problems_of(spec: Spec, status: int, body: Any) -> list[str]:
    if not 200 <= status < 300:
        return [f"status {status}: {json.dumps(body)[:300]}"]
    if not isinstance(body, dict):
        return [f"not a JSON object: {str(body)[:200]}"]
    found: list[str] = []
    if spec.kind == "documents":
        customers = {body.get("customer_number")} | {item.get("SellToCustomerNo") for item in body["items"]}
        if customers != {spec.customer}:
            found.append(f"crossed: documents of {sorted(map(str, customers))} for {spec.customer}")
        if len(body["items"]) > int(spec.query["page_size"]) or not body["items"]:
            found.append(f"crossed: {len(body['items'])} items for page_size {spec.query['page_size']}")
    elif spec.kind == "prices":
        answered = [item["product_id"] for item in body["items"]]
        if body.get("customer_number") != spec.customer or answered != spec.products:
            found.append(
                f"crossed: prices of {body.get('customer_number')} {answered} "
                f"for {spec.customer} {spec.products}"
            )
    elif spec.kind == "order":
        if body.get("order_id") != spec.order_id or body.get("status") not in (
            "created",
            "queued",
            "unknown",
        ):
            found.append(f"crossed: order answer {json.dumps(body)[:200]} for {spec.order_id}")
    elif spec.kind == "health" and "erp_reachable" not in body:
        found.append(f"crossed: health answered {json.dumps(body)[:200]}")
    return found


def run_burst(
    specs: list[Spec],
    send: Callable[[Spec, float | None], tuple[int, Any]],
    row_exists: Callable[[str], bool],
    *,
    timeout_error: type[BaseException] | tuple[type[BaseException], ...] = (),
) -> list[Outcome]:
    """Send every spec at once (one thread each, released together) and check every answer."""
    start = threading.Barrier(len(specs))

    def one(spec: Spec) -> Outcome:
        start.wait(timeout=60)
        attempts = 0
        while True:
            attempts += 1
            patience = 0.05 if spec.impatient and attempts == 1 else None
            try:
                status, body = send(spec, patience)
            except timeout_error:
                continue  # gave up waiting: send the same order again, same key
            if status == 409 and spec.kind == "order" and attempts < 200:
                time.sleep(0.05)  # the first attempt is still being processed
                continue
            break
        outcome = Outcome(spec.index, spec.kind, spec.customer, status, body, problems_of(spec, status, body))
        outcome.attempts = attempts
        if spec.kind == "order" and 200 <= status < 300 and spec.order_id:
            outcome.stored_at_answer = row_exists(spec.order_id)
            if not outcome.stored_at_answer:
                outcome.problems.append(f"order {spec.order_id} answered {status} but not stored")
        return outcome

    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        return list(pool.map(one, specs))


def http_sender(base_url: str) -> Callable[[Spec, float | None], tuple[int, Any]]:
    import requests

    def send(spec: Spec, timeout: float | None) -> tuple[int, Any]:
        try:
            answer = requests.request(
                spec.method,
                base_url + spec.path,
                params=spec.query or None,
                json=spec.body,
                headers=spec.headers,
                timeout=timeout or 60,
            )
        except requests.Timeout:
            raise
        except requests.ConnectionError as error:  # the server dropped the connection unanswered
            return 0, f"no answer: {error}"
        try:
            return answer.status_code, answer.json()
        except ValueError:
            return answer.status_code, answer.text[:300]

    return send


def lambda_sender() -> Callable[[Spec, float | None], tuple[int, Any]]:
    """Calls ``live_api.lambda_handler`` directly (the client's patience does not apply)."""
    from urllib.parse import urlencode

    import live_api

    from erpbridge_cli.commands.live import to_event

    class Context:
        function_name = "erpbridge-live"
        memory_limit_in_mb = 512
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:erpbridge-live"
        aws_request_id = "local"

        def get_remaining_time_in_millis(self) -> int:
            return 30_000

    def send(spec: Spec, _timeout: float | None) -> tuple[int, Any]:
        path = spec.path + (f"?{urlencode(spec.query)}" if spec.query else "")
        data = b"" if spec.body is None else json.dumps(spec.body).encode()
        event = to_event(spec.method, path, {"Content-Type": "application/json", **spec.headers}, data)
        answer = live_api.lambda_handler(event, Context())
        raw = answer.get("body") or ""
        payload = base64.b64decode(raw) if answer.get("isBase64Encoded") else raw.encode()
        try:
            return int(answer["statusCode"]), json.loads(payload)
        except ValueError:
            return int(answer["statusCode"]), payload[:300].decode(errors="replace")

    return send


def order_row_lookup(database_url: str) -> Callable[[str], bool]:
    """``row_exists(order_id)`` on a connection of its own (not the API's engine)."""
    import sqlalchemy as sa

    from erpbridge.adapters.sql.live_tables import LIVE_ORDERS
    from erpbridge.shopdb.schema import table

    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    shop_orders = table("EcomOrders")

    def row_exists(order_id: str) -> bool:
        query = (
            sa.select(sa.func.count())
            .select_from(LIVE_ORDERS.join(shop_orders, shop_orders.c.OrderID == LIVE_ORDERS.c.order_id))
            .where(LIVE_ORDERS.c.order_id == order_id)
        )
        with engine.connect() as connection:
            return bool(connection.execute(query).scalar())

    return row_exists


def summary(outcomes: list[Outcome]) -> dict[str, int]:
    return {
        "requests": len(outcomes),
        "crossed": sum(1 for o in outcomes if any(p.startswith("crossed") for p in o.problems)),
        "5xx": sum(1 for o in outcomes if o.status >= 500),
        "no_answer": sum(1 for o in outcomes if o.status == 0),
        "other_non_2xx": sum(1 for o in outcomes if 0 < o.status < 200 or 300 <= o.status < 500),
        "orders_2xx": sum(1 for o in outcomes if o.kind == "order" and 200 <= o.status < 300),
        "orders_2xx_not_stored": sum(1 for o in outcomes if o.stored_at_answer is False),
    }


def _lambda_main(bursts: int, tag: str) -> None:
    """A fresh process, as a cold Lambda environment (settings from the environment, nothing built),
    then ``bursts`` bursts through the handler from 50 threads each."""
    row_exists = order_row_lookup(os.environ["ERPBRIDGE_DATABASE_URL"])
    send = lambda_sender()
    results = []
    for number in range(bursts):
        outcomes = run_burst(burst(f"{tag}{number}"), send, row_exists)
        results.append([asdict(o) for o in outcomes])
    print(json.dumps(results))


def _services_main(threads: int) -> None:
    """A fresh process: ``threads`` threads ask for every service at once; print how many distinct
    objects each name gave (1 = built once)."""
    from erpbridge.wiring.live import services

    names = ("engine", "erp", "cache", "prices", "orders", "documents", "health", "tokens")
    got: list[tuple[str, object]] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def ask() -> None:
        start.wait(timeout=60)
        live = services()
        for name in names:
            value = getattr(live, name)
            with lock:
                got.append((name, value))  # kept: an id is unique only while the object lives

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(ask) for _ in range(threads)]:
            future.result()
    print(json.dumps({name: len({id(v) for n, v in got if n == name}) for name in names}))


def _fork_server() -> None:
    """Starts `erpbridge serve` processes cheaply: imports what `erpbridge serve` has imported when
    it starts listening (the CLI and the live API module) and nothing else — no settings read, no
    service built, no request resolved — then forks one server per line read from stdin
    (``{"env": {...}, "log": "path"}``) and prints its pid. Each child is a fresh process in the
    state of a server that has just started; it only skips the second or so of imports."""
    import signal

    import erpbridge_cli.main
    from erpbridge_cli.commands.live import _import_live_api

    _import_live_api()

    def reap(*_: object) -> None:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass

    signal.signal(signal.SIGCHLD, reap)
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.environ.clear()
            os.environ.update(request["env"])
            sys.argv = ["erpbridge", "serve", "--port", "0"]
            try:
                erpbridge_cli.main.main()
            finally:
                os._exit(1)
        print(pid, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "fork-server":
        _fork_server()
    elif sys.argv[1] == "lambda":
        _lambda_main(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "services":
        _services_main(int(sys.argv[2]))
