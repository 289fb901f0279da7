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

The ``import`` half belongs to the mapping engine (:mod:`erpbridge.mapping.model`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from erpbridge.errors import ConfigurationError
from erpbridge.mapping.jobfile import list_job_ids, load_job
from erpbridge.mapping.model import JobDefinition
from erpbridge.settings import ErpSettings


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


@dataclass(frozen=True)
class BatchJob:
    id: str
    description: str
    fetch: FetchSpec
    definition: JobDefinition

    @property
    def long_running(self) -> bool:
        """The job file says ``long_running: true``: the workflow runs it (docs/paged-runs.md)."""
        return self.definition.long_running

    def parameters(self, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
        merged = dict(self.fetch.parameters)
        for name, value in (overrides or {}).items():
            if name not in merged:
                known = ", ".join(sorted(merged)) or "none"
                raise ConfigurationError(f"job {self.id}: unknown parameter {name!r} (known: {known})")
            merged[name] = str(value)
        return merged

    def variant(self, overrides: Mapping[str, str] | None = None) -> str:
        """ "" for the default parameters, else a short stable name of the parameters that differ
        (``shopID=SHOP2`` → 8 hex digits): runs for another shop lock and identify their
        schedule slot apart from the default shop's."""
        merged = self.parameters(overrides)
        changed = {name: value for name, value in merged.items() if self.fetch.parameters.get(name) != value}
        if not changed:
            return ""
        return hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()[:8]

    def request_xml(self, overrides: Mapping[str, str] | None = None) -> bytes:
        from erpbridge.protocol.request_builders import build_batch_request

        return build_batch_request(self.fetch.request, self.parameters(overrides))

    def erp_settings(self, base: ErpSettings, env: Mapping[str, str] | None = None) -> ErpSettings:
        """The live ERP settings with this job's overrides applied (and validated again)."""
        override = self.fetch.erp
        if override is None:
            return base
        source = os.environ if env is None else env
        values: dict[str, Any] = {
            name: value for name, value in base.model_dump().items() if name in ErpSettings.model_fields
        }
        for name, value in override.model_dump(exclude_none=True).items():
            if name.endswith("_env"):
                field = name.removesuffix("_env")
                if value not in source:
                    raise ConfigurationError(f"job {self.id}: erp.{name} names {value}, which is not set")
                values[f"erp_{field}"] = source[value]
            else:
                values[f"erp_{name}"] = value
        try:
            return ErpSettings.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            raise ConfigurationError(f"job {self.id}: erp override: {problems}") from None


def load_batch_job(job_id: str, directory: Path | None = None) -> BatchJob:
    definition = load_job(job_id, directory)
    if not definition.fetch:
        raise ConfigurationError(f"job {job_id} has no fetch section: it cannot be run")
    try:
        spec = FetchSpec.model_validate(definition.fetch)
    except ValidationError as error:
        problems = "; ".join(
            f"fetch.{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in error.errors()
        )
        raise ConfigurationError(f"job {job_id}: {problems}") from None
    return BatchJob(id=definition.id, description=definition.description, fetch=spec, definition=definition)


def list_batch_jobs(directory: Path | None = None) -> list[BatchJob]:
    """Every job file with a fetch section (jobs without one are import-only or not ours)."""
    jobs = []
    for job_id in list_job_ids(directory):
        definition = load_job(job_id, directory)
        if definition.fetch:
            jobs.append(load_batch_job(job_id, directory))
    return jobs
