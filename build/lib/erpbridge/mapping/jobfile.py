"""Reading job files (``mappings/<job-id>.yaml``): YAML in, a validated :class:`JobDefinition` out.

YAML because job files are written and reviewed by people: comments, multi-line request
templates (block scalars) and nested lists of column mappings read naturally, which TOML's
arrays of tables do not. It is parsed with ``yaml.safe_load`` (no object construction).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from erpbridge.errors import ConfigurationError
from erpbridge.mapping.model import JobDefinition, job_json_schema

JOB_FILE_SUFFIX = ".yaml"
MAPPINGS_DIR_VARIABLE = "ERPBRIDGE_MAPPINGS_DIR"


def mappings_directory() -> Path:
    """``$ERPBRIDGE_MAPPINGS_DIR``, else ``./mappings``."""
    return Path(os.environ.get(MAPPINGS_DIR_VARIABLE) or "mappings")


def job_path(job_id: str, directory: Path | None = None) -> Path:
    return (directory or mappings_directory()) / f"{job_id}{JOB_FILE_SUFFIX}"


def list_job_ids(directory: Path | None = None) -> list[str]:
    folder = directory or mappings_directory()
    return sorted(path.stem for path in folder.glob(f"*{JOB_FILE_SUFFIX}"))


def parse_job(text: str, *, where: str = "job file") -> JobDefinition:
    """Validate a job file's text; every problem is listed in one ConfigurationError."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigurationError(f"{where}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigurationError(f"{where}: a job file is a YAML mapping (key: value), got {kind}")
    try:
        return JobDefinition.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or '(top)'}: {item['msg']}"
            for item in error.errors()
        )
        raise ConfigurationError(f"{where}: {problems}") from error


def load_job(job_id_or_path: str | Path, directory: Path | None = None) -> JobDefinition:
    """Load a job by id (from the mappings directory) or by file path."""
    candidate = Path(job_id_or_path)
    path = candidate if candidate.suffix == JOB_FILE_SUFFIX else job_path(str(job_id_or_path), directory)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise ConfigurationError(f"job file {path} does not exist") from error
    job = parse_job(text, where=str(path))
    if job.id != path.stem:
        raise ConfigurationError(f"{path}: id {job.id!r} must equal the file name {path.stem!r}")
    return job


def job_schema_json() -> str:
    """The committed ``mappings/job.schema.json`` text (stable key order, trailing newline)."""
    return json.dumps(job_json_schema(), indent=2, sort_keys=True) + "\n"
