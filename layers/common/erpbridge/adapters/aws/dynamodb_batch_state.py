"""Runs, job locks and import claims on DynamoDB, with conditional writes.

Tables (see template.yaml, ``# --- batch ---``):

- runs: ``job`` (hash) + ``run_id`` (range), GSI ``by-run-id``; TTL ``expires_at`` (90 days).
  Import results are added with atomic ``ADD`` counters, so concurrent page imports never lose
  a count. ``import_errors`` keeps the last 20 messages, like SQLite: an update expression cannot
  slice a list, so the oldest entries are removed by a second, conditional write.
- locks: ``job`` (hash); ``owner``, ``expires_at`` (epoch seconds, also the TTL attribute). Taken by
  a conditional put that succeeds only when there is no lock, it has expired, or it is ours;
  renewed (the run's heartbeat) by a conditional update that succeeds only while it is ours.
- idempotency: ``id`` (hash); ``status``, ``expiration`` (epoch seconds, TTL), ``data``. The same
  attribute names Powertools idempotency uses, so one table can serve both.

Expiry is checked in the condition itself, never left to DynamoDB's TTL sweeper (which may lag
by up to two days).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from erpbridge.batch.models import (
    MAX_ACTIONS_KEPT,
    MAX_FAILED_ROWS_KEPT,
    MAX_WARNINGS_KEPT,
    FetchStatus,
    FinaliseRecord,
    ImportCounts,
    OperatorAction,
    PageImport,
    RunRecord,
    Trigger,
    page_number,
)
from erpbridge.batch.ports import Claim, LockHolder

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RUN_RETENTION = timedelta(days=90)
MAX_ERRORS_KEPT = 20
RUN_ID_INDEX = "by-run-id"


def _dynamodb_client() -> DynamoDBClient:
    import boto3

    return boto3.client("dynamodb")


def _s(value: str) -> dict[str, Any]:
    return {"S": value}


def _n(value: int | float) -> dict[str, Any]:
    return {"N": str(value)}


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def _conditional_failed(error: Exception) -> bool:
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code == "ConditionalCheckFailedException"


class DynamoDbRunRecorder:
    def __init__(self, table: str, *, client: DynamoDBClient | None = None) -> None:
        self._table = table
        self._client = client or _dynamodb_client()

    def create(self, run: RunRecord, *, stale_before: datetime) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "job": _s(run.job),
                    "run_id": _s(run.run_id),
                    "trigger": _s(str(run.trigger)),
                    "started_at": _s(_ts(run.started_at)),
                    "fetch_status": _s(str(run.fetch_status)),
                    "pages": _n(0),
                    "bytes": _n(0),
                    "expires_at": _n(_epoch(run.started_at + RUN_RETENTION)),
                    "parameters": {"M": {name: _s(value) for name, value in run.parameters.items()}},
                    **({"requested_by": _s(run.requested_by)} if run.requested_by else {}),
                    **({"lock_name": _s(run.lock_name)} if run.lock_name else {}),
                    **({"lock_owner": _s(run.lock_owner)} if run.lock_owner else {}),
                },
                ConditionExpression="attribute_not_exists(run_id) OR fetch_status = :failed"
                " OR (fetch_status = :running AND started_at < :stale)",
                ExpressionAttributeValues={
                    ":failed": _s(str(FetchStatus.FAILED)),
                    ":running": _s(str(FetchStatus.RUNNING)),
                    ":stale": _s(_ts(stale_before)),
                },
            )
        except Exception as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def finish_fetch(
        self,
        job: str,
        run_id: str,
        *,
        status: FetchStatus,
        ended_at: datetime,
        pages: int,
        bytes_: int,
        error: str | None,
    ) -> None:
        values: dict[str, Any] = {
            ":status": _s(str(status)),
            ":ended": _s(_ts(ended_at)),
            ":pages": _n(pages),
            ":bytes": _n(bytes_),
        }
        expression = "SET fetch_status = :status, ended_at = :ended, pages = :pages, #bytes = :bytes"
        if error is not None:
            expression += ", #error = :error"
            values[":error"] = _s(error[:2000])
        self._client.update_item(
            TableName=self._table,
            Key={"job": _s(job), "run_id": _s(run_id)},
            UpdateExpression=expression,
            ExpressionAttributeNames={
                "#bytes": "bytes",
                **({"#error": "error"} if error is not None else {}),
            },
            ExpressionAttributeValues=values,
        )

    def add_import(
        self,
        job: str,
        run_id: str,
        *,
        counts: ImportCounts,
        failed: bool,
        error: str | None,
        at: datetime,
        warnings: Sequence[str] = (),
        row_errors: Sequence[Mapping[str, object]] = (),
        page: PageImport | None = None,
    ) -> None:
        values: dict[str, Any] = {
            ":imported": _n(0 if failed else 1),
            ":failed": _n(1 if failed else 0),
            ":inserted": _n(counts.inserted),
            ":updated": _n(counts.updated),
            ":deleted": _n(counts.deleted),
            ":skipped": _n(counts.skipped),
            ":rows": _n(counts.rows_read),
            ":rows_failed": _n(counts.failed),
            ":at": _s(_ts(at)),
            ":upload": _s(str(Trigger.UPLOAD)),
            ":fetched": _s(str(FetchStatus.FETCHED)),
            ":expires": _n(_epoch(at + RUN_RETENTION)),
        }
        expression = (
            "ADD files_imported :imported, files_failed :failed, inserted :inserted, updated :updated,"
            " deleted :deleted, skipped :skipped, rows_read :rows, rows_failed :rows_failed"
            " SET imported_at = :at, #trigger = if_not_exists(#trigger, :upload),"
            " started_at = if_not_exists(started_at, :at),"
            " fetch_status = if_not_exists(fetch_status, :fetched),"
            " expires_at = if_not_exists(expires_at, :expires)"
        )
        if page is not None:  # string sets: ADD is atomic, so concurrent pages never lose one
            expression = expression.replace(
                "ADD ", f"ADD {'pages_failed' if failed else 'pages_imported'} :page, ", 1
            )
            values[":page"] = {"SS": [page.name]}
            number = page_number(page.name)
            if page.last and not failed and number is not None:
                expression += ", last_page = :last_page"
                values[":last_page"] = _n(number)
        if error is not None or warnings:
            values[":none"] = {"L": []}
        if error is not None:
            expression += ", import_errors = list_append(if_not_exists(import_errors, :none), :error)"
            values[":error"] = {"L": [_s(error[:2000])]}
        if warnings:
            expression += ", warnings = list_append(if_not_exists(warnings, :none), :warnings)"
            values[":warnings"] = {"L": [_s(w[:2000]) for w in list(warnings)[-MAX_WARNINGS_KEPT:]]}
        trimmed = error is not None or bool(warnings)
        answer = self._client.update_item(
            TableName=self._table,
            Key={"job": _s(job), "run_id": _s(run_id)},
            UpdateExpression=expression,
            ExpressionAttributeNames={"#trigger": "trigger"},
            ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW" if trimmed else "NONE",
        )
        attributes = answer.get("Attributes", {}) if trimmed else {}
        if error is not None:
            self._trim(job, run_id, "import_errors", len(attributes.get("import_errors", {}).get("L", [])))
        if warnings:
            size = len(attributes.get("warnings", {}).get("L", []))
            self._trim(job, run_id, "warnings", size, MAX_WARNINGS_KEPT)
        if row_errors:
            self._add_row_errors(job, run_id, row_errors)

    def record_finalise(self, job: str, run_id: str, finalised: FinaliseRecord) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"job": _s(job), "run_id": _s(run_id)},
                UpdateExpression="SET finalised = :finalised",
                ConditionExpression="attribute_exists(run_id) AND attribute_not_exists(finalised)",
                ExpressionAttributeValues={":finalised": _s(json.dumps(finalised.as_dict()))},
            )
        except Exception as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def finish_audit(
        self,
        job: str,
        run_id: str,
        *,
        audit: Mapping[str, object] | None,
        ended_at: datetime,
        error: str | None,
    ) -> None:
        status = FetchStatus.FAILED if error else FetchStatus.FETCHED
        values: dict[str, Any] = {":status": _s(str(status)), ":ended": _s(_ts(ended_at))}
        expression = "SET fetch_status = :status, ended_at = :ended"
        if audit is not None:  # a few kB: the report keeps at most ten examples
            expression += ", audit = :audit"
            values[":audit"] = _s(json.dumps(audit))
        if error is not None:
            expression += ", #error = :error"
            values[":error"] = _s(error[:2000])
        else:
            expression += " REMOVE #error"
        self._client.update_item(
            TableName=self._table,
            Key={"job": _s(job), "run_id": _s(run_id)},
            UpdateExpression=expression,
            ExpressionAttributeNames={"#error": "error"},
            ExpressionAttributeValues=values,
        )

    def record_action(self, job: str, run_id: str, action: OperatorAction) -> None:
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key={"job": _s(job), "run_id": _s(run_id)},
                UpdateExpression=(
                    "SET operator_actions = list_append(if_not_exists(operator_actions, :none), :action)"
                ),
                ConditionExpression="attribute_exists(run_id)",
                ExpressionAttributeValues={
                    ":none": {"L": []},
                    ":action": {"L": [_s(json.dumps(action.as_dict()))]},
                },
                ReturnValues="UPDATED_NEW",
            )
        except Exception as error:
            if _conditional_failed(error):
                return  # not a recorded run
            raise
        size = len(answer["Attributes"]["operator_actions"]["L"])
        self._trim(job, run_id, "operator_actions", size, MAX_ACTIONS_KEPT)

    def _add_row_errors(self, job: str, run_id: str, row_errors: Sequence[Mapping[str, object]]) -> None:
        """Keep the *first* errors of rows left out: append only while the list is short."""
        entries = [_s(json.dumps(dict(e), default=str)[:2000]) for e in row_errors[:MAX_FAILED_ROWS_KEPT]]
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"job": _s(job), "run_id": _s(run_id)},
                UpdateExpression="SET row_errors = list_append(if_not_exists(row_errors, :none), :rows)",
                ConditionExpression="attribute_not_exists(row_errors) OR size(row_errors) < :max",
                ExpressionAttributeValues={
                    ":none": {"L": []},
                    ":rows": {"L": entries},
                    ":max": _n(MAX_FAILED_ROWS_KEPT),
                },
            )
        except Exception as error:
            if not _conditional_failed(error):
                raise

    def _trim(self, job: str, run_id: str, attribute: str, size: int, keep: int = MAX_ERRORS_KEPT) -> None:
        """Drop the oldest entries of ``attribute`` beyond ``keep``, only if the list still has the
        ``size`` this writer saw: two concurrent trims never drop too much, and when another
        import appended meanwhile, its own trim takes over."""
        excess = size - keep
        if excess <= 0:
            return
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"job": _s(job), "run_id": _s(run_id)},
                UpdateExpression="REMOVE " + ", ".join(f"{attribute}[{i}]" for i in range(excess)),
                ConditionExpression=f"size({attribute}) = :size",
                ExpressionAttributeValues={":size": _n(size)},
            )
        except Exception as error:
            if not _conditional_failed(error):
                raise

    def get(self, run_id: str, *, job: str | None = None) -> RunRecord | None:
        if job is not None:
            answer = self._client.get_item(
                TableName=self._table, Key={"job": _s(job), "run_id": _s(run_id)}, ConsistentRead=True
            )
            item = answer.get("Item")
            return _record(item) if item else None
        found = self._client.query(
            TableName=self._table,
            IndexName=RUN_ID_INDEX,
            KeyConditionExpression="run_id = :run",
            ExpressionAttributeValues={":run": _s(run_id)},
        )["Items"]
        return _record(found[0]) if found else None

    def list_runs(self, *, job: str | None = None, limit: int = 50) -> list[RunRecord]:
        items: list[dict[str, Any]] = []
        if job is not None:
            paginator = self._client.get_paginator("query")
            pages = paginator.paginate(
                TableName=self._table,
                KeyConditionExpression="job = :job",
                ExpressionAttributeValues={":job": _s(job)},
                ScanIndexForward=False,
                PaginationConfig={"MaxItems": limit},
            )
        else:
            # Operators' view of every job: the table holds 90 days of runs, a scan is fine.
            pages = self._client.get_paginator("scan").paginate(TableName=self._table)
        for page in pages:
            items.extend(page["Items"])
        records = [_record(item) for item in items]
        records.sort(key=lambda r: (r.started_at, r.run_id), reverse=True)
        return records[:limit]


def _num(item: Mapping[str, Any], name: str) -> int:
    value = item.get(name)
    return int(value["N"]) if value else 0


def _str(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    return str(value["S"]) if value else None


def _record(item: Mapping[str, Any]) -> RunRecord:
    started = _str(item, "started_at")
    ended = _str(item, "ended_at")
    imported = _str(item, "imported_at")
    return RunRecord(
        job=str(item["job"]["S"]),
        run_id=str(item["run_id"]["S"]),
        trigger=Trigger(_str(item, "trigger") or Trigger.UPLOAD),
        started_at=datetime.fromisoformat(started) if started else datetime.now(UTC),
        fetch_status=FetchStatus(_str(item, "fetch_status") or FetchStatus.FETCHED),
        ended_at=datetime.fromisoformat(ended) if ended else None,
        pages=_num(item, "pages"),
        bytes=_num(item, "bytes"),
        error=_str(item, "error"),
        files_imported=_num(item, "files_imported"),
        files_failed=_num(item, "files_failed"),
        counts=ImportCounts(
            inserted=_num(item, "inserted"),
            updated=_num(item, "updated"),
            deleted=_num(item, "deleted"),
            skipped=_num(item, "skipped"),
            rows_read=_num(item, "rows_read"),
            failed=_num(item, "rows_failed"),
        ),
        import_errors=[str(e["S"]) for e in item.get("import_errors", {}).get("L", [])][-MAX_ERRORS_KEPT:],
        imported_at=datetime.fromisoformat(imported) if imported else None,
        parameters={name: str(value["S"]) for name, value in item.get("parameters", {}).get("M", {}).items()},
        warnings=[str(w["S"]) for w in item.get("warnings", {}).get("L", [])][-MAX_WARNINGS_KEPT:],
        row_errors=[json.loads(e["S"]) for e in item.get("row_errors", {}).get("L", [])][
            :MAX_FAILED_ROWS_KEPT
        ],
        pages_imported=sorted(item.get("pages_imported", {}).get("SS", [])),
        pages_failed=sorted(item.get("pages_failed", {}).get("SS", [])),
        last_page=_num(item, "last_page") if "last_page" in item else None,
        finalised=FinaliseRecord.from_json(_str(item, "finalised")),
        requested_by=_str(item, "requested_by"),
        audit=json.loads(audit) if (audit := _str(item, "audit")) else None,
        actions=[
            OperatorAction.from_dict(json.loads(a["S"]))
            for a in item.get("operator_actions", {}).get("L", [])
        ],
        lock_name=_str(item, "lock_name"),
        lock_owner=_str(item, "lock_owner"),
    )


class DynamoDbJobLock:
    def __init__(self, table: str, *, client: DynamoDBClient | None = None) -> None:
        self._table = table
        self._client = client or _dynamodb_client()

    def acquire(self, job: str, owner: str, *, now: datetime, ttl_s: int) -> LockHolder | None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "job": _s(job),
                    "owner": _s(owner),
                    "expires_at": _n(_epoch(now + timedelta(seconds=ttl_s))),
                },
                ConditionExpression="attribute_not_exists(job) OR expires_at < :now OR #owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":now": _n(_epoch(now)), ":owner": _s(owner)},
            )
        except Exception as error:
            if not _conditional_failed(error):
                raise
            item = self._client.get_item(
                TableName=self._table, Key={"job": _s(job)}, ConsistentRead=True
            ).get("Item")
            holder = _str(item, "owner") if item else None
            expires = datetime.fromtimestamp(_num(item, "expires_at"), UTC) if item else now
            return LockHolder(owner=holder or "?", expires_at=expires)
        return None

    def extend(self, job: str, owner: str, *, now: datetime, ttl_s: int) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"job": _s(job)},
                UpdateExpression="SET expires_at = :expires",
                ConditionExpression="#owner = :owner",  # false for a missing item: never re-created
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={
                    ":expires": _n(_epoch(now + timedelta(seconds=ttl_s))),
                    ":owner": _s(owner),
                },
            )
        except Exception as error:
            if not _conditional_failed(error):
                raise
            return False
        return True

    def release(self, job: str, owner: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"job": _s(job)},
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": _s(owner)},
            )
        except Exception as error:
            if not _conditional_failed(error):  # someone took over our expired lock: theirs now
                raise


class DynamoDbImportClaims:
    def __init__(self, table: str, *, client: DynamoDBClient | None = None) -> None:
        self._table = table
        self._client = client or _dynamodb_client()

    def claim(self, claim_key: str, *, now: datetime, in_progress_ttl_s: int) -> Claim:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "id": _s(claim_key),
                    "status": _s("in_progress"),
                    "expiration": _n(_epoch(now + timedelta(seconds=in_progress_ttl_s))),
                },
                ConditionExpression="attribute_not_exists(id) OR expiration < :now",
                ExpressionAttributeValues={":now": _n(_epoch(now))},
            )
        except Exception as error:
            if not _conditional_failed(error):
                raise
            item = self._client.get_item(
                TableName=self._table, Key={"id": _s(claim_key)}, ConsistentRead=True
            ).get("Item", {})
            data = _str(item, "data")
            return Claim(
                acquired=False,
                status=_str(item, "status") or "done",
                result=json.loads(data) if data else None,
            )
        return Claim(acquired=True, status="new")

    def complete(self, claim_key: str, result: Mapping[str, object], *, now: datetime, keep_s: int) -> None:
        self._client.update_item(
            TableName=self._table,
            Key={"id": _s(claim_key)},
            UpdateExpression="SET #status = :done, expiration = :expiration, #data = :data",
            ExpressionAttributeNames={"#status": "status", "#data": "data"},
            ExpressionAttributeValues={
                ":done": _s("done"),
                ":expiration": _n(_epoch(now + timedelta(seconds=keep_s))),
                ":data": _s(json.dumps(result, default=str)),
            },
        )

    def release(self, claim_key: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"id": _s(claim_key)},
                ConditionExpression="#status = :in_progress",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":in_progress": _s("in_progress")},
            )
        except Exception as error:
            if not _conditional_failed(error):
                raise
