"""The fetch function's event (``fetch_job``): the job to run and how it was started. The
long-run workflow's steps (``workflow_steps``) read the same event."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from erpbridge.batch.models import Trigger


class FetchEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    job: str = Field(min_length=1)
    scheduled_time: datetime | None = None
    parameters: dict[str, str] = Field(default_factory=dict)
    trigger: Trigger | None = None
    run_id: str | None = Field(default=None, pattern=r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,79}$")
    requested_by: str | None = Field(default=None, max_length=2048)  # the operator (admin API Run now)

    @field_validator("scheduled_time", mode="before")
    @classmethod
    def _placeholder_means_none(cls, value: object) -> object:
        # The console sample carries Scheduler's placeholder verbatim: treat it as "not scheduled".
        return None if isinstance(value, str) and (not value or value.startswith("<aws.")) else value
