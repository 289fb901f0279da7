"""Settings of the admin API and console (``ERPBRIDGE_`` prefix, validated once)."""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from erpbridge.errors import ConfigurationError


class AdminSettings(BaseSettings):
    # Each field's docstring is its description (docs/settings.md is generated from them).
    model_config = SettingsConfigDict(
        env_prefix="ERPBRIDGE_", extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    admin_auth: Literal["iam", "token"] = "token"
    """iam: the operator is the IAM principal API Gateway authorised (SigV4); token: a local console's
    token (printed at start) in a cookie or an Authorization: Bearer header"""
    admin_token: SecretStr | None = Field(default=None, min_length=16)
    """the local console's token (admin_auth=token); `erpbridge console` makes one at start"""
    admin_operators: tuple[str, ...] = ()
    """IAM principal ARNs (or prefixes ending in *) allowed to act (admin_auth=iam); empty: any
    principal the API's IAM policy lets in"""
    admin_operator_name: str = "local operator"
    """the name a token holder's actions are recorded under (admin_auth=token)"""


@functools.cache
def get_admin_settings() -> AdminSettings:
    try:
        return AdminSettings()
    except ValidationError as error:
        names = ", ".join("ERPBRIDGE_" + str(e["loc"][0]).upper() for e in error.errors() if e.get("loc"))
        raise ConfigurationError(f"invalid admin settings: {names}") from None
