"""The ERP client: one operation (a request XML in, the response out) over BC's SOAP codeunit.

The port (:mod:`erpbridge.erp.ports`) is pure and importable by domain code; the adapter
(:class:`erpbridge.erp.client.SoapErpClient`, which needs ``requests``) is loaded only when asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from erpbridge.erp.ports import (
    RETRY_SAFE,
    BreakerPhase,
    BreakerState,
    BreakerStore,
    ErpStatus,
    ErpTransport,
    InMemoryBreakerStore,
    RequestKind,
    StreamedResponse,
)

if TYPE_CHECKING:
    from erpbridge.erp.breaker import CircuitBreaker
    from erpbridge.erp.client import SoapErpClient

__all__ = [
    "RETRY_SAFE",
    "BreakerPhase",
    "BreakerState",
    "BreakerStore",
    "CircuitBreaker",
    "ErpStatus",
    "ErpTransport",
    "InMemoryBreakerStore",
    "RequestKind",
    "SoapErpClient",
    "StreamedResponse",
]


def __getattr__(name: str) -> Any:
    if name == "SoapErpClient":
        from erpbridge.erp.client import SoapErpClient

        return SoapErpClient
    if name == "CircuitBreaker":
        from erpbridge.erp.breaker import CircuitBreaker

        return CircuitBreaker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
