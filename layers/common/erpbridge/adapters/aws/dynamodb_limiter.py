"""Implements :class:`erpbridge.erp.limiter.LimiterStore` on a DynamoDB table shared by every container.

One item per ERP principal in the breaker table (partition key ``name``, value
``erp-principal:<digest>``): the in-flight leases and the starts per bucket as maps, and a version.
Every write is conditional on the version read before, so two containers never take the same slot.
``expires_at`` (the table's TTL) drops the item of a principal that stopped calling.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from erpbridge.erp.limiter import LimiterState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDbLimiterStore:
    def __init__(self, table: str, *, client: DynamoDBClient | None = None, keep_s: int = 3600) -> None:
        self._table = table
        self._client_instance = client
        self._keep_s = keep_s

    @property
    def _client(self) -> DynamoDBClient:
        if self._client_instance is None:
            import boto3

            self._client_instance = boto3.client("dynamodb")
        return self._client_instance

    def load(self, principal: str) -> LimiterState:
        item = self._client.get_item(
            TableName=self._table, Key={"name": {"S": principal}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return LimiterState()
        return LimiterState(
            leases={lease: float(value["N"]) for lease, value in item.get("leases", {}).get("M", {}).items()},
            buckets={
                int(index): int(value["N"]) for index, value in item.get("buckets", {}).get("M", {}).items()
            },
            version=int(item["version"]["N"]),
        )

    def save(self, principal: str, state: LimiterState, *, expected_version: int) -> bool:
        item: dict[str, Any] = {
            "name": {"S": principal},
            "leases": {"M": {lease: {"N": repr(expiry)} for lease, expiry in state.leases.items()}},
            "buckets": {"M": {str(index): {"N": str(count)} for index, count in state.buckets.items()}},
            "version": {"N": str(expected_version + 1)},
            "expires_at": {"N": str(int(time.time()) + self._keep_s)},
        }
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
