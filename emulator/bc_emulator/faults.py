"""Seeded fault injection for the emulator.

A :class:`FaultSpec` says which faults to inject and how often; a :class:`FaultInjector` holds the
active spec and a seeded random generator and decides, request by request, what happens. The same
seed and the same sequence of requests give the same decisions, so a test run is reproducible.

Faults (all off by default):

* ``latency_ms`` plus a random part ``latency_jitter_ms`` drawn from ``latency_distribution``
  (``uniform``: 0..jitter, ``exponential``: mean jitter, ``normal``: |N(0, jitter)|).
* ``error_rate``: HTTP 500 with a SOAP fault of code ``s:Server`` (the request never reached the
  ERP logic: a failure that may pass later, not a refusal of the request).
* ``busy_429_rate`` / ``busy_503_rate``: HTTP 429 / 503 with ``Retry-After: retry_after_s``.
* ``hang_rate``: the request is read and never answered; the connection is closed after
  ``hang_s`` seconds (a client timeout).
* ``reset_rate``: the connection is reset (TCP RST) before the request is processed.
* ``commit_then_drop_rate``: only for order creation/export: the order is created, then the
  connection is reset before any byte of the response is sent.
* ``commit_then_hang_rate``: only for order creation/export: the order is created, then the
  request hangs like ``hang_rate`` (``hang_s``, then the connection is closed): the client's read
  timeout fires although the order exists. (It shares one draw with ``commit_then_drop_rate``:
  their sum is the chance of either.)
* ``malformed_rate``: HTTP 200 whose body is not a well-formed SOAP envelope.
* ``truncated_rate``: the response is cut off mid-body (Content-Length promises more, or a chunked
  stream ends without its last chunk) and the connection is closed.
* ``stream_bytes_per_s``: responses are sent at most this fast (slow streaming of big responses).

Down windows (the listening socket really closed) are not rates: see ``Emulator.go_down``; the
spec's ``down_for_s`` is a convenience that closes the listener for that many seconds when the
spec is applied.

``kinds`` restricts the spec (latency included) to those request kinds (e.g. ``["create_order"]``;
empty = every SOAP request). ``"token"`` in ``kinds`` applies latency, 500, 429/503, reset and hang
to the OAuth2 token endpoint too (it is never faulted otherwise). ``times`` limits how many
requests get a fault (then the spec stays but injects nothing more; latency and slow streaming go
on); ``skip`` lets that many matching requests through first.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

LatencyDistribution = Literal["uniform", "exponential", "normal"]

# Request kinds as the emulator classifies them (same spelling as erpbridge.erp.ports.RequestKind).
REQUEST_KINDS = (
    "ping",
    "product_info",
    "calculate_order",
    "create_order",
    "get_list",
    "get_item",
    "get_pdf",
    "batch_fetch",
    "export_order",
    "unknown",
    "token",  # the OAuth2 token endpoint: only faulted when named in ``kinds``
)
ORDER_COMMIT_KINDS = frozenset({"create_order", "export_order"})


@dataclass(frozen=True)
class FaultSpec:
    seed: int = 1
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    latency_distribution: LatencyDistribution = "uniform"
    error_rate: float = 0.0
    error_message: str = "Injected fault: the ERP failed to process the request."
    busy_429_rate: float = 0.0
    busy_503_rate: float = 0.0
    retry_after_s: int = 1
    hang_rate: float = 0.0
    hang_s: float = 30.0
    reset_rate: float = 0.0
    commit_then_drop_rate: float = 0.0
    commit_then_hang_rate: float = 0.0
    malformed_rate: float = 0.0
    truncated_rate: float = 0.0
    stream_bytes_per_s: int = 0
    kinds: tuple[str, ...] = ()
    times: int | None = None
    skip: int = 0
    down_for_s: float = 0.0

    def __post_init__(self) -> None:
        for name in (
            "error_rate",
            "busy_429_rate",
            "busy_503_rate",
            "hang_rate",
            "reset_rate",
            "commit_then_drop_rate",
            "commit_then_hang_rate",
            "malformed_rate",
            "truncated_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        for name in ("latency_ms", "latency_jitter_ms", "hang_s", "down_for_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.commit_then_drop_rate + self.commit_then_hang_rate > 1.0:
            raise ValueError("commit_then_drop_rate + commit_then_hang_rate must not exceed 1")
        if self.latency_distribution not in ("uniform", "exponential", "normal"):
            raise ValueError(
                "latency_distribution must be uniform, exponential or normal, "
                f"got {self.latency_distribution!r}"
            )
        if self.stream_bytes_per_s < 0 or self.retry_after_s < 0 or self.skip < 0:
            raise ValueError("stream_bytes_per_s, retry_after_s and skip must not be negative")
        if self.times is not None and self.times < 0:
            raise ValueError("times must not be negative")
        unknown = [k for k in self.kinds if k not in REQUEST_KINDS]
        if unknown:
            raise ValueError(f"unknown request kinds {unknown}; known: {', '.join(REQUEST_KINDS)}")

    @classmethod
    def from_mapping(cls, spec: dict[str, Any]) -> FaultSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(f"unknown fault settings {unknown}; known: {', '.join(sorted(known))}")
        values = dict(spec)
        if "kinds" in values:
            kinds = values["kinds"]
            values["kinds"] = (kinds,) if isinstance(kinds, str) else tuple(str(k).lower() for k in kinds)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kinds"] = list(self.kinds)
        return data


Outcome = Literal["pass", "error", "busy_429", "busy_503", "hang", "reset"]


@dataclass(frozen=True)
class FaultDecision:
    """What to do with one SOAP request."""

    latency_s: float = 0.0
    before: Outcome = "pass"  # what happens before the ERP logic runs
    commit_then_drop: bool = False
    commit_then_hang: bool = False
    malformed: bool = False
    truncated: bool = False
    stream_bytes_per_s: int = 0

    @property
    def injected(self) -> list[str]:
        names: list[str] = []
        if self.before != "pass":
            names.append(self.before)
        if self.commit_then_drop:
            names.append("commit_then_drop")
        if self.commit_then_hang:
            names.append("commit_then_hang")
        if self.malformed:
            names.append("malformed")
        if self.truncated:
            names.append("truncated")
        return names


class FaultInjector:
    """Holds the active spec; thread-safe; one seeded RNG so decisions are reproducible."""

    def __init__(self, spec: FaultSpec | None = None) -> None:
        self._lock = threading.Lock()
        self._spec = spec or FaultSpec()
        self._rng = random.Random(self._spec.seed)
        self._matched = 0
        self._injected = 0

    @property
    def spec(self) -> FaultSpec:
        return self._spec

    def set(self, spec: FaultSpec) -> None:
        with self._lock:
            self._spec = spec
            self._rng = random.Random(spec.seed)
            self._matched = 0
            self._injected = 0

    def clear(self) -> None:
        self.set(FaultSpec())

    def decide(self, kind: str) -> FaultDecision:
        with self._lock:
            spec = self._spec
            rng = self._rng
            if spec.kinds and kind not in spec.kinds:
                return FaultDecision()
            latency_s = self._latency(spec, rng) / 1000.0
            self._matched += 1
            if self._matched <= spec.skip or (spec.times is not None and self._injected >= spec.times):
                return FaultDecision(latency_s=latency_s, stream_bytes_per_s=spec.stream_bytes_per_s)
            before: Outcome = "pass"
            # One draw per fault, always in the same order, so a spec change of one rate does not
            # shift the decisions of the others.
            draws = {name: rng.random() for name in ("reset", "hang", "busy_429", "busy_503", "error")}
            for name, rate in (
                ("reset", spec.reset_rate),
                ("hang", spec.hang_rate),
                ("busy_429", spec.busy_429_rate),
                ("busy_503", spec.busy_503_rate),
                ("error", spec.error_rate),
            ):
                if draws[name] < rate:
                    before = name  # type: ignore[assignment]
                    break
            after_draws = [rng.random() for _ in range(3)]
            commits = before == "pass" and kind in ORDER_COMMIT_KINDS
            # Both commit faults share the first draw, so adding one kept the earlier sequences.
            commit_then_drop = commits and after_draws[0] < spec.commit_then_drop_rate
            commit_then_hang = (
                commits
                and not commit_then_drop
                and after_draws[0] < spec.commit_then_drop_rate + spec.commit_then_hang_rate
            )
            committed = commit_then_drop or commit_then_hang
            malformed = before == "pass" and not committed and after_draws[1] < spec.malformed_rate
            truncated = (
                before == "pass" and not committed and not malformed and after_draws[2] < spec.truncated_rate
            )
            decision = FaultDecision(
                latency_s=latency_s,
                before=before,
                commit_then_drop=commit_then_drop,
                commit_then_hang=commit_then_hang,
                malformed=malformed,
                truncated=truncated,
                stream_bytes_per_s=spec.stream_bytes_per_s,
            )
            if decision.injected:
                self._injected += 1
            return decision

    @staticmethod
    def _latency(spec: FaultSpec, rng: random.Random) -> float:
        if spec.latency_jitter_ms <= 0:
            return spec.latency_ms
        if spec.latency_distribution == "exponential":
            extra = rng.expovariate(1.0 / spec.latency_jitter_ms)
        elif spec.latency_distribution == "normal":
            extra = abs(rng.gauss(0.0, spec.latency_jitter_ms))
        else:
            extra = rng.uniform(0.0, spec.latency_jitter_ms)
        return spec.latency_ms + extra
