"""Run records on DynamoDB (``RunRecorder``), with conditional writes.

The runs table (see template.yaml, ``# --- batch ---``): ``job`` (hash) + ``run_id`` (range), GSI
``by-run-id``; TTL ``expires_at`` (90 days). Import results are added with atomic ``ADD`` counters,
so concurrent page imports never lose a count. ``import_errors`` keeps the last 20 messages, like
SQLite: an update expression cannot slice a list, so the oldest entries are removed by a second,
conditional write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from erpbridge.adapters.aws.dynamodb_items import (
    DynamoDbTable,
    attr_n,
    attr_s,
    conditional_failed,
    epoch,
    iso,
    read_num,
    read_str,
)
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

RUN_RETENTION = timedelta(days=90)
MAX_ERRORS_KEPT = 20
RUN_ID_INDEX = "by-run-id"


class DynamoDbRunRecorder(DynamoDbTable):
    """``RunRecorder`` on DynamoDB."""

    def create(self, run: RunRecord, *, stale_before: datetime) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "job": attr_s(run.job),
                    "run_id": attr_s(run.run_id),
                    "trigger": attr_s(str(run.trigger)),
                    "started_at": attr_s(iso(run.started_at)),
                    "fetch_status": attr_s(str(run.fetch_status)),
                    "pages": attr_n(0),
                    "bytes": attr_n(0),
                    "expires_at": attr_n(epoch(run.started_at + RUN_RETENTION)),
                    "parameters": {"M": {name: attr_s(value) for name, value in run.parameters.items()}},
                    **({"requested_by": attr_s(run.requested_by)} if run.requested_by else {}),
                    **({"lock_name": attr_s(run.lock_name)} if run.lock_name else {}),
                    **({"lock_owner": attr_s(run.lock_owner)} if run.lock_owner else {}),
                },
                ConditionExpression="attribute_not_exists(run_id) OR fetch_status = :failed"
                " OR (fetch_status = :running AND started_at < :stale)",
                ExpressionAttributeValues={
                    ":failed": attr_s(str(FetchStatus.FAILED)),
                    ":running": attr_s(str(FetchStatus.RUNNING)),
                    ":stale": attr_s(iso(stale_before)),
                },
            )
        except Exception as error:
            if conditional_failed(error):
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
            ":status": attr_s(str(status)),
            ":ended": attr_s(iso(ended_at)),
            ":pages": attr_n(pages),
            ":bytes": attr_n(bytes_),
        }
        expression = "SET fetch_status = :status, ended_at = :ended, pages = :pages, #bytes = :bytes"
        if error is not None:
            expression += ", #error = :error"
            values[":error"] = attr_s(error[:2000])
        self._client.update_item(
            TableName=self._table,
            Key={"job": attr_s(job), "run_id": attr_s(run_id)},
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
            ":imported": attr_n(0 if failed else 1),
            ":failed": attr_n(1 if failed else 0),
            ":inserted": attr_n(counts.inserted),
            ":updated": attr_n(counts.updated),
            ":deleted": attr_n(counts.deleted),
            ":skipped": attr_n(counts.skipped),
            ":rows": attr_n(counts.rows_read),
            ":rows_failed": attr_n(counts.failed),
            ":at": attr_s(iso(at)),
            ":upload": attr_s(str(Trigger.UPLOAD)),
            ":fetched": attr_s(str(FetchStatus.FETCHED)),
            ":expires": attr_n(epoch(at + RUN_RETENTION)),
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
                values[":last_page"] = attr_n(number)
        if error is not None or warnings:
            values[":none"] = {"L": []}
        if error is not None:
            expression += ", import_errors = list_append(if_not_exists(import_errors, :none), :error)"
            values[":error"] = {"L": [attr_s(error[:2000])]}
        if warnings:
            expression += ", warnings = list_append(if_not_exists(warnings, :none), :warnings)"
            values[":warnings"] = {"L": [attr_s(w[:2000]) for w in list(warnings)[-MAX_WARNINGS_KEPT:]]}
        trimmed = error is not None or bool(warnings)
        answer = self._client.update_item(
            TableName=self._table,
            Key={"job": attr_s(job), "run_id": attr_s(run_id)},
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
                Key={"job": attr_s(job), "run_id": attr_s(run_id)},
                UpdateExpression="SET finalised = :finalised",
                ConditionExpression="attribute_exists(run_id) AND attribute_not_exists(finalised)",
                ExpressionAttributeValues={":finalised": attr_s(json.dumps(finalised.as_dict()))},
            )
        except Exception as error:
            if conditional_failed(error):
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
        values: dict[str, Any] = {":status": attr_s(str(status)), ":ended": attr_s(iso(ended_at))}
        expression = "SET fetch_status = :status, ended_at = :ended"
        if audit is not None:  # a few kB: the report keeps at most ten examples
            expression += ", audit = :audit"
            values[":audit"] = attr_s(json.dumps(audit))
        if error is not None:
            expression += ", #error = :error"
            values[":error"] = attr_s(error[:2000])
        else:
            expression += " REMOVE #error"
        self._client.update_item(
            TableName=self._table,
            Key={"job": attr_s(job), "run_id": attr_s(run_id)},
            UpdateExpression=expression,
            ExpressionAttributeNames={"#error": "error"},
            ExpressionAttributeValues=values,
        )

    def record_action(self, job: str, run_id: str, action: OperatorAction) -> None:
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key={"job": attr_s(job), "run_id": attr_s(run_id)},
                UpdateExpression=(
                    "SET operator_actions = list_append(if_not_exists(operator_actions, :none), :action)"
                ),
                ConditionExpression="attribute_exists(run_id)",
                ExpressionAttributeValues={
                    ":none": {"L": []},
                    ":action": {"L": [attr_s(json.dumps(action.as_dict()))]},
                },
                ReturnValues="UPDATED_NEW",
            )
        except Exception as error:
            if conditional_failed(error):
                return  # not a recorded run
            raise
        size = len(answer["Attributes"]["operator_actions"]["L"])
        self._trim(job, run_id, "operator_actions", size, MAX_ACTIONS_KEPT)

    def _add_row_errors(self, job: str, run_id: str, row_errors: Sequence[Mapping[str, object]]) -> None:
        """Keep the *first* errors of rows left out: append only while the list is short."""
        entries = [attr_s(json.dumps(dict(e), default=str)[:2000]) for e in row_errors[:MAX_FAILED_ROWS_KEPT]]
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"job": attr_s(job), "run_id": attr_s(run_id)},
                UpdateExpression="SET row_errors = list_append(if_not_exists(row_errors, :none), :rows)",
                ConditionExpression="attribute_not_exists(row_errors) OR size(row_errors) < :max",
                ExpressionAttributeValues={
                    ":none": {"L": []},
                    ":rows": {"L": entries},
                    ":max": attr_n(MAX_FAILED_ROWS_KEPT),
                },
            )
        except Exception as error:
            if not conditional_failed(error):
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
                Key={"job": attr_s(job), "run_id": attr_s(run_id)},
                UpdateExpression="REMOVE " + ", ".join(f"{attribute}[{i}]" for i in range(excess)),
                ConditionExpression=f"size({attribute}) = :size",
                ExpressionAttributeValues={":size": attr_n(size)},
            )
        except Exception as error:
            if not conditional_failed(error):
                raise

    def get(self, run_id: str, *, job: str | None = None) -> RunRecord | None:
        if job is not None:
            answer = self._client.get_item(
                TableName=self._table, Key={"job": attr_s(job), "run_id": attr_s(run_id)}, ConsistentRead=True
            )
            item = answer.get("Item")
            return _record(item) if item else None
        found = self._client.query(
            TableName=self._table,
            IndexName=RUN_ID_INDEX,
            KeyConditionExpression="run_id = :run",
            ExpressionAttributeValues={":run": attr_s(run_id)},
        )["Items"]
        return _record(found[0]) if found else None

    def list_runs(self, *, job: str | None = None, limit: int = 50) -> list[RunRecord]:
        items: list[dict[str, Any]] = []
        if job is not None:
            paginator = self._client.get_paginator("query")
            pages = paginator.paginate(
                TableName=self._table,
                KeyConditionExpression="job = :job",
                ExpressionAttributeValues={":job": attr_s(job)},
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


def _record(item: Mapping[str, Any]) -> RunRecord:
    started = read_str(item, "started_at")
    ended = read_str(item, "ended_at")
    imported = read_str(item, "imported_at")
    return RunRecord(
        job=str(item["job"]["S"]),
        run_id=str(item["run_id"]["S"]),
        trigger=Trigger(read_str(item, "trigger") or Trigger.UPLOAD),
        started_at=datetime.fromisoformat(started) if started else datetime.now(UTC),
        fetch_status=FetchStatus(read_str(item, "fetch_status") or FetchStatus.FETCHED),
        ended_at=datetime.fromisoformat(ended) if ended else None,
        pages=read_num(item, "pages"),
        bytes=read_num(item, "bytes"),
        error=read_str(item, "error"),
        files_imported=read_num(item, "files_imported"),
        files_failed=read_num(item, "files_failed"),
        counts=ImportCounts(
            inserted=read_num(item, "inserted"),
            updated=read_num(item, "updated"),
            deleted=read_num(item, "deleted"),
            skipped=read_num(item, "skipped"),
            rows_read=read_num(item, "rows_read"),
            failed=read_num(item, "rows_failed"),
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
        last_page=read_num(item, "last_page") if "last_page" in item else None,
        finalised=FinaliseRecord.from_json(read_str(item, "finalised")),
        requested_by=read_str(item, "requested_by"),
        audit=json.loads(audit) if (audit := read_str(item, "audit")) else None,
        actions=[
            OperatorAction.from_dict(json.loads(a["S"]))
            for a in item.get("operator_actions", {}).get("L", [])
        ],
        lock_name=read_str(item, "lock_name"),
        lock_owner=read_str(item, "lock_owner"),
    )
