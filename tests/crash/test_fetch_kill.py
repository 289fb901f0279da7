"""A fetch killed mid-page costs nothing: the real fetch handler in a child process, talking to the
emulator (slow streaming) and S3/DynamoDB on a moto server, is SIGKILLed while its page's multipart
upload is half done. No half object is staged, the lock it leaves expires by itself, and the next
run aborts the unfinished upload and completes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from crash_support import ROOT, child_env, template_resources, wait_for

from erpbridge.adapters.local.staging import FolderStagingStore
from erpbridge.batch.fetch import DEFAULT_LOCK_TTL_S, FetchResult, run_fetch
from erpbridge.batch.models import FetchStatus, Trigger
from erpbridge.settings import load_settings
from erpbridge.wiring.batch import runtime_from_settings

JOB = "fetch-shop-data"
CHILD = """
import json, sys
import fetch_job
from erpbridge_cli.local_stack import LambdaContext
print(json.dumps(fetch_job.lambda_handler({"job": sys.argv[1]}, LambdaContext("fetch"))))
"""


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """S3 + DynamoDB on a moto server (a child process must reach them), with the batch resources."""
    from moto.server import ThreadedMotoServer

    from erpbridge_cli.local_stack import create_batch_resources

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "ERPBRIDGE_STAGING_BUCKET": "crash-staging",
        "ERPBRIDGE_RUNS_TABLE": "crash-runs",
        "ERPBRIDGE_LOCKS_TABLE": "crash-locks",
        "ERPBRIDGE_IDEMPOTENCY_TABLE": "crash-idempotency",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    tables = {"RunsTable": "crash-runs", "LocksTable": "crash-locks", "IdempotencyTable": "crash-idempotency"}
    create_batch_resources("crash-staging", tables)
    try:
        yield env
    finally:
        server.stop()


def _unfinished_uploads(s3: Any, bucket: str) -> list[dict[str, Any]]:
    return list(s3.list_multipart_uploads(Bucket=bucket, Prefix=f"staging/{JOB}/").get("Uploads", []))


def _objects(s3: Any, bucket: str, prefix: str) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def test_a_fetch_killed_mid_page_stages_nothing_its_lock_expires_and_the_next_run_completes(
    moto_server: dict[str, str], emulator_factory: Any, tmp_path: Path
) -> None:
    emulator = emulator_factory(auth="key", products=2000, customers=5)
    emulator.set_faults(stream_bytes_per_s=3_000_000)  # ~13 MB: a 5 MiB part goes up after ~2 s
    env = {
        **moto_server,
        **emulator.settings_env(),
        "ERPBRIDGE_MAPPINGS_DIR": str(ROOT / "mappings"),
        "ERPBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path}/unused.db",
        "POWERTOOLS_METRICS_NAMESPACE": "erpbridge-tests",
        "POWERTOOLS_SERVICE_NAME": "erpbridge",
    }
    bucket = moto_server["ERPBRIDGE_STAGING_BUCKET"]
    s3 = boto3.client("s3")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, JOB],
        env=child_env(env),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def a_part_is_up() -> bool:
        assert child.poll() is None, child.communicate()[0][-2000:]
        return any(
            s3.list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]).get("Parts")
            for upload in _unfinished_uploads(s3, bucket)
        )

    try:
        wait_for(a_part_is_up, timeout_s=60, what="the first part of the page to be uploaded", every_s=0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        killed_at = datetime.now(UTC)
        child.communicate(timeout=10)
    emulator.set_faults(None)

    # Killed mid-page: no half object under staging/ (no import is triggered for one), the upload
    # is left open, the run stays "running" and the lock is still held — until it expires.
    assert _objects(s3, bucket, "staging/") == []
    assert len(_unfinished_uploads(s3, bucket)) == 1
    settings = load_settings(env)
    runtime = runtime_from_settings(settings, mappings_dir=ROOT / "mappings")
    (killed,) = runtime.runs.list_runs(job=JOB)
    assert killed.fetch_status is FetchStatus.RUNNING
    lock = boto3.client("dynamodb").get_item(
        TableName=moto_server["ERPBRIDGE_LOCKS_TABLE"], Key={"job": {"S": JOB}}
    )
    expires = datetime.fromtimestamp(int(lock["Item"]["expires_at"]["N"]), UTC)
    assert lock["Item"]["owner"]["S"].startswith(killed.run_id)
    # A dead holder's lock runs out at most one TTL after it died (the start of the child process
    # is not counted: on a loaded machine it can take seconds).
    assert expires <= killed_at + timedelta(seconds=DEFAULT_LOCK_TTL_S + 1)

    job = runtime.job(JOB)
    fetch: dict[str, Any] = {
        "transport": runtime.transport(job),
        "store": runtime.store(),
        "runs": runtime.runs,
        "lock": runtime.locks,
    }
    right_now = run_fetch(JOB, job.request_xml(None), Trigger.MANUAL, **fetch)
    assert right_now.result is FetchResult.LOCKED  # the killed run's lock is still held…

    later = expires + timedelta(seconds=1)  # …and once it has expired, the next run goes ahead
    outcome = run_fetch(JOB, job.request_xml(None), Trigger.MANUAL, clock=lambda: later, **fetch)
    assert outcome.result is FetchResult.FETCHED and outcome.pages == 1
    assert _unfinished_uploads(s3, bucket) == []  # the killed run's upload was aborted
    assert _objects(s3, bucket, "staging/") == outcome.keys
    body = s3.get_object(Bucket=bucket, Key=outcome.keys[0])["Body"].read()
    assert body.rstrip().endswith(b"</tables>") and len(body) == outcome.bytes
    lock_after = boto3.client("dynamodb").get_item(
        TableName=moto_server["ERPBRIDGE_LOCKS_TABLE"], Key={"job": {"S": JOB}}
    )
    # Held by the run that completed, for its page's import (which releases it: tests/batch).
    assert lock_after["Item"]["owner"]["S"].startswith(outcome.run_id + "#")
    assert json.dumps(outcome.as_dict())  # what the handler returns


def test_the_bucket_aborts_unfinished_uploads_by_itself_too() -> None:
    """For a killed run no later run follows (the job was removed): S3's lifecycle rule cleans up."""
    rules = template_resources()["StagingBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    abort = [rule for rule in rules if "AbortIncompleteMultipartUpload" in rule]
    assert abort and abort[0]["Status"] == "Enabled" and "Prefix" not in abort[0]
    assert abort[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] <= 1
    policies = template_resources()["FetchJobFunction"]["Properties"]["Policies"]
    actions = {
        statement["Action"]
        for policy in policies
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
    }
    assert {"s3:AbortMultipartUpload", "s3:ListBucketMultipartUploads"} <= actions


def test_a_local_fetch_killed_mid_page_leaves_a_temporary_file_the_next_run_removes(tmp_path: Path) -> None:
    store = FolderStagingStore(tmp_path / "objects")
    left = store.root / "staging" / JOB / "20261202T070000Z-manual" / ".upload-k1ll3d"
    left.parent.mkdir(parents=True)
    left.write_bytes(b"<tables><table")  # what a killed writer leaves
    other_job = store.root / "staging" / f"{JOB}-2" / "run" / ".upload-alive"
    other_job.parent.mkdir(parents=True)
    other_job.write_bytes(b"<tables>")
    assert store.list_objects("staging/") == []
    assert store.discard_incomplete(f"staging/{JOB}/") == 1
    assert not left.exists() and other_job.exists()
