"""Import claims on DynamoDB (``ImportClaims``): at most one import per staged object version.

The idempotency table: ``id`` (hash); ``status``, ``expiration`` (epoch seconds, TTL), ``data``. The
same attribute names Powertools idempotency uses, so one table can serve both. Expiry is checked in
the condition itself, never left to DynamoDB's TTL sweeper (which may lag by up to two days).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta

from erpbridge.adapters.aws.dynamodb_items import (
    DynamoDbTable,
    attr_n,
    attr_s,
    conditional_failed,
    epoch,
    read_str,
)
from erpbridge.batch.ports import Claim, ClaimStatus


class DynamoDbImportClaims(DynamoDbTable):
    """``ImportClaims`` on DynamoDB."""

    def claim(self, claim_key: str, *, now: datetime, in_progress_ttl_s: int) -> Claim:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "id": attr_s(claim_key),
                    "status": attr_s(ClaimStatus.IN_PROGRESS),
                    "expiration": attr_n(epoch(now + timedelta(seconds=in_progress_ttl_s))),
                },
                ConditionExpression="attribute_not_exists(id) OR expiration < :now",
                ExpressionAttributeValues={":now": attr_n(epoch(now))},
            )
        except Exception as error:
            if not conditional_failed(error):
                raise
            item = self._client.get_item(
                TableName=self._table, Key={"id": attr_s(claim_key)}, ConsistentRead=True
            ).get("Item", {})
            data = read_str(item, "data")
            return Claim(
                acquired=False,
                status=ClaimStatus(read_str(item, "status") or ClaimStatus.DONE),
                result=json.loads(data) if data else None,
            )
        return Claim(acquired=True, status=ClaimStatus.NEW)

    def complete(self, claim_key: str, result: Mapping[str, object], *, now: datetime, keep_s: int) -> None:
        self._client.update_item(
            TableName=self._table,
            Key={"id": attr_s(claim_key)},
            UpdateExpression="SET #status = :done, expiration = :expiration, #data = :data",
            ExpressionAttributeNames={"#status": "status", "#data": "data"},
            ExpressionAttributeValues={
                ":done": attr_s(ClaimStatus.DONE),
                ":expiration": attr_n(epoch(now + timedelta(seconds=keep_s))),
                ":data": attr_s(json.dumps(result, default=str)),
            },
        )

    def release(self, claim_key: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"id": attr_s(claim_key)},
                ConditionExpression="#status = :in_progress",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":in_progress": attr_s(ClaimStatus.IN_PROGRESS)},
            )
        except Exception as error:
            if not conditional_failed(error):
                raise
