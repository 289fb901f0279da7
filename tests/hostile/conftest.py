"""Fixtures of the hostile-file tests (helpers they import live in support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .support import Corpus


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    """The corpus's files, each built when a test first needs it and all removed at the end."""
    built = Corpus(tmp_path_factory.mktemp("hostile-corpus"))
    yield built
    built.remove()
