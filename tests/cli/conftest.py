"""Fixtures of the CLI tests: a project folder of their own (its job files are the repository's),
so no test reads or writes the checkout's ``.erpbridge/``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import ROOT

CLEARED = (
    "ERPBRIDGE_HOME",
    "ERPBRIDGE_STATE_DIR",
    "ERPBRIDGE_DATABASE_URL",
    "ERPBRIDGE_MAPPINGS_DIR",
    "ERPBRIDGE_STAGING_BUCKET",
    "ERPBRIDGE_RUNS_TABLE",
    "ERPBRIDGE_LOCKS_TABLE",
    "ERPBRIDGE_IDEMPOTENCY_TABLE",
    "ERPBRIDGE_SECRETS_NAME",
    "ERPBRIDGE_SSM_PATH",
    "ERPBRIDGE_FETCH_FUNCTION",
    "ERPBRIDGE_EXPORT_FUNCTION",
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A new user's project: the repository's job files, no state yet, no ERP settings;
    ``ERPBRIDGE_HOME`` points at it."""
    from erpbridge.settings import get_settings
    from erpbridge.shopdb import dispose_engines

    folder = tmp_path / "shop-project"
    (folder / "mappings").mkdir(parents=True)
    for job_file in (ROOT / "mappings").iterdir():
        (folder / "mappings" / job_file.name).symlink_to(job_file)
    for name in list(os.environ):
        if name.startswith("ERPBRIDGE_ERP_") or name in CLEARED:
            monkeypatch.delenv(name)
    monkeypatch.setenv("ERPBRIDGE_HOME", str(folder))
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    get_settings.cache_clear()
    yield folder
    from erpbridge.wiring.live import use_services

    use_services(None)  # what a command installed for the process
    dispose_engines()
    get_settings.cache_clear()
