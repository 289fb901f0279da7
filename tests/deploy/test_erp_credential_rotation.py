"""ERP credentials rotated in the secret store are picked up without a redeploy: when BC refuses
the key in use the client reads the settings again, and after a TTL it does so unasked (the
emulator over HTTP, key auth)."""

from __future__ import annotations

from typing import Any

import pytest

from erpbridge.erp.client import SoapErpClient
from erpbridge.erp.ports import RequestKind
from erpbridge.errors import ErpAuthError
from erpbridge.protocol.request_builders import build_ping
from erpbridge.settings import ErpSettings, load_settings

PING = build_ping()


def _settings(emulator: Any, key: str) -> ErpSettings:
    return load_settings(
        {**emulator.settings_env(), "ERPBRIDGE_ERP_SECURITY_KEY": key, "ERPBRIDGE_ERP_MAX_RETRIES": "0"}
    )


def test_a_refused_key_is_replaced_by_the_rotated_one_on_the_same_request(emulator_factory: Any) -> None:
    emulator = emulator_factory(auth="key", security_key="rotated-key")
    reads: list[str] = []

    def reload() -> ErpSettings:
        reads.append("read")
        return _settings(emulator, "rotated-key")

    client = SoapErpClient(_settings(emulator, "old-key"), reload=reload)
    assert "<" in client.call(PING, kind=RequestKind.PING)
    assert reads == ["read"]  # re-read once, when BC answered 401


def test_an_unchanged_refused_key_is_an_auth_error_not_a_loop(emulator_factory: Any) -> None:
    emulator = emulator_factory(auth="key", security_key="rotated-key")
    reads: list[str] = []

    def reload() -> ErpSettings:
        reads.append("read")
        return _settings(emulator, "old-key")

    client = SoapErpClient(_settings(emulator, "old-key"), reload=reload)
    with pytest.raises(ErpAuthError):
        client.call(PING, kind=RequestKind.PING)
    assert reads == ["read"]


def test_credentials_are_read_again_after_their_ttl(emulator_factory: Any) -> None:
    emulator = emulator_factory(auth="key", security_key="emulator-security-key")
    now = [0.0]
    reads: list[float] = []

    def reload() -> ErpSettings:
        reads.append(now[0])
        return _settings(emulator, "emulator-security-key")

    client = SoapErpClient(
        _settings(emulator, "emulator-security-key"),
        reload=reload,
        credentials_ttl_s=300,
        clock=lambda: now[0],
    )
    client.call(PING, kind=RequestKind.PING)
    now[0] = 299.0
    client.call(PING, kind=RequestKind.PING)
    assert reads == []
    now[0] = 300.0
    client.call(PING, kind=RequestKind.PING)
    assert reads == [300.0]
