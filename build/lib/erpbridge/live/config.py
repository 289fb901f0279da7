"""Settings of the live API only (read with the same ``ERPBRIDGE_`` prefix, validated once)."""

from __future__ import annotations

import functools

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from erpbridge.errors import ConfigurationError


class LiveSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ERPBRIDGE_", extra="ignore", frozen=True)

    breaker_table: str | None = Field(default=None, description="DynamoDB table of the shared breaker state")
    orders_xml_prefix: str = "orders-xml"
    local_cache_ttl_s: float = Field(default=10.0, ge=0, description="per-container cache layer lifetime")
    stale_fallback_s: float = Field(
        default=86_400.0, ge=0, description="how long expired prices may serve as fallback"
    )
    basket_cache_ttl_s: float = Field(default=300.0, ge=0)
    order_export_after_s: float = Field(default=300.0, ge=0, description="X: export orders older than this")
    order_export_batch: int = Field(default=25, ge=1, le=500, description="N: orders per export run")
    order_max_attempts: int = Field(
        default=5, ge=1, le=100, description="K: counted failures before dead-letter"
    )
    order_lookup_search_field: str = "ExternalDocumentNo"
    order_lookup_number_column: str = "No"
    erp_shipping_item_type: str = "ItemCharge"
    erp_shipping_item_key: str = "DW-SHIP"
    # Customer-scoped tokens (JWT): verified with a public key, a JWKS URL or (dev only) a secret.
    jwt_required: bool = False
    jwt_public_key: str | None = None
    jwt_jwks_url: str | None = None
    jwt_secret: SecretStr | None = None
    jwt_algorithms: tuple[str, ...] = ("RS256",)
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_customer_claim: str = "customer_number"


@functools.cache
def get_live_settings() -> LiveSettings:
    try:
        return LiveSettings()
    except ValidationError as error:
        names = ", ".join("ERPBRIDGE_" + str(e["loc"][0]).upper() for e in error.errors() if e.get("loc"))
        raise ConfigurationError(f"invalid live API settings: {names}") from None
