"""The ERP circuit breaker's state shared by every container, on DynamoDB: ``BreakerStore``.

Items: ``name`` (partition key) and the state; every write is conditional on the version read
before (compare-and-set), so two containers never both become the half-open probe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from erpbridge.adapters.aws.dynamodb_versioned import VersionedItems
from erpbridge.erp.ports import BreakerPhase, BreakerState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDbBreakerStore:
    """Implements ``erpbridge.erp.ports.BreakerStore`` on a DynamoDB table (conditional writes)."""

    def __init__(self, table: str, *, client: DynamoDBClient | None = None, keep_s: int = 86_400) -> None:
        self._items = VersionedItems(table, client=client, keep_s=keep_s)

    def load(self, name: str) -> BreakerState:
        item = self._items.get(name)
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
        attributes: dict[str, Any] = {
            "phase": {"S": state.phase.value},
            "failures": {"N": str(state.consecutive_failures)},
        }
        if state.opened_at is not None:
            attributes["opened_at"] = {"N": repr(state.opened_at)}
        if state.probe_started_at is not None:
            attributes["probe_started_at"] = {"N": repr(state.probe_started_at)}
        return self._items.put(name, attributes, expected_version=expected_version)
