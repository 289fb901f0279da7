"""Fixtures of the batch tests (helpers they import live in batch_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from batch_support import AwsBatch, create_batch_resources
from moto import mock_aws


@pytest.fixture
def aws_batch() -> Iterator[AwsBatch]:
    """The staging bucket and the batch tables, on moto (in-process)."""
    with mock_aws():
        yield create_batch_resources()


@pytest.fixture(params=["dynamodb", "sqlite"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any, Any]]:
    """Runs, locks and claims on DynamoDB (moto) and on local SQLite: the same behaviour expected."""
    from erpbridge.adapters.aws.dynamodb_import_claims import DynamoDbImportClaims
    from erpbridge.adapters.aws.dynamodb_job_lock import DynamoDbJobLock
    from erpbridge.adapters.aws.dynamodb_runs import DynamoDbRunRecorder
    from erpbridge.adapters.local.sqlite_batch_state import LocalBatchState

    if request.param == "sqlite":
        local = LocalBatchState.open(tmp_path)
        yield local.runs, local.locks, local.claims
        return
    aws = request.getfixturevalue("aws_batch")
    yield (
        DynamoDbRunRecorder(aws.runs_table),
        DynamoDbJobLock(aws.locks_table),
        DynamoDbImportClaims(aws.idempotency_table),
    )
