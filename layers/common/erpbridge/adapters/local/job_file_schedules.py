"""``ScheduleStates`` locally: a job is enabled when its job file has a schedule.

Nothing fires on a laptop (`make run` and `erpbridge jobs run` start jobs by hand), so there is
no state to switch: the job file's ``schedule`` is the only switch.
"""

from __future__ import annotations

from erpbridge.live.errors import ConflictError


class JobFileSchedules:
    def enabled(self, job: str, *, has_schedule: bool) -> bool:
        return has_schedule

    def set_enabled(self, job: str, enabled: bool, *, operator: str) -> None:
        raise ConflictError(
            f"job {job}: schedules are switched in AWS (EventBridge Scheduler); locally, "
            "edit the schedule in its job file"
        )
