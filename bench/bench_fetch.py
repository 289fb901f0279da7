"""Benchmark: fetch the 100,000-product shop data from the BC emulator into S3 (moto server).

Three processes, so each one's memory is its own: the emulator, the moto server (which keeps the
uploaded objects in *its* memory), and the fetching process, which runs the real ``run_fetch``
use case with the S3 multipart store and the DynamoDB runs/locks tables. Reported per fetching
process: wall time, bytes staged, pages, and peak RSS (``ru_maxrss``), beside two baselines measured
in the same run:

- ``baseline``: the same process, same imports and clients (ERP, S3, DynamoDB), sending only a
  ping and one tiny S3 put (what the interpreter, the libraries and the clients cost before any
  data flows);
- ``naive``: the whole response read into memory with ``transport.call`` and uploaded with one PUT
  (what streaming saves). Skip it with ``--no-naive``.

``streamed`` runs with the glibc settings template.yaml gives the fetch function
(``MALLOC_ARENA_MAX=2``, ``MALLOC_MMAP_THRESHOLD_=262144``); ``streamed-default`` is the same
without them, for comparison. Target (issue #4): the streamed fetch's peak RSS stays under 100 MB.

    .venv/bin/python bench/bench_fetch.py [--products 100000] [--no-naive]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
BUCKET = "bench-staging"
TARGET_MB = 100
LAMBDA_MALLOC = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "262144"}  # as in template.yaml

EMULATOR_SCRIPT = """
import json, sys
from bc_emulator.server import Emulator, EmulatorConfig
emulator = Emulator(EmulatorConfig(port=0, products={products}, customers=50, auth="key")).start()
print(json.dumps(emulator.settings_env()), flush=True)
sys.stdin.read()
emulator.stop()
"""

MOTO_SCRIPT = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port={port}, verbose=False)
server.start()
print("ready", flush=True)
sys.stdin.read()
server.stop()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    paths = [str(ROOT / p) for p in ("layers/common", "emulator", "cli", "functions/batch")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "AWS_DEFAULT_REGION": "eu-west-1"}


def _start(script: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [PYTHON, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_env()
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise SystemExit(f"helper process failed to start: {script.splitlines()[1]}")
    return process, line.strip()


def _stop(process: subprocess.Popen[str]) -> None:
    if process.stdin:
        process.stdin.close()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


# --- the fetching process ----------------------------------------------------------------------


def fetch_process(mode: str) -> dict[str, Any]:
    """Runs in its own process (``--child MODE``); prints one JSON line of figures."""
    import boto3

    from erpbridge.adapters.aws.dynamodb_job_lock import DynamoDbJobLock
    from erpbridge.adapters.aws.dynamodb_runs import DynamoDbRunRecorder
    from erpbridge.adapters.aws.s3_staging import S3StagingStore
    from erpbridge.batch.fetch import run_fetch
    from erpbridge.batch.jobs import load_batch_job
    from erpbridge.batch.models import Trigger
    from erpbridge.erp.client import SoapErpClient
    from erpbridge.erp.ports import RequestKind
    from erpbridge.settings import load_settings

    job = load_batch_job("fetch-shop-data", ROOT / "mappings")
    client = SoapErpClient(load_settings())
    request = job.request_xml()
    started = time.perf_counter()
    figures: dict[str, Any] = {"mode": mode}
    if mode == "baseline":
        figures["ping"] = client.ping()
        boto3.client("s3").put_object(Bucket=BUCKET, Key="baseline", Body=b"x")
        boto3.client("dynamodb").list_tables()
    elif mode.startswith("streamed"):
        outcome = run_fetch(
            job.id,
            request,
            Trigger.MANUAL,
            transport=client,
            store=S3StagingStore(BUCKET),
            runs=DynamoDbRunRecorder("bench-runs"),
            lock=DynamoDbJobLock("bench-locks"),
        )
        figures.update(pages=outcome.pages, bytes=outcome.bytes)
    elif mode == "naive":
        s3 = boto3.client("s3")
        pages = total = 0
        while True:
            pages += 1
            text = client.call(request, kind=RequestKind.BATCH_FETCH)
            body = text.encode("utf-8")
            total += len(body)
            s3.put_object(Bucket=BUCKET, Key=f"naive/page-{pages:04d}.xml", Body=body)
            done = 'ExportIsDone="false"' not in text[:2000]
            del text, body
            if done:
                break
        figures.update(pages=pages, bytes=total)
    figures["seconds"] = round(time.perf_counter() - started, 2)
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return figures


def _create_resources() -> None:
    from erpbridge_cli.local_stack import create_batch_resources

    create_batch_resources(BUCKET, {"RunsTable": "bench-runs", "LocksTable": "bench-locks"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--no-naive", action="store_true")
    parser.add_argument(
        "--child", choices=["baseline", "streamed", "streamed-default", "naive"], help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(fetch_process(args.child)), flush=True)
        return 0

    print(f"starting the emulator with {args.products:,} products (generating the data set) …", flush=True)
    started = time.perf_counter()
    emulator, settings_line = _start(EMULATOR_SCRIPT.format(products=args.products))
    print(f"  ready in {time.perf_counter() - started:.1f} s", flush=True)
    port = _free_port()
    moto, _ = _start(MOTO_SCRIPT.format(port=port))
    env = {
        **_env(),
        **json.loads(settings_line),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "ERPBRIDGE_ERP_TIMEOUT_S": "900",
        # The naive baseline reads whole responses; lift the client's guard so it can.
        "ERPBRIDGE_ERP_MAX_RESPONSE_BYTES": str(4 * 1024**3),
    }
    names = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    os.environ.update({name: env[name] for name in names})
    try:
        _create_resources()
        results = []
        for mode in ["baseline", "streamed", "streamed-default"] + ([] if args.no_naive else ["naive"]):
            child_env = env if mode == "streamed-default" else {**env, **LAMBDA_MALLOC}
            answer = subprocess.run(
                [PYTHON, __file__, "--child", mode],
                env=child_env,
                capture_output=True,
                text=True,
                check=False,
            )
            if answer.returncode != 0:
                print(f"{mode} failed:\n{answer.stderr[-3000:]}", file=sys.stderr)
                if mode == "naive":  # the baseline may fail where streaming does not: report the rest
                    continue
                return 1
            results.append(json.loads(answer.stdout.strip().splitlines()[-1]))
    finally:
        _stop(moto)
        _stop(emulator)

    base = next(r for r in results if r["mode"] == "baseline")
    print(f"\nfetch-shop-data, {args.products:,} products, emulator → S3 (moto server), 5 MiB parts")
    print(f"{'process':<16} {'pages':>6} {'MB staged':>10} {'seconds':>8} {'peak RSS MB':>12} {'x base':>8}")
    for r in results:
        staged = r.get("bytes", 0) / 1e6
        ratio = r["peak_rss_mb"] / base["peak_rss_mb"]
        print(
            f"{r['mode']:<16} {r.get('pages', '-'):>6} {staged:>10.1f} {r['seconds']:>8} "
            f"{r['peak_rss_mb']:>12} {ratio:>7.2f}x"
        )
    streamed = next(r for r in results if r["mode"] == "streamed")
    verdict = "OK" if streamed["peak_rss_mb"] < TARGET_MB else "OVER TARGET"
    print(f"\nstreamed fetch peak RSS {streamed['peak_rss_mb']} MB (target < {TARGET_MB} MB): {verdict}")
    return 0 if streamed["peak_rss_mb"] < TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
