"""Job locks on DynamoDB (``JobLock``).

The locks table: ``job`` (hash); ``owner``, ``expires_at`` (epoch seconds, also the TTL attribute).
Taken by a conditional put that succeeds only when there is no lock, it has expired, or it is ours;
renewed (the run's heartbeat) by a conditional update that succeeds only while it is ours.
Expiry is checked in the condition itself, never left to DynamoDB's TTL sweeper (which may lag by up
to two days).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from erpbridge.adapters.aws.dynamodb_items import (
    DynamoDbTable,
    attr_n,
    attr_s,
    conditional_failed,
    epoch,
    read_num,
    read_str,
)
from erpbridge.batch.ports import LockHolder


class DynamoDbJobLock(DynamoDbTable):
    """``JobLock`` on DynamoDB: taken when free, expired, or already ours."""

    def acquire(self, job: str, owner: str, *, now: datetime, ttl_s: int) -> LockHolder | None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "job": attr_s(job),
                    "owner": attr_s(owner),
                    "expires_at": attr_n(epoch(now + timedelta(seconds=ttl_s))),
                },
                ConditionExpression="attribute_not_exists(job) OR expires_at < :now OR #owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":now": attr_n(epoch(now)), ":owner": attr_s(owner)},
            )
        except Exception as error:
            if not conditional_failed(error):
                raise
            item = self._client.get_item(
                TableName=self._table, Key={"job": attr_s(job)}, ConsistentRead=True
            ).get("Item")
            holder = read_str(item, "owner") if item else None
            expires = datetime.fromtimestamp(read_num(item, "expires_at"), UTC) if item else now
            return LockHolder(owner=holder or "?", expires_at=expires)
        return None

    def extend(self, job: str, owner: str, *, now: datetime, ttl_s: int) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"job": attr_s(job)},
                UpdateExpression="SET expires_at = :expires",
                ConditionExpression="#owner = :owner",  # false for a missing item: never re-created
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={
                    ":expires": attr_n(epoch(now + timedelta(seconds=ttl_s))),
                    ":owner": attr_s(owner),
                },
            )
        except Exception as error:
            if not conditional_failed(error):
                raise
            return False
        return True

    def release(self, job: str, owner: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"job": attr_s(job)},
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": attr_s(owner)},
            )
        except Exception as error:
            if not conditional_failed(error):  # someone took over our expired lock: theirs now
                raise
