"""Running the ``fetch`` half of a job file: the job's parameters, request, variant and ERP settings.

The job file's model, both halves, is :class:`erpbridge.mapping.model.JobDefinition`; its
``fetch`` section is :class:`erpbridge.mapping.fetch_spec.FetchSpec`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from erpbridge.errors import ConfigurationError
from erpbridge.mapping.fetch_spec import FetchSpec
from erpbridge.mapping.jobfile import list_job_ids, load_job
from erpbridge.mapping.model import JobDefinition
from erpbridge.settings import ErpSettings


@dataclass(frozen=True)
class BatchJob:
    id: str
    description: str
    fetch: FetchSpec
    definition: JobDefinition

    @property
    def erp_endpoint(self) -> str:
        """Which ERP it fetches from, in words: an endpoint of its own, or the live settings'."""
        return "own endpoint" if self.fetch.erp else "live settings"

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
    if definition.fetch is None:
        raise ConfigurationError(f"job {job_id} has no fetch section: it cannot be run")
    return BatchJob(
        id=definition.id, description=definition.description, fetch=definition.fetch, definition=definition
    )


def list_batch_jobs(directory: Path | None = None) -> list[BatchJob]:
    """Every job file with a fetch section (jobs without one are import-only or not ours)."""
    jobs = []
    for job_id in list_job_ids(directory):
        definition = load_job(job_id, directory)
        if definition.fetch is not None:
            jobs.append(load_batch_job(job_id, directory))
    return jobs
