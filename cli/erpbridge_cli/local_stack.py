"""`make run`: the whole batch path on a laptop, no AWS account and no Docker.

Steps (one function each, so more can be added):

1. start the BC emulator (real HTTP, in this process);
2. create or upgrade the SQLite shop database (``.erpbridge/shop.db``);
3. run the four fetch jobs through the real Lambda handlers, and for every staged object build
   the EventBridge "Object Created" event S3 would send and call the importer handler with it;
5. print what landed (rows per table) and the runs;
6. serve the operator console (``erpbridge console``) and print its link with the token;
7. serve the live API (``erpbridge serve``) on the emulator and the database, send a few example
   requests, print curl commands; keep serving until Ctrl-C when run from a terminal;
8. print the next steps: ``erpbridge`` commands that work on what is left once it stopped.

The batch state is the CLI's own (the project's state folder, :mod:`erpbridge_cli.project`): the
staged files in ``.erpbridge/objects/``, runs, locks and claims in ``.erpbridge/batch.db``, so
``erpbridge runs list`` shows these runs afterwards and ``erpbridge jobs run`` shares their locks.
``create_batch_resources`` builds the AWS side (S3 bucket, DynamoDB tables from template.yaml) for
the tests and benchmarks that run on moto. ``ERPBRIDGE_*`` settings are set for this process only.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from erpbridge_cli.project import CHECKOUT, Project

ROOT = CHECKOUT
STATE_DIR = Project(ROOT).state_dir
FETCH_JOBS = ("fetch-shop-data", "fetch-customer-data", "fetch-stock-level", "fetch-prices")
BUCKET = "erpbridge-local-staging"
TABLES = {
    "RunsTable": "erpbridge-runs",
    "LocksTable": "erpbridge-locks",
    "IdempotencyTable": "erpbridge-idempotency",
}

COUNTED = ("inserted", "updated", "deleted", "skipped")

# Wide enough for the runs table even when the output is piped (rich assumes 80 columns then).
console = Console(width=max(Console().width, 150))


@dataclass
class LocalStack:
    """What the steps share: the environment they build up, and what to stop at the end."""

    state_dir: Path = STATE_DIR
    env: dict[str, str] = field(default_factory=dict)
    stack: ExitStack = field(default_factory=ExitStack)

    @property
    def database_url(self) -> str:
        return self.env["ERPBRIDGE_DATABASE_URL"]

    def apply_env(self) -> None:
        os.environ.update(self.env)
        from erpbridge.settings import get_settings

        get_settings.cache_clear()


@dataclass(frozen=True)
class LambdaContext:
    """What the handlers read from a Lambda context."""

    function_name: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:000000000000:function:local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


# --- steps ---------------------------------------------------------------------------------------


def start_emulator(local: LocalStack, *, products: int = 1000, customers: int = 50) -> None:
    from bc_emulator.server import Emulator, EmulatorConfig

    emulator = Emulator(EmulatorConfig(auth="key", products=products, customers=customers)).start()
    local.stack.callback(emulator.stop)
    local.env.update(emulator.settings_env())
    console.print(f"BC emulator        {emulator.soap_url}")


def create_tables_from_template(tables: Mapping[str, str]) -> None:
    """DynamoDB tables (template.yaml logical id → table name) with the key schemas and indexes
    the template declares, so local and test tables cannot drift from the stack."""
    import boto3
    from samtranslator.yaml_helper import yaml_parse

    resources = yaml_parse((ROOT / "template.yaml").read_text())["Resources"]
    dynamodb = boto3.client("dynamodb")
    for logical_id, name in tables.items():
        properties = resources[logical_id]["Properties"]
        arguments: dict[str, Any] = {
            "TableName": name,
            "BillingMode": properties["BillingMode"],
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "KeySchema": properties["KeySchema"],
        }
        if "GlobalSecondaryIndexes" in properties:
            arguments["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
        dynamodb.create_table(**arguments)


def create_batch_resources(bucket: str = BUCKET, tables: Mapping[str, str] = TABLES) -> None:
    """The staging bucket and the batch tables, with the key schemas template.yaml declares."""
    import boto3

    boto3.client("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    create_tables_from_template(tables)


def create_database(local: LocalStack) -> None:
    from erpbridge.shopdb.migrate import upgrade

    local.state_dir.mkdir(parents=True, exist_ok=True)
    project = Project(ROOT)
    local.env.setdefault("ERPBRIDGE_DATABASE_URL", f"sqlite:///{local.state_dir / 'shop.db'}")
    local.env.setdefault("ERPBRIDGE_STATE_DIR", str(local.state_dir))
    local.env.setdefault("ERPBRIDGE_MAPPINGS_DIR", str(project.mappings_dir))
    for name in ("STAGING_BUCKET", "RUNS_TABLE", "LOCKS_TABLE", "IDEMPOTENCY_TABLE"):
        os.environ.pop(f"ERPBRIDGE_{name}", None)  # the local batch state, never a stack's tables
    local.apply_env()
    applied = upgrade(local.database_url)
    console.print(f"shop database      {local.database_url} ({len(applied)} migration(s) applied)")


def _handlers() -> tuple[Callable[..., dict[str, Any]], Callable[..., dict[str, Any]]]:
    # The batch functions' folder is what Lambda puts on the path as /var/task.
    folder = str(ROOT / "functions" / "batch")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    import fetch_job
    import import_staged

    from erpbridge.wiring import batch as batch_wiring

    batch_wiring.batch_runtime.cache_clear()
    return fetch_job.lambda_handler, import_staged.lambda_handler


def object_created_event(bucket: str, key: str, size: int, etag: str) -> dict[str, Any]:
    """The EventBridge event S3 sends for a new object (detail-type "Object Created")."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "000000000000",
        "time": now,
        "region": os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"),
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": etag, "sequencer": uuid.uuid4().hex[:18].upper()},
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": "000000000000",
            "reason": "CompleteMultipartUpload",
        },
    }


