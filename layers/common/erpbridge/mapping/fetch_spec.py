"""The ``fetch`` half of a job file (``mappings/<job-id>.yaml``): what to ask the ERP, and when.

```yaml
fetch:
  request: |                       # a GetEcomData request; {name} placeholders in attribute values
    <GetEcomData shopID="{shopID}"><tables><Currencies type="all"/></tables></GetEcomData>
  parameters: {shopID: SHOP1}      # defaults; a run may override them (event "parameters")
  schedule: cron(0 2 * * ? *)      # EventBridge Scheduler expression (template.yaml must agree)
  schedule_timezone: Europe/Copenhagen
  max_pages: 1000                  # stop following ExportIsDone="false" after this many pages
  erp:                             # optional: this job talks to another endpoint / with other credentials
    url: https://bc.example.com/WS/CRONUS/Codeunit/DWWebService
    auth: basic
    user: BATCH
    password_env: ERPBRIDGE_JOB_CUSTOMERS_ERP_PASSWORD   # secrets by reference, never in the file
```

:class:`erpbridge.mapping.model.JobDefinition` holds both halves, so a job file is validated
whole when it is read (and ``mappings/job.schema.json`` checks ``fetch`` too); running the fetch
is :mod:`erpbridge.batch.jobs`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ErpOverride(_Strict):
    """Fields replacing the live ERP settings for one job. Secrets are named, not written: each
    ``*_env`` names an environment variable holding the value."""

    url: str | None = None
    auth: Literal["none", "key", "basic", "oauth2"] | None = None
    security_key_env: str | None = None
    security_key_header: str | None = None
    user: str | None = None
    password_env: str | None = None
    tenant: str | None = None
    client_id: str | None = None
    client_secret_env: str | None = None
    token_url: str | None = None
    scope: str | None = None
    timeout_s: float | None = Field(default=None, gt=0, le=900)


class ScheduleSpec(_Strict):
    """One more schedule of the job, with its own parameters — e.g. the same catalogue job for
    a second shop. template.yaml has one ScheduleV2 event per schedule, ``parameters`` in its Input."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9]{0,40}$", description="the template event's suffix")
    schedule: str = Field(min_length=1, description="EventBridge Scheduler expression")
    schedule_timezone: str = "UTC"
    parameters: dict[str, str] = Field(default_factory=dict)


class FetchSpec(_Strict):
    request: str = Field(min_length=1, description="GetEcomData request template with {name} placeholders")
    parameters: dict[str, str] = Field(default_factory=dict)
    schedule: str | None = Field(default=None, description="EventBridge Scheduler expression")
    schedule_timezone: str = "UTC"
    schedules: list[ScheduleSpec] = Field(
        default_factory=list, description="more schedules, each with its parameters (one per shop)"
    )
    max_pages: int = Field(default=1000, ge=1, le=100_000)
    erp: ErpOverride | None = None

    @model_validator(mode="after")
    def _schedules_name_known_parameters(self) -> FetchSpec:
        names = [s.name for s in self.schedules]
        if len(set(names)) != len(names):
            raise ValueError("schedules: every schedule needs its own name")
        for spec in self.schedules:
            unknown = sorted(set(spec.parameters) - set(self.parameters))
            if unknown:
                raise ValueError(f"schedules.{spec.name}: unknown parameters {', '.join(unknown)}")
        return self
