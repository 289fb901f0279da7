"""Pytest fixtures that start the BC emulator in-process on free ports.

Registered in ``tests/conftest.py`` (``pytest_plugins = ["bc_emulator.pytest_plugin"]``).

* ``emulator`` — the session's emulator with ``auth="key"``, reset (orders, checkpoints, faults,
  journal, down window) before the test. Point erpbridge at it with ``emulator.settings_env()``;
  steer it with ``emulator.control`` (or ``emulator.set_faults(...)`` in-process).
* ``emulator_factory(auth="oauth2", products=5000, ...)`` — an emulator with that configuration
  (any :class:`~bc_emulator.server.EmulatorConfig` field), started once per session and per
  configuration, reset before it is handed out.

Emulators started by the fixtures use the data set's reference date as BC's work date, so prices
with starting/ending dates answer the same whatever day the tests run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import fields
from typing import Any

import pytest

from bc_emulator.dataset import DEFAULT_REFERENCE_DATE
from bc_emulator.server import Emulator, EmulatorConfig

_CONFIG_FIELDS = {f.name for f in fields(EmulatorConfig)}


class EmulatorPool:
    """One running emulator per configuration, shared by the whole test session."""

    def __init__(self) -> None:
        self._emulators: dict[tuple[tuple[str, Any], ...], Emulator] = {}
        self._lock = threading.Lock()

    def get(self, **config: Any) -> Emulator:
        unknown = sorted(set(config) - _CONFIG_FIELDS)
        if unknown:
            raise TypeError(f"unknown emulator settings {unknown}; known: {sorted(_CONFIG_FIELDS)}")
        config.setdefault("today", DEFAULT_REFERENCE_DATE)
        key = tuple(sorted((name, repr(value)) for name, value in config.items()))
        with self._lock:
            emulator = self._emulators.get(key)
            if emulator is None:
                emulator = Emulator(EmulatorConfig(**config)).start()
                self._emulators[key] = emulator
        return emulator

    def stop_all(self) -> None:
        with self._lock:
            for emulator in self._emulators.values():
                emulator.stop()
            self._emulators.clear()


@pytest.fixture(scope="session")
def emulator_pool() -> Iterator[EmulatorPool]:
    pool = EmulatorPool()
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture
def emulator_factory(emulator_pool: EmulatorPool) -> Iterator[Callable[..., Emulator]]:
    used: list[Emulator] = []

    def factory(**config: Any) -> Emulator:
        emulator = emulator_pool.get(**config)
        emulator.reset()
        used.append(emulator)
        return emulator

    yield factory
    for emulator in used:  # leave no hanging request or down window to the next test
        emulator.release_hanging()
        if emulator.is_down:
            emulator.come_up()


@pytest.fixture
def emulator(emulator_factory: Callable[..., Emulator]) -> Emulator:
    """The BC emulator (auth key), fresh for this test."""
    return emulator_factory(auth="key")
