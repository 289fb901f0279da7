"""Runs, locks and claims behave the same on DynamoDB (moto) and on local SQLite."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from erpbridge.adapters.aws.dynamodb_runs import DynamoDbRunRecorder
from erpbridge.adapters.local.sqlite_batch_state import LocalBatchState
from erpbridge.batch.models import FetchStatus, ImportCounts, RunRecord, RunStatus, Trigger

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def test_a_lock_is_exclusive_until_released_or_expired(state: tuple[Any, Any, Any]) -> None:
    _, locks, _ = state
    assert locks.acquire("fetch-shop-data", "run-a", now=NOW, ttl_s=60) is None
    holder = locks.acquire("fetch-shop-data", "run-b", now=NOW + timedelta(seconds=10), ttl_s=60)
    assert holder is not None and holder.owner == "run-a"
    # Another job is independent.
    assert locks.acquire("fetch-stock-level", "run-b", now=NOW, ttl_s=60) is None
    # run-b cannot release run-a's lock.
    locks.release("fetch-shop-data", "run-b")
    assert locks.acquire("fetch-shop-data", "run-c", now=NOW + timedelta(seconds=20), ttl_s=60) is not None
    # A crashed holder's lock expires.
    assert locks.acquire("fetch-shop-data", "run-c", now=NOW + timedelta(seconds=61), ttl_s=60) is None
    locks.release("fetch-shop-data", "run-c")
    assert locks.acquire("fetch-shop-data", "run-d", now=NOW + timedelta(seconds=62), ttl_s=60) is None


def test_a_lease_is_renewed_only_by_its_holder_and_never_taken_back(state: tuple[Any, Any, Any]) -> None:
    _, locks, _ = state
    assert locks.acquire("fetch-shop-data", "run-a", now=NOW, ttl_s=60) is None
    # run-a's heartbeat, after the first lease would have run out: renewed, so run-b is refused.
    assert locks.extend("fetch-shop-data", "run-a", now=NOW + timedelta(seconds=50), ttl_s=60)
    holder = locks.acquire("fetch-shop-data", "run-b", now=NOW + timedelta(seconds=100), ttl_s=60)
    assert holder is not None and holder.owner == "run-a"
    assert holder.expires_at == NOW + timedelta(seconds=110)
    assert not locks.extend("fetch-shop-data", "run-b", now=NOW, ttl_s=60)  # not its lock
    # run-a crashes: no more heartbeats, the lease runs out, run-b takes over; run-a's late
    # heartbeat changes nothing, and once run-b released it, a heartbeat does not re-create it.
    assert locks.acquire("fetch-shop-data", "run-b", now=NOW + timedelta(seconds=111), ttl_s=60) is None
    assert not locks.extend("fetch-shop-data", "run-a", now=NOW + timedelta(seconds=112), ttl_s=60)
    locks.release("fetch-shop-data", "run-b")
    assert not locks.extend("fetch-shop-data", "run-b", now=NOW + timedelta(seconds=113), ttl_s=60)
    assert locks.acquire("fetch-shop-data", "run-c", now=NOW + timedelta(seconds=114), ttl_s=60) is None


def test_a_claim_is_taken_once_and_released_on_failure(state: tuple[Any, Any, Any]) -> None:
    _, _, claims = state
    key = "bucket/staging/fetch-shop-data/r1/page-0001.xml/etag1"
    assert claims.claim(key, now=NOW, in_progress_ttl_s=900).acquired
    second = claims.claim(key, now=NOW, in_progress_ttl_s=900)
    assert not second.acquired and second.status == "in_progress"
    claims.release(key)
    assert claims.claim(key, now=NOW, in_progress_ttl_s=900).acquired
    claims.complete(key, {"result": "imported"}, now=NOW, keep_s=3600)
    done = claims.claim(key, now=NOW + timedelta(minutes=30), in_progress_ttl_s=900)
    assert not done.acquired and done.status == "done" and done.result == {"result": "imported"}
    claims.release(key)  # a finished claim is not released by a late failure elsewhere
    assert not claims.claim(key, now=NOW, in_progress_ttl_s=900).acquired


def test_run_record_adds_up_imports_and_derives_its_status(state: tuple[Any, Any, Any]) -> None:
    runs, _, _ = state
    run = RunRecord(
        job="fetch-shop-data", run_id="20261126T020000Z-sched", trigger=Trigger.SCHEDULE, started_at=NOW
    )
    assert runs.create(run, stale_before=NOW - timedelta(hours=1))
    assert not runs.create(run, stale_before=NOW - timedelta(hours=1))  # duplicate slot
    assert runs.get(run.run_id).status is RunStatus.RUNNING
    runs.finish_fetch(
        run.job, run.run_id, status=FetchStatus.FETCHED, ended_at=NOW, pages=2, bytes_=1234, error=None
    )
    runs.add_import(
        run.job, run.run_id, counts=ImportCounts(inserted=3, rows_read=3), failed=False, error=None, at=NOW
    )
    assert runs.get(run.run_id).status is RunStatus.IMPORTING
    runs.add_import(
        run.job,
        run.run_id,
        counts=ImportCounts(updated=2, skipped=1, rows_read=3),
        failed=False,
        error=None,
        at=NOW,
    )
    record = runs.get(run.run_id, job=run.job)
    assert record.status is RunStatus.SUCCEEDED
    assert (record.pages, record.bytes, record.files_imported) == (2, 1234, 2)
    assert record.counts == ImportCounts(inserted=3, updated=2, skipped=1, rows_read=6)


def test_a_run_keeps_the_operator_who_asked_for_it(state: tuple[Any, Any, Any]) -> None:
    runs, _, _ = state
    asked = RunRecord(
        job="fetch-stock-level",
        run_id="20261126T101500000000Z-abc123",
        trigger=Trigger.MANUAL,
        started_at=NOW,
        requested_by="arn:aws:sts::123456789012:assumed-role/Ops/alice",
    )
    scheduled = RunRecord(
        job="fetch-stock-level", run_id="20261126T1000Z-sched", trigger=Trigger.SCHEDULE, started_at=NOW
    )
    assert runs.create(asked, stale_before=NOW) and runs.create(scheduled, stale_before=NOW)
    assert runs.get(asked.run_id).requested_by == "arn:aws:sts::123456789012:assumed-role/Ops/alice"
    assert runs.get(scheduled.run_id).requested_by is None
    assert runs.get(asked.run_id).as_dict()["requested_by"].endswith("/Ops/alice")


def test_operator_actions_are_kept_in_order_the_newest_50(state: tuple[Any, Any, Any]) -> None:
    from erpbridge.batch.models import MAX_ACTIONS_KEPT, OperatorAction

    runs, _, _ = state
    run = RunRecord(
        job="fetch-stock-level", run_id="20261126T1000Z-r1", trigger=Trigger.SCHEDULE, started_at=NOW
    )
    assert runs.create(run, stale_before=NOW)
    for number in range(MAX_ACTIONS_KEPT + 2):
        action = OperatorAction(
            "redrive", "arn:aws:sts::1:assumed-role/Ops/bob", NOW, detail=f"file {number}"
        )
        runs.record_action(run.job, run.run_id, action)
    runs.record_action("fetch-stock-level", "no-such-run", action)  # nothing to record it in: no error
    kept = runs.get(run.run_id).actions
    assert len(kept) == MAX_ACTIONS_KEPT and kept[-1].detail == f"file {MAX_ACTIONS_KEPT + 1}"
    assert kept[0].detail == "file 2" and kept[0].by.endswith("/Ops/bob") and kept[0].at == NOW
    assert runs.get("no-such-run") is None
    assert RunRecord.from_dict(runs.get(run.run_id).as_dict()).as_dict() == runs.get(run.run_id).as_dict()


def test_a_failed_run_may_be_retried_under_the_same_id(state: tuple[Any, Any, Any]) -> None:
    runs, _, _ = state
    run = RunRecord(
        job="fetch-stock-level", run_id="20261126T021500Z-sched", trigger=Trigger.SCHEDULE, started_at=NOW
    )
    assert runs.create(run, stale_before=NOW - timedelta(hours=1))
    runs.finish_fetch(
        run.job,
        run.run_id,
        status=FetchStatus.FAILED,
        ended_at=NOW,
        pages=0,
        bytes_=0,
        error="ErpTimeoutError: slow",
    )
    failed = runs.get(run.run_id)
    assert failed.status is RunStatus.FAILED and failed.error == "ErpTimeoutError: slow"
    assert runs.create(run, stale_before=NOW - timedelta(hours=1))


def test_a_price_audit_keeps_its_report_in_its_run(state: tuple[Any, Any, Any]) -> None:
    runs, _, _ = state
    run = RunRecord(
        job="price-audit", run_id="20261126T050000Z-sched", trigger=Trigger.SCHEDULE, started_at=NOW
    )
    report = {"served": {"matches": 9, "mismatches": 1}, "examples": [{"product_id": "P000003"}]}
    assert runs.create(run, stale_before=NOW)
    runs.finish_audit(run.job, run.run_id, audit=report, ended_at=NOW, error=None)
    done = runs.get(run.run_id, job="price-audit")
    assert done.status is RunStatus.SUCCEEDED and done.audit == report and done.error is None
    assert done.as_dict()["audit"] == report
    failing = RunRecord(
        job="price-audit", run_id="20261127T050000Z-sched", trigger=Trigger.SCHEDULE, started_at=NOW
    )
    assert runs.create(failing, stale_before=NOW)
    runs.finish_audit(
        failing.job, failing.run_id, audit=None, ended_at=NOW, error="ErpUnavailableError: down"
    )
    failed = runs.get(failing.run_id)
    assert failed.status is RunStatus.FAILED and failed.audit is None and "audit" not in failed.as_dict()


def test_an_import_of_a_hand_staged_file_creates_its_run(state: tuple[Any, Any, Any]) -> None:
    runs, _, _ = state
    runs.add_import(
        "fetch-stock-level",
        "manual-1",
        counts=ImportCounts(),
        failed=True,
        error="MalformedXmlError: x",
        at=NOW,
    )
    record = runs.get("manual-1")
    assert record.trigger is Trigger.UPLOAD and record.status is RunStatus.FAILED
    assert record.import_errors == ["MalformedXmlError: x"]
    assert [r.run_id for r in runs.list_runs(job="fetch-stock-level")] == ["manual-1"]
    assert runs.list_runs(job="fetch-shop-data") == []


def test_concurrent_lock_attempts_let_exactly_one_through(tmp_path: Any) -> None:
    state = LocalBatchState.open(tmp_path)
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def attempt(owner: str) -> None:
        barrier.wait()
        if state.locks.acquire("fetch-shop-data", owner, now=NOW, ttl_s=60) is None:
            winners.append(owner)

    threads = [threading.Thread(target=attempt, args=(f"run-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


def test_a_runs_import_errors_keep_only_the_last_twenty_when_stored(aws_batch: Any) -> None:
    import boto3

    runs = DynamoDbRunRecorder(aws_batch.runs_table)
    for n in range(25):
        runs.add_import(
            "fetch-stock-level",
            "manual-errors",
            counts=ImportCounts(),
            failed=True,
            error=f"MalformedXmlError: file {n}",
            at=NOW,
        )
    item = boto3.client("dynamodb").get_item(
        TableName=aws_batch.runs_table,
        Key={"job": {"S": "fetch-stock-level"}, "run_id": {"S": "manual-errors"}},
        ConsistentRead=True,
    )["Item"]
    stored = [entry["S"] for entry in item["import_errors"]["L"]]
    assert stored == [f"MalformedXmlError: file {n}" for n in range(5, 25)]  # as on SQLite
    record = runs.get("manual-errors")
    assert record.files_failed == 25 and record.import_errors == stored
