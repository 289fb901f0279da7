"""The live API's shared price/basket cache on DynamoDB: ``CacheStore``.

Items: ``key`` (partition key), ``value`` (JSON), ``stored_at``/``fresh_until`` (epoch
seconds) and ``expires_at`` (the table's TTL attribute: DynamoDB deletes the item some time after
it, and reads ignore items already past it, because TTL deletion can lag by hours).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from erpbridge.live.ports import CacheRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

log = logging.getLogger("erpbridge.adapters.aws.dynamodb_cache")

_BATCH_GET = 100  # DynamoDB limits
_BATCH_WRITE = 25


def _client() -> DynamoDBClient:
    import boto3

    return boto3.client("dynamodb")


class DynamoDbCacheStore:
    def __init__(self, table: str, *, client: DynamoDBClient | None = None) -> None:
        self._table = table
        self._client_instance = client

    @property
    def _client(self) -> DynamoDBClient:
        if self._client_instance is None:
            self._client_instance = _client()
        return self._client_instance

    def get_many(self, keys: Sequence[str]) -> dict[str, CacheRecord]:
        now = time.time()
        found: dict[str, CacheRecord] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _BATCH_GET):
            request: dict[str, Any] = {
                self._table: {"Keys": [{"key": {"S": key}} for key in unique[start : start + _BATCH_GET]]}
            }
            for _ in range(5):  # unprocessed keys come back under throttling: ask again
                answer = self._client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    record = _record(item)
                    if record.keep_until > now:
                        found[record.key] = record
                request = dict(answer.get("UnprocessedKeys") or {})
                if not request:
                    break
                time.sleep(0.05)
        return found

    def put_many(self, records: Sequence[CacheRecord]) -> None:
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        "key": {"S": r.key},
                        "value": {"S": json.dumps(r.value, separators=(",", ":"))},
                        "stored_at": {"N": repr(r.stored_at)},
                        "fresh_until": {"N": repr(r.fresh_until)},
                        "expires_at": {"N": str(int(r.keep_until) + 1)},
                    }
                }
            }
            for r in {r.key: r for r in records}.values()
        ]
        self._write(requests)

    def delete_many(self, keys: Sequence[str]) -> None:
        self._write([{"DeleteRequest": {"Key": {"key": {"S": key}}}} for key in dict.fromkeys(keys)])

    def _write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), _BATCH_WRITE):
            pending: dict[str, Any] = {self._table: requests[start : start + _BATCH_WRITE]}
            for _ in range(5):
                answer = self._client.batch_write_item(RequestItems=pending)
                pending = dict(answer.get("UnprocessedItems") or {})
                if not pending:
                    break
                time.sleep(0.05)
            else:
                # The cache is best effort (a failed price write must not turn an ERP answer into a
                # fallback), but a lost invalidation stamp serves stale prices until the TTL: say so.
                left = sum(len(items) for items in pending.values())
                log.error("DynamoDB did not accept %d cache writes after 5 tries (throttled?)", left)


def _record(item: dict[str, Any]) -> CacheRecord:
    return CacheRecord(
        key=item["key"]["S"],
        value=json.loads(item["value"]["S"]),
        stored_at=float(item["stored_at"]["N"]),
        fresh_until=float(item["fresh_until"]["N"]),
        keep_until=float(item["expires_at"]["N"]),
    )
