"""What the emulator's HTTP handler does with one request: a reply, and the usual kinds of it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bc_emulator.journal import RequestRecord
from bc_emulator.soap import build_fault


@dataclass
class Reply:
    """What the handler does with one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: Iterator[bytes] | None = None  # chunked transfer instead of ``body``
    drop: Literal["reset", "close"] | None = None  # no answer: RST or FIN instead
    hang_s: float = 0.0  # wait this long before dropping (a hanging request)
    truncate: bool = False
    bytes_per_s: int = 0
    record: RequestRecord | None = None


def json_reply(status: int, payload: Any) -> Reply:
    return Reply(
        status,
        {"Content-Type": "application/json; charset=utf-8"},
        json.dumps(payload, default=str).encode("utf-8"),
    )


def text_reply(status: int, message: str, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(
        status, {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}, message.encode("utf-8")
    )


def fault_reply(message: str, faultcode: str | None = None) -> Reply:
    body = build_fault(message, faultcode=faultcode) if faultcode else build_fault(message)
    return Reply(500, {"Content-Type": "text/xml; charset=utf-8"}, body)
