"""Fixtures of the admin API tests (the stack lives in console_support.py, shared with tests/browser)."""

from __future__ import annotations

from aws_deployed import deployed, proxy
from console_support import stack

__all__ = ["deployed", "proxy", "stack"]
