"""The ERP circuit breaker's state shared by every container, on DynamoDB: ``BreakerStore``.

Items: ``name`` (partition key) and the state; every write is conditional on the version read
before (compare-and-set), so two containers never both become the half-open probe.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from erpbridge.erp.ports import BreakerPhase, BreakerState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _client() -> DynamoDBClient:
    import boto3

    return boto3.client("dynamodb")


class DynamoDbBreakerStore:
    """Implements ``erpbridge.erp.ports.BreakerStore`` on a DynamoDB table (conditional writes)."""

    def __init__(self, table: str, *, client: DynamoDBClient | None = None, keep_s: int = 86_400) -> None:
        self._table = table
        self._client_instance = client
        self._keep_s = keep_s

    @property
    def _client(self) -> DynamoDBClient:
        if self._client_instance is None:
            self._client_instance = _client()
        return self._client_instance

    def load(self, name: str) -> BreakerState:
        item = self._client.get_item(
            TableName=self._table, Key={"name": {"S": name}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return BreakerState()
        return BreakerState(
            phase=BreakerPhase(item["phase"]["S"]),
            consecutive_failures=int(item["failures"]["N"]),
            opened_at=float(item["opened_at"]["N"]) if "opened_at" in item else None,
            probe_started_at=float(item["probe_started_at"]["N"]) if "probe_started_at" in item else None,
            version=int(item["version"]["N"]),
        )

    def save(self, name: str, state: BreakerState, *, expected_version: int) -> bool:
        item: dict[str, Any] = {
            "name": {"S": name},
            "phase": {"S": state.phase.value},
            "failures": {"N": str(state.consecutive_failures)},
            "version": {"N": str(expected_version + 1)},
            "expires_at": {"N": str(int(time.time()) + self._keep_s)},
        }
        if state.opened_at is not None:
            item["opened_at"] = {"N": repr(state.opened_at)}
        if state.probe_started_at is not None:
            item["probe_started_at"] = {"N": repr(state.probe_started_at)}
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(#name) OR #version = :expected",
                ExpressionAttributeNames={"#name": "name", "#version": "version"},
                ExpressionAttributeValues={":expected": {"N": str(expected_version)}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True
