"""Helpers the batch tests import: moto-backed AWS resources built from template.yaml's own table
definitions (so the tests and the stack cannot drift).

A module of its own, not conftest.py: test modules cannot import a conftest by name reliably,
since every test folder has one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "erpbridge-staging-test"


def template_resources() -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    return dict(yaml_parse((ROOT / "template.yaml").read_text())["Resources"])


@dataclass(frozen=True)
class AwsBatch:
    bucket: str
    runs_table: str
    locks_table: str
    idempotency_table: str

    def env(self) -> dict[str, str]:
        return {
            "ERPBRIDGE_STAGING_BUCKET": self.bucket,
            "ERPBRIDGE_RUNS_TABLE": self.runs_table,
            "ERPBRIDGE_LOCKS_TABLE": self.locks_table,
            "ERPBRIDGE_IDEMPOTENCY_TABLE": self.idempotency_table,
        }


def set_batch_env(
    monkeypatch: Any, emulator: Any, aws: AwsBatch, database_url: str, state_dir: Path, **extra: str
) -> None:
    """The batch functions' environment: the emulator, the moto resources, the shop database, the
    job files, a state folder; ``extra`` settings on top; no secrets store."""
    for name, value in {
        **emulator.settings_env(),
        **aws.env(),
        "ERPBRIDGE_DATABASE_URL": database_url,
        "ERPBRIDGE_MAPPINGS_DIR": str(ROOT / "mappings"),
        "ERPBRIDGE_STATE_DIR": str(state_dir),
        "POWERTOOLS_METRICS_DISABLED": "true",
        **extra,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("ERPBRIDGE_SECRETS_NAME", "ERPBRIDGE_SSM_PATH"):
        monkeypatch.delenv(name, raising=False)


def create_batch_resources() -> AwsBatch:
    from erpbridge_cli.local_stack import create_batch_resources as create

    resources = AwsBatch(BUCKET, "runs", "locks", "idempotency")
    tables = {
        "RunsTable": resources.runs_table,
        "LocksTable": resources.locks_table,
        "IdempotencyTable": resources.idempotency_table,
    }
    create(resources.bucket, tables)
    return resources
