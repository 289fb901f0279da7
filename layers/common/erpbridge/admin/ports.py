"""What the console's use cases need beside the batch and live ports they reuse."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from erpbridge.live.ports import OrderState


@dataclass(frozen=True)
class OrderSummary:
    order_id: str
    customer_number: str | None
    state: OrderState
    erp_order_id: str | None
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class OrderListing(Protocol):
    """The orders an operator looks at: by state, oldest first."""

    def list_orders(
        self, *, states: Sequence[OrderState], older_than: datetime | None, limit: int
    ) -> list[OrderSummary]: ...


class JobLauncher(Protocol):
    """Starts a fetch now without waiting for it (locally: a thread that fetches and imports; in
    AWS: an asynchronous invocation of the fetch function). The run appears under ``run_id``."""

    def launch(self, job: str, run_id: str, parameters: Mapping[str, str], requested_by: str) -> None: ...

    def launch_import(self, bucket: str, key: str, requested_by: str) -> None:
        """Import a file put back into staging/ (in AWS its S3 event does this: nothing to do)."""
        ...


class LatencyLog(Protocol):
    """ERP call latencies of the last hour (milliseconds)."""

    def recent(self, *, since: datetime) -> list[float]: ...
