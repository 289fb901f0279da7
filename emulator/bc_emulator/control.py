"""The control API (JSON over HTTP under ``/_control``) and its Python client.

| method | path | what |
| --- | --- | --- |
| GET | `/_control` | URLs, auth mode and credentials, data size, down state, active faults |
| GET | `/_control/health` | `{"ok": true}` (the trivial endpoint benchmarks compare against) |
| GET | `/_control/blob?bytes=N` | N filler bytes, chunked like a batch answer (HTTP baseline) |
| POST | `/_control/reset` | fresh orders, checkpoints; start faults, dedup, token TTL; empty journal; up |
| GET / PUT / DELETE | `/_control/faults` | read / replace (JSON body = fault spec) / clear the faults |
| GET / PUT | `/_control/mode` | `{"dedup": true}`; `{"dedup": false}`: each create makes a new sales order |
| GET / PUT / DELETE | `/_control/limits` | BC's per-principal limits (`LimitsSpec`, JSON); DELETE = none |
| POST | `/_control/down` | close the SOAP listener; body `{"seconds": 2}` (absent = until `/up`) |
| POST | `/_control/up` | open it again |
| POST | `/_control/release-hanging` | end every hanging request now |
| GET | `/_control/requests` | SOAP requests received (kind, request XML, status, fault); `?kind=` filters |
| GET | `/_control/sales-orders` | sales orders created through the emulator |
| GET | `/_control/sales-orders/<shop OrderId>` | the sales order created for that shop order (404: none) |
| PUT | `/_control/customers/<no>` | `{"blocked": true}`: baskets fault, orders get `OrderCreated` False |
| PUT | `/_control/items/<no>` | `{"price_factor": "1.10"}`: the item's prices × 1.10 (reset restores) |
| GET | `/_control/counters` | counters (requests by kind and status, faults by name, orders, tokens, …) |
| GET / DELETE | `/_control/checkpoints` | batch paging checkpoints per caller (custom modifier) |
| POST | `/_control/tokens/expire` | expire every issued OAuth2 token |
| PUT | `/_control/tokens` | `{"ttl_s": 5}`: lifetime of tokens issued from now on |

The control API has no authentication: the emulator is a development tool bound to 127.0.0.1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import requests

from bc_emulator._model import BcError
from bc_emulator.auth import Authenticator
from bc_emulator.faults import FaultInjector, FaultSpec
from bc_emulator.journal import Journal
from bc_emulator.limits import BcLimits, LimitsSpec
from bc_emulator.replies import Reply, json_reply

if TYPE_CHECKING:
    from bc_emulator.dispatch import Dispatcher  # the ERP side: the server imports it late (heavier)


class ControlledEmulator(Protocol):
    """What the control API reads and changes of a running emulator (``server.Emulator``)."""

    auth: Authenticator
    faults: FaultInjector
    dispatcher: Dispatcher
    limits: BcLimits | None

    @property
    def journal(self) -> Journal: ...
    @property
    def is_down(self) -> bool: ...
    @property
    def dedup(self) -> bool: ...
    def describe(self) -> dict[str, Any]: ...
    def reset(self) -> None: ...
    def go_down(self, seconds: float | None = None) -> None: ...
    def come_up(self) -> None: ...
    def release_hanging(self) -> None: ...
    def set_faults(self, spec: FaultSpec | Mapping[str, Any] | None = None, **values: Any) -> FaultSpec: ...
    def set_limits(self, spec: LimitsSpec | None) -> None: ...
    def set_dedup(self, dedup: bool) -> None: ...


# A control endpoint: (emulator, query, JSON body) → reply.
_Handler = Callable[[ControlledEmulator, dict[str, str], dict[str, Any]], Reply]


def _json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    value = json.loads(body)
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object")
    return value


def handle(emulator: ControlledEmulator, method: str, raw_path: str, body: bytes) -> Reply:
    parts = urlsplit(raw_path)
    path = unquote(parts.path).rstrip("/")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    try:
        payload = _json_body(body) if method in ("POST", "PUT", "PATCH") else {}
        return _route(emulator, method, path, query, payload)
    except (ValueError, TypeError) as error:
        return json_reply(400, {"error": str(error)})


def _json(status: int, body: Any) -> Reply:
    return json_reply(status, body)


def _put_faults(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    return _json(200, emulator.set_faults(payload).to_dict())


def _clear_faults(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    emulator.faults.clear()
    return _json(200, emulator.faults.spec.to_dict())


def _put_mode(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    dedup = payload.get("dedup")
    if not isinstance(dedup, bool):
        raise ValueError('PUT /_control/mode needs {"dedup": true|false}')
    emulator.set_dedup(dedup)
    return _json(200, {"dedup": emulator.dedup})


def _limits(emulator: ControlledEmulator) -> Reply:
    return _json(200, emulator.limits.spec.to_dict() if emulator.limits else {})


def _put_limits(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    emulator.set_limits(LimitsSpec.from_dict(payload))
    return _limits(emulator)


def _clear_limits(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    emulator.set_limits(None)
    return _limits(emulator)


def _reset(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    emulator.reset()
    return _json(200, {"reset": True})


def _down(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    seconds = payload.get("seconds")
    emulator.go_down(None if seconds is None else float(seconds))
    return _json(200, {"down": True, "seconds": seconds})


def _up(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    emulator.come_up()
    return _json(200, {"down": emulator.is_down})


def _release_hanging(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    emulator.release_hanging()
    return _json(200, {"released": True})


def _counters(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    counters = emulator.journal.counter_snapshot()
    counters["tokens_issued_total"] = emulator.auth.tokens_issued
    counters.update(emulator.dispatcher.counters())
    return _json(200, counters)


def _clear_checkpoints(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    emulator.dispatcher.clear_checkpoints()
    return _json(200, {})


def _set_token_ttl(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    emulator.auth.set_token_ttl(int(payload["ttl_s"]))
    return _json(200, {"ttl_s": emulator.auth.token_ttl_s})


def _describe(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    return _json(200, emulator.describe())


def _blob_of(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    return _blob(int(query.get("bytes", "1048576")))


def _faults(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    return _json(200, emulator.faults.spec.to_dict())


def _mode(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    return _json(200, {"dedup": emulator.dedup})


def _get_limits(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    return _limits(emulator)


def _requests(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    return _json(200, emulator.journal.snapshot(query.get("kind")))


def _sales_orders(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    return _json(200, emulator.dispatcher.sales_orders())


def _checkpoints(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    return _json(200, emulator.dispatcher.checkpoints())


def _expire_tokens(emulator: ControlledEmulator, query: dict[str, str], payload: dict[str, Any]) -> Reply:
    return _json(200, {"expired": emulator.auth.expire_tokens()})


_ROUTES: dict[tuple[str, str], _Handler] = {
    ("GET", "/_control"): _describe,
    ("GET", "/_control/blob"): _blob_of,
    ("POST", "/_control/reset"): _reset,
    ("GET", "/_control/faults"): _faults,
    ("PUT", "/_control/faults"): _put_faults,
    ("DELETE", "/_control/faults"): _clear_faults,
    ("GET", "/_control/mode"): _mode,
    ("PUT", "/_control/mode"): _put_mode,
    ("GET", "/_control/limits"): _get_limits,
    ("PUT", "/_control/limits"): _put_limits,
    ("DELETE", "/_control/limits"): _clear_limits,
    ("POST", "/_control/down"): _down,
    ("POST", "/_control/up"): _up,
    ("POST", "/_control/release-hanging"): _release_hanging,
    ("GET", "/_control/requests"): _requests,
    ("GET", "/_control/counters"): _counters,
    ("GET", "/_control/sales-orders"): _sales_orders,
    ("GET", "/_control/checkpoints"): _checkpoints,
    ("DELETE", "/_control/checkpoints"): _clear_checkpoints,
    ("POST", "/_control/tokens/expire"): _expire_tokens,
    ("PUT", "/_control/tokens"): _set_token_ttl,
}
_SALES_ORDER = "/_control/sales-orders/"
_CUSTOMER = "/_control/customers/"
_ITEM = "/_control/items/"


def _sales_order(emulator: ControlledEmulator, shop_order_id: str) -> Reply:
    order = emulator.dispatcher.sales_order(shop_order_id)
    if order is None:
        return _json(404, {"error": f"no sales order for shop OrderId {shop_order_id!r}"})
    return _json(200, order)


def _block_customer(emulator: ControlledEmulator, customer_no: str, payload: dict[str, Any]) -> Reply:
    blocked = payload.get("blocked")
    if not isinstance(blocked, bool):
        raise ValueError('PUT /_control/customers/<no> needs {"blocked": true|false}')
    try:
        emulator.dispatcher.bc.block_customer(customer_no, blocked)
    except BcError as error:
        return _json(404, {"error": str(error)})
    return _json(200, {"customer": customer_no, "blocked": blocked})


def _change_price(emulator: ControlledEmulator, item_no: str, payload: dict[str, Any]) -> Reply:
    from decimal import Decimal, InvalidOperation

    try:
        factor = Decimal(str(payload.get("price_factor")))
    except InvalidOperation:
        factor = Decimal("NaN")
    if not factor.is_finite() or factor <= 0:
        raise ValueError('PUT /_control/items/<no> needs {"price_factor": <a number above 0>}')
    try:
        unit_price = emulator.dispatcher.bc.change_price(item_no, factor)
    except BcError as error:
        return _json(404, {"error": str(error)})
    return _json(200, {"item": item_no, "price_factor": str(factor), "unit_price": str(unit_price)})


def _route(
    emulator: ControlledEmulator, method: str, path: str, query: dict[str, str], payload: dict[str, Any]
) -> Reply:
    if path == "/_control/health":  # any method
        return _json(200, {"ok": True})
    handler = _ROUTES.get((method, path))
    if handler is not None:
        return handler(emulator, query, payload)
    if path.startswith(_SALES_ORDER) and method == "GET":
        return _sales_order(emulator, path.removeprefix(_SALES_ORDER))
    if path.startswith(_CUSTOMER) and method == "PUT":
        return _block_customer(emulator, path.removeprefix(_CUSTOMER), payload)
    if path.startswith(_ITEM) and method == "PUT":
        return _change_price(emulator, path.removeprefix(_ITEM), payload)
    return _json(404, {"error": f"no control endpoint {method} {path}"})


def _blob(size: int) -> Reply:
    """``size`` bytes of filler, streamed like a batch answer: the HTTP baseline of benchmarks."""
    if not 0 <= size <= 16 * 1024**3:
        raise ValueError("bytes must be between 0 and 16 GiB")
    block = b"x" * (256 * 1024)

    def chunks() -> Iterator[bytes]:
        remaining = size
        while remaining > 0:
            piece = block if remaining >= len(block) else block[:remaining]
            remaining -= len(piece)
            yield piece

    return Reply(200, {"Content-Type": "application/octet-stream"}, stream=chunks())


class ControlError(Exception):
    pass


class ControlClient:
    """Python client of the control API (what tests use through ``emulator.control``)."""

    def __init__(self, control_url: str, *, timeout_s: float = 10.0) -> None:
        self.url = control_url.rstrip("/")
        self.timeout_s = timeout_s
        self._session = requests.Session()

    def _call(self, method: str, path: str = "", payload: dict[str, Any] | None = None, **params: str) -> Any:
        response = self._session.request(
            method, self.url + path, json=payload, params=params or None, timeout=self.timeout_s
        )
        if response.status_code == 404 and path.startswith("/sales-orders/"):
            return None
        if response.status_code >= 400:
            raise ControlError(f"{method} {path}: HTTP {response.status_code}: {response.text}")
        return response.json()

    def info(self) -> dict[str, Any]:
        return dict(self._call("GET"))

    def reset(self) -> None:
        self._call("POST", "/reset")

    def set_faults(self, **spec: Any) -> dict[str, Any]:
        """Replace the fault spec (see :class:`bc_emulator.faults.FaultSpec` for the names)."""
        return dict(self._call("PUT", "/faults", spec))

    def faults(self) -> dict[str, Any]:
        return dict(self._call("GET", "/faults"))

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def mode(self) -> dict[str, Any]:
        return dict(self._call("GET", "/mode"))

    def set_dedup(self, dedup: bool) -> None:
        """Duplicate protection of order creation on (True) or off (every create commits anew)."""
        self._call("PUT", "/mode", {"dedup": dedup})

    def set_limits(self, **spec: Any) -> dict[str, Any]:
        """Enforce BC online's per-principal limits (see :class:`bc_emulator.limits.LimitsSpec`)."""
        return dict(self._call("PUT", "/limits", spec))

    def clear_limits(self) -> None:
        self._call("DELETE", "/limits")

    def down(self, seconds: float | None = None) -> None:
        self._call("POST", "/down", {"seconds": seconds})

    def up(self) -> None:
        self._call("POST", "/up")

    def release_hanging(self) -> None:
        self._call("POST", "/release-hanging")

    def requests(self, kind: str | None = None) -> list[dict[str, Any]]:
        if not kind:
            return list(self._call("GET", "/requests"))
        return list(self._call("GET", "/requests", kind=kind))

    def sales_orders(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/sales-orders"))

    def block_customer(self, customer_no: str, blocked: bool = True) -> None:
        """Block a customer: its baskets fault and its orders answer ``OrderCreated`` False."""
        from urllib.parse import quote

        self._call("PUT", "/customers/" + quote(customer_no, safe=""), {"blocked": blocked})

    def change_price(self, item_no: str, factor: float | str) -> dict[str, Any]:
        """Multiply an item's prices by ``factor`` (a price update in BC; ``reset`` restores them)."""
        from urllib.parse import quote

        return dict(self._call("PUT", "/items/" + quote(item_no, safe=""), {"price_factor": str(factor)}))

    def sales_order(self, shop_order_id: str) -> dict[str, Any] | None:
        from urllib.parse import quote

        result = self._call("GET", "/sales-orders/" + quote(shop_order_id, safe=""))
        return None if result is None else dict(result)

    def counters(self) -> dict[str, int]:
        return dict(self._call("GET", "/counters"))

    def checkpoints(self) -> dict[str, Any]:
        return dict(self._call("GET", "/checkpoints"))

    def clear_checkpoints(self) -> None:
        self._call("DELETE", "/checkpoints")

    def expire_tokens(self) -> int:
        return int(self._call("POST", "/tokens/expire")["expired"])

    def set_token_ttl(self, seconds: int) -> None:
        self._call("PUT", "/tokens", {"ttl_s": seconds})