def run_fetch_jobs(local: LocalStack, jobs: tuple[str, ...] = FETCH_JOBS) -> list[dict[str, Any]]:
    """Each job through the fetch handler; each staged object through the importer handler."""
    from erpbridge.settings import load_settings
    from erpbridge.wiring.batch import runtime_from_settings

    fetch, import_staged = _handlers()
    store = runtime_from_settings(load_settings()).store()
    outcomes = []
    for job in jobs:
        if _long_running(job):
            outcomes.extend(_run_workflow(job))
            continue
        with console.status(f"{job}: fetching …"):
            fetched = fetch({"job": job, "trigger": "local"}, LambdaContext("FetchJobFunction"))
        console.print(f"{job}: {fetched['result']}, {fetched['pages']} page(s), {fetched['bytes']:,} bytes")
        for key in fetched["keys"]:
            head = store.head(key)
            assert head is not None, key  # the fetch has just staged it
            event = object_created_event(store.bucket, key, head.size, head.etag)
            with console.status(f"{job}: importing {key} …"):
                imported = import_staged(event, LambdaContext("ImportStagedFunction"))
            counts = imported["counts"]
            summary = ", ".join(f"{counts[name]:,} {name}" for name in COUNTED)
            error = f" — {imported['error']}" if imported.get("error") else ""
            console.print(f"  {key} → {imported['result']}: {summary}{error}")
            outcomes.append(imported)
    return outcomes


def _long_running(job: str) -> bool:
    from erpbridge.wiring.batch import batch_runtime

    return batch_runtime().job(job).long_running


def _run_workflow(job: str) -> list[dict[str, Any]]:
    """A ``long_running`` job: the workflow's states in order (Step Functions in AWS), over the
    runtime the handlers use."""
    from erpbridge.batch.finalise import FinaliseResult
    from erpbridge.batch.models import Trigger
    from erpbridge.batch.workflow import run_workflow
    from erpbridge.wiring.batch import batch_runtime

    with console.status(f"{job}: workflow (fetch page by page, import, finalise) …"):
        result = run_workflow(batch_runtime(), job, Trigger.LOCAL)
    console.print(f"{job}: {result.result}, {result.pages} page(s) → run {result.run_id}")
    for outcome in result.imports:
        counts = outcome.counts.as_dict()
        summary = ", ".join(f"{counts[name]:,} {name}" for name in COUNTED)
        console.print(f"  {outcome.key} → {outcome.result}: {summary}")
    if result.finalised is not None and result.finalised.result is FinaliseResult.FINALISED:
        console.print(f"  finalised: {result.finalised.counts.deleted:,} removed/deactivated")
    return [outcome.as_dict() for outcome in result.imports]


