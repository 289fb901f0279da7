from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from erp.fake_bc import FakeBC
from erpbridge.erp.client import SoapErpClient
from erpbridge.settings import ErpSettings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingSleep:
    def __init__(self, clock: FakeClock) -> None:
        self.calls: list[float] = []
        self._clock = clock

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self._clock.advance(seconds)


@pytest.fixture
def bc() -> Iterator[FakeBC]:
    server = FakeBC().start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleep(clock: FakeClock) -> RecordingSleep:
    return RecordingSleep(clock)


def settings_for(bc: FakeBC, **overrides: Any) -> ErpSettings:
    values: dict[str, Any] = {
        "erp_url": bc.url,
        "erp_auth": bc.auth,
        "erp_security_key": bc.security_key,
        "erp_security_key_header": bc.key_header,
        "erp_user": bc.user,
        "erp_password": bc.password,
        "erp_client_id": bc.client_id,
        "erp_client_secret": bc.client_secret,
        "erp_token_url": bc.token_url,
        "erp_timeout_s": 2.0,
        "erp_connect_timeout_s": 1.0,
    }
    values.update(overrides)
    return ErpSettings.model_validate(values)


@pytest.fixture
def make_client(bc: FakeBC, clock: FakeClock, sleep: RecordingSleep) -> Callable[..., SoapErpClient]:
    def make(server: FakeBC | None = None, **overrides: Any) -> SoapErpClient:
        return SoapErpClient(
            settings_for(server or bc, **overrides), clock=clock, sleep=sleep, jitter=lambda: 0.5
        )

    return make
