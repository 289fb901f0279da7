"""Fixtures of the batch tests (helpers they import live in batch_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from batch_support import AwsBatch, create_batch_resources
from moto import mock_aws


@pytest.fixture
def aws_batch() -> Iterator[AwsBatch]:
    """The staging bucket and the batch tables, on moto (in-process)."""
    with mock_aws():
        yield create_batch_resources()
