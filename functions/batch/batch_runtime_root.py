"""The batch functions' composition root: one runtime per execution environment, built lazily
(so importing a handler builds no clients and reads no settings)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from erpbridge.adapters.batch_runtime import BatchRuntime, runtime_from_settings
from erpbridge.settings import get_settings


@functools.cache
def batch_runtime() -> BatchRuntime:
    mappings = os.environ.get("ERPBRIDGE_MAPPINGS_DIR")
    return runtime_from_settings(get_settings(), mappings_dir=Path(mappings) if mappings else None)
