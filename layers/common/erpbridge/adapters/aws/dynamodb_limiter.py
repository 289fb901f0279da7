"""Implements :class:`erpbridge.erp.limiter.LimiterStore` on a DynamoDB table shared by every container.

One item per ERP principal in the breaker table (partition key ``name``, value
``erp-principal:<digest>``): the in-flight leases and the starts per bucket as maps, and a version.
Every write is conditional on the version read before, so two containers never take the same slot.
``expires_at`` (the table's TTL) drops the item of a principal that stopped calling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from erpbridge.adapters.aws.dynamodb_versioned import VersionedItems
from erpbridge.erp.limiter import LimiterState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDbLimiterStore:
    def __init__(self, table: str, *, client: DynamoDBClient | None = None, keep_s: int = 3600) -> None:
        self._items = VersionedItems(table, client=client, keep_s=keep_s)

    def load(self, principal: str) -> LimiterState:
        item = self._items.get(principal)
        if not item:
            return LimiterState()
        leases = item.get("leases", {}).get("M", {})
        buckets = item.get("buckets", {}).get("M", {})
        return LimiterState(
            leases={lease: float(value["N"]) for lease, value in leases.items()},
            buckets={int(index): int(value["N"]) for index, value in buckets.items()},
            version=int(item["version"]["N"]),
        )

    def save(self, principal: str, state: LimiterState, *, expected_version: int) -> bool:
        attributes: dict[str, Any] = {
            "leases": {"M": {lease: {"N": repr(expiry)} for lease, expiry in state.leases.items()}},
            "buckets": {"M": {str(index): {"N": str(count)} for index, count in state.buckets.items()}},
        }
        return self._items.put(principal, attributes, expected_version=expected_version)
