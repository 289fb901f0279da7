"""``ScheduleStates`` in AWS: the jobs' EventBridge Scheduler schedules, ``<prefix><job>``.

A job is enabled when its schedule's ``State`` is ``ENABLED``. Switching it is ``UpdateSchedule``
with the schedule as it is and the other State: Scheduler replaces the whole schedule on update,
so every field GetSchedule gave is passed back (the target's role needs ``iam:PassRole``). The
description records who switched it last and when.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from erpbridge.live.errors import NotFoundError

_UPDATABLE = (
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "FlexibleTimeWindow",
    "Target",
    "StartDate",
    "EndDate",
    "KmsKeyArn",
    "ActionAfterCompletion",
)


class SchedulerStates:
    def __init__(self, prefix: str, group: str = "default", *, client: Any = None) -> None:
        self._prefix = prefix
        self._group = group
        self._client = client  # boto3 scheduler client (no stubs installed)

    def _get(self, job: str) -> dict[str, Any] | None:
        client = self._scheduler()
        try:
            found: dict[str, Any] = client.get_schedule(Name=self._prefix + job, GroupName=self._group)
        except client.exceptions.ResourceNotFoundException:
            return None
        return found

    def enabled(self, job: str, *, has_schedule: bool) -> bool:
        found = self._get(job)
        return found is not None and found.get("State") == "ENABLED"

    def set_enabled(self, job: str, enabled: bool, *, operator: str) -> None:
        found = self._get(job)
        if found is None:
            raise NotFoundError(f"job {job} has no schedule {self._prefix + job} in group {self._group}")
        state = "ENABLED" if enabled else "DISABLED"
        described = str(found.get("Description") or "").split(" · ")[0]
        note = f"{state.lower()} by {operator} at {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
        self._scheduler().update_schedule(
            Name=found["Name"],
            GroupName=self._group,
            State=state,
            Description=f"{described} · {note}"[:512],
            **{name: found[name] for name in _UPDATABLE if found.get(name) is not None},
        )

    def _scheduler(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("scheduler")
        return self._client
