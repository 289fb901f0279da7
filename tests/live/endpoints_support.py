"""The second ERP endpoint of the two-emulator tests (the ``nordic`` fixture of conftest.py): its
``ERPBRIDGE_ERP_ENDPOINTS`` map (tests/live/test_erp_endpoints.py, tests/live/test_price_audit.py)."""

from __future__ import annotations

import json
from typing import Any


def nordic_endpoints(nordic: Any, **extra: Any) -> str:
    """The map of one endpoint ``nordic`` for shop NORDIC on the emulator ``nordic`` (Basic
    authentication); ``extra`` overrides or adds entry keys."""
    cfg = nordic.config
    entry = {
        "shops": ["NORDIC"],
        "url": nordic.soap_url,
        "auth": "basic",
        "user": cfg.user,
        "password": cfg.password,
    }
    return json.dumps({"nordic": {**entry, **extra}})
