"""Items keyed by ``name`` that are replaced only over the version read before (compare-and-set):
the shared state of the breaker and of BC's request limiter, which many containers change at once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class VersionedItems:
    def __init__(self, table: str, *, client: DynamoDBClient | None, keep_s: int) -> None:
        self._table = table
        self._client_instance = client
        self._keep_s = keep_s

    @property
    def _client(self) -> DynamoDBClient:
        if self._client_instance is None:
            import boto3

            self._client_instance = boto3.client("dynamodb")
        return self._client_instance

    def get(self, name: str) -> dict[str, Any] | None:
        """The stored item (strongly consistent), or None."""
        item = self._client.get_item(TableName=self._table, Key={"name": {"S": name}}, ConsistentRead=True)
        return item.get("Item")

    def put(self, name: str, attributes: dict[str, Any], *, expected_version: int) -> bool:
        """Store ``attributes`` as version ``expected_version + 1`` if the stored version is still
        ``expected_version`` (or nothing is stored); False when another writer got there first.
        The item expires (the table's TTL) ``keep_s`` after its last write."""
        item = {
            **attributes,
            "name": {"S": name},
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
