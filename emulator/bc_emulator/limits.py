"""BC online's per-principal limits, enforced the way BC answers them: 429 with ``Retry-After``.

Business Central online lets one user or service principal run about 5 requests at once and send
6,000 requests in a 5-minute sliding window; past either it answers 429 (peer-connectors.md §3.3).
The emulator enforces both when asked (``erpbridge emulator --bc-limits``, ``PUT /_control/limits``),
per principal: the basic-auth user, the bearer token or the security key a request carries (one
principal, ``anonymous``, without authentication). The window is a true sliding log, so a client
that stays under the limit never sees a 429, and one that does not always does.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from bc_emulator._model import RequestHeaders

_PRINCIPAL_HEADERS = ("authorization", "x-security-key")


@dataclass(frozen=True)
class LimitsSpec:
    """The limits per principal (BC online's defaults)."""

    max_in_flight: int = 5
    max_per_window: int = 6000
    window_s: float = 300.0

    def __post_init__(self) -> None:
        if self.max_in_flight < 1 or self.max_per_window < 1 or not self.window_s > 0:
            raise ValueError("limits need max_in_flight >= 1, max_per_window >= 1 and window_s > 0")

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> LimitsSpec:
        unknown = set(payload) - {"max_in_flight", "max_per_window", "window_s"}
        if unknown:
            raise ValueError(f"unknown limits field(s): {', '.join(sorted(unknown))}")
        return cls(**{key: payload[key] for key in payload})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused and when to come back."""

    reason: str
    retry_after_s: int


def principal_of(headers: RequestHeaders) -> str:
    """Who a request counts against: a digest of its credential (never the credential itself)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    for name in _PRINCIPAL_HEADERS:
        value = lowered.get(name)
        if value:
            return hashlib.sha256(value.encode()).hexdigest()[:16]
    return "anonymous"


class BcLimits:
    """Admission per principal: at most N in flight, at most M starts per sliding window. Thread-safe."""

    def __init__(self, spec: LimitsSpec, clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self._clock = clock
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._starts: dict[str, deque[float]] = {}

    def enter(self, principal: str) -> Refusal | None:
        """Admit one request (then :meth:`leave` must follow) or say why not."""
        spec = self.spec
        with self._lock:
            now = self._clock()
            starts = self._starts.setdefault(principal, deque())
            while starts and starts[0] <= now - spec.window_s:
                starts.popleft()
            if self._in_flight.get(principal, 0) >= spec.max_in_flight:
                return Refusal(f"more than {spec.max_in_flight} concurrent requests", 1)
            if len(starts) >= spec.max_per_window:
                wait = starts[0] + spec.window_s - now
                return Refusal(
                    f"more than {spec.max_per_window} requests in {spec.window_s:g} s",
                    max(1, math.ceil(wait)),
                )
            starts.append(now)
            self._in_flight[principal] = self._in_flight.get(principal, 0) + 1
            return None

    def leave(self, principal: str) -> None:
        with self._lock:
            self._in_flight[principal] = max(0, self._in_flight.get(principal, 0) - 1)
