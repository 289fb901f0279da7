"""What the console's use cases need beside the batch and live ports they reuse."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

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

    def as_dict(self) -> dict[str, Any]:
        """The admin API's JSON of an order in a list (``erpbridge orders list --json``)."""
        return {
            "order_id": self.order_id,
            "customer_number": self.customer_number,
            "state": self.state.value,
            "erp_order_id": self.erp_order_id,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OrderSummary:
        return cls(
            order_id=str(data["order_id"]),
            customer_number=data.get("customer_number"),
            state=OrderState(data["state"]),
            erp_order_id=data.get("erp_order_id"),
            attempts=int(data.get("attempts") or 0),
            last_error=data.get("last_error"),
            created_at=datetime.fromisoformat(data["created_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
        )


class OrderListing(Protocol):
    """The orders an operator looks at: by state, oldest first."""

    def list_orders(
        self, *, states: Sequence[OrderState], older_than: datetime | None, limit: int
    ) -> list[OrderSummary]: ...


@dataclass(frozen=True)
class RunNow:
    """A Run now: the job, the run id it was answered with, its parameters and who asked."""

    job: str
    run_id: str
    parameters: Mapping[str, str]
    requested_by: str
    long_running: bool = False  # the long-run workflow runs it (docs/paged-runs.md)


class JobLauncher(Protocol):
    """Starts a fetch now without waiting for it (locally: a thread that fetches and imports; in
    AWS: an asynchronous invocation of the fetch function, or for a ``long_running`` job an
    execution of the long-run workflow). The run appears under ``run_id``."""

    def launch(self, run: RunNow) -> None: ...

    def launch_import(self, bucket: str, key: str, requested_by: str) -> None:
        """Import a file put back into staging/ (in AWS its S3 event does this: nothing to do)."""
        ...


@dataclass(frozen=True)
class LatencySummary:
    """ERP call latencies over a span (milliseconds; None when there were no calls)."""

    calls: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None
    source: str = "this process"  # where the figures come from ("CloudWatch ErpLatency", …)

    def as_dict(self) -> dict[str, float | int | str | None]:
        return {
            "calls": self.calls,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "max_ms": self.max_ms,
            "source": self.source,
        }


def summarise(values: Sequence[float], source: str = "this process") -> LatencySummary:
    """The summary of measured latencies (the local log's figures)."""
    ordered = sorted(values)
    if not ordered:
        return LatencySummary(source=source)
    return LatencySummary(
        calls=len(ordered),
        p50_ms=round(ordered[len(ordered) // 2], 1),
        p95_ms=round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 1),
        max_ms=round(ordered[-1], 1),
        source=source,
    )


class LatencyLog(Protocol):
    """ERP call latencies since a time: in AWS the live function's ``ErpLatency`` metric in
    CloudWatch; locally what this process measured."""

    def summary(self, *, since: datetime) -> LatencySummary: ...


class ScheduleStates(Protocol):
    """Whether a job's schedule fires (in AWS: the EventBridge Scheduler schedule's State; locally:
    whether the job file has a schedule) and, where the schedules are real, switching it."""

    def enabled(self, job: str, *, has_schedule: bool) -> bool: ...

    def set_enabled(self, job: str, enabled: bool, *, operator: str) -> None:
        """ConflictError where schedules cannot be switched (locally: edit the job file)."""
        ...
