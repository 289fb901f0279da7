"""Settings of the live API only (read with the same ``ERPBRIDGE_`` prefix, validated once)."""

from __future__ import annotations

import functools

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from erpbridge.errors import ConfigurationError


class LiveSettings(BaseSettings):
    # Each field's docstring is its description (docs/settings.md is generated from them).
    model_config = SettingsConfigDict(
        env_prefix="ERPBRIDGE_", extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    breaker_table: str | None = Field(default=None, description="DynamoDB table of the shared breaker state")
    orders_xml_prefix: str = "orders-xml"
    """key prefix of the orders' XML copies in the orders XML bucket"""
    local_cache_ttl_s: float = Field(default=10.0, ge=0, description="per-container cache layer lifetime")
    stale_fallback_s: float = Field(
        default=86_400.0, ge=0, description="how long expired prices may serve as fallback"
    )
    basket_cache_ttl_s: float = Field(default=300.0, ge=0)
    """how long an unchanged basket is answered from the cache (seconds)"""
    order_export_after_s: float = Field(default=300.0, ge=0, description="X: export orders older than this")
    order_export_batch: int = Field(default=25, ge=1, le=500, description="N: orders per export run")
    order_max_attempts: int = Field(
        default=5, ge=1, le=100, description="K: counted failures before dead-letter"
    )
    order_lookup_search_field: str = "ExternalDocumentNo"
    """the BC field GetList searches to find an order whose outcome is unknown"""
    order_lookup_number_column: str = "No"
    """the column of the found sales order's number"""
    order_unknown_settle_s: float = Field(
        default=120.0,
        ge=0,
        description="seconds after an unknown send during which an order the ERP does not show yet is not "
        "re-sent (the ERP may still commit it)",
    )
    erp_shipping_item_type: str = "ItemCharge"
    """the order line type the shipping fee is sent as"""
    erp_shipping_item_key: str = "DW-SHIP"
    """the item (charge) number of the shipping fee line"""
    # Customer-scoped tokens (JWT): verified with a public key, a JWKS URL or (dev only) a secret.
    jwt_required: bool = False
    """refuse calls without a customer token"""
    jwt_public_key: str | None = None
    """PEM public key that customer tokens are signed with"""
    jwt_jwks_url: str | None = None
    """JWKS URL of the customer-token issuer"""
    jwt_secret: SecretStr | None = None
    """HS256 secret of customer tokens (development only)"""
    jwt_algorithms: tuple[str, ...] = ("RS256",)
    """accepted signing algorithms"""
    jwt_audience: str | None = None
    """the audience tokens must name (checked when set)"""
    jwt_issuer: str | None = None
    """the issuer tokens must name (checked when set)"""
    jwt_customer_claim: str = "customer_number"
    """the claim holding the BC customer number"""


@functools.cache
def get_live_settings() -> LiveSettings:
    try:
        return LiveSettings()
    except ValidationError as error:
        names = ", ".join("ERPBRIDGE_" + str(e["loc"][0]).upper() for e in error.errors() if e.get("loc"))
        raise ConfigurationError(f"invalid live API settings: {names}") from None