def rows_per_table(database_url: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            names = sorted(sa.inspect(conn).get_table_names())
            return {
                name: int(conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one())
                for name in names
            }
    finally:
        engine.dispose()


def print_landed(local: LocalStack) -> None:
    counts = rows_per_table(local.database_url)
    table = Table(title="what landed in the shop database")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in counts.items():
        if count and not name.startswith("erpbridge_"):
            table.add_row(name, f"{count:,}")
    console.print(table)
    from erpbridge.settings import load_settings
    from erpbridge.wiring.batch import runtime_from_settings
    from erpbridge_cli.commands._batch_common import runs_table

    records = runtime_from_settings(load_settings()).runs.list_runs(limit=len(FETCH_JOBS))
    console.print(runs_table(records, "runs"))


def serve_console(local: LocalStack, *, port: int = 8090) -> str:
    """The operator console and admin API (``erpbridge console``) on the same stack; prints the
    link with its token, returns the console's base URL."""
    import socket

    from erpbridge_cli.console_server import console_url, serve_console_in_background, use_console_token

    local.apply_env()
    with socket.socket() as probe:  # 8090 when free, else any free port
        port = port if probe.connect_ex(("127.0.0.1", port)) != 0 else 0
    token = use_console_token(operator=os.environ.get("USER") or "local operator")
    server = serve_console_in_background(port)
    local.stack.callback(server.shutdown)
    console.print(f"operator console   {console_url(server, token)}", highlight=False, soft_wrap=True)
    return f"http://127.0.0.1:{server.server_address[1]}"


def serve_live_api(local: LocalStack, *, port: int = 8080) -> str:
    """Step 6 (live): serve the live API on the emulator and the SQLite database, show a few
    example requests and their answers; keep serving until Ctrl-C when run from a terminal.
    Returns the id of the order the examples placed."""
    import socket

    from erpbridge_cli.commands.live import demo_requests, example_requests, serve_in_background

    local.apply_env()
    with socket.socket() as probe:  # 8080 when free, else any free port
        port = port if probe.connect_ex(("127.0.0.1", port)) != 0 else 0
    server, _ = serve_in_background(port)
    local.stack.callback(server.shutdown)
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    console.print(f"live API           {base_url}  (Swagger UI: {base_url}/v1/swagger)")
    lines, order_id = demo_requests(base_url)
    for line in lines:
        console.print(f"  {line}", highlight=False, soft_wrap=True)
    console.print("try:")
    for line in example_requests(base_url):
        console.print(f"  {line}", highlight=False, soft_wrap=True)
    if sys.stdin.isatty():
        import contextlib
        import threading

        console.print("serving; Ctrl-C stops everything")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return order_id


def next_steps(order_id: str) -> list[str]:
    """Commands that work on what `make run` leaves behind, once it has stopped (the runs, the
    orders and the shop database are in the state folder; the ERP and the API are not)."""
    from erpbridge.settings import load_settings
    from erpbridge.wiring.batch import runtime_from_settings

    runs = runtime_from_settings(load_settings()).runs.list_runs(limit=1)
    cli = ".venv/bin/erpbridge"
    steps = [f"{cli} runs list                          # the runs above, kept in .erpbridge/batch.db"]
    if runs:
        steps.append(f"{cli} runs show {runs[0].run_id}   # one run in full (--json)")
    steps.append(f"{cli} orders show {order_id}   # the demo order's timeline")
    steps += [
        f"{cli} mappings show fetch-stock-level        # how a job's columns map",
        f"{cli} jobs list                              # every job and its schedule",
        f"{cli} emulator                               # BC again; it prints the settings that",
        f"{cli} jobs run fetch-stock-level             # …this and `{cli} serve` need",
    ]
    return steps


@contextmanager
def local_stack(
    env: Mapping[str, str] | None = None,
    *,
    state_dir: Path = STATE_DIR,
    products: int = 1000,
    customers: int = 50,
) -> Iterator[LocalStack]:
    """Started emulator + local AWS + database; everything stopped on exit."""
    local = LocalStack(state_dir=state_dir, env=dict(env or {}))
    with local.stack:
        start_emulator(local, products=products, customers=customers)
        create_database(local)
        yield local


def main() -> int:
    from erpbridge.errors import ErpBridgeError

    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "erpbridge-local")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "erpbridge")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    try:
        with local_stack() as local:
            outcomes = run_fetch_jobs(local)
            print_landed(local)
            serve_console(local)
            order_id = serve_live_api(local)
            steps = next_steps(order_id)
        console.print("next steps (they still work once this has stopped; the state is in .erpbridge/):")
        for line in steps:
            console.print(f"  {line}", highlight=False, soft_wrap=True)
    except ErpBridgeError as error:
        console.print(f"[red]error:[/red] {type(error).__name__}: {error}")
        return 1
    failed = [o for o in outcomes if o["result"] == "failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
