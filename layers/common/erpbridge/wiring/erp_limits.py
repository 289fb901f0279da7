"""Where BC's shared request limits are counted: the one choice of limiter store from settings."""

from __future__ import annotations

from erpbridge.erp.limiter import InMemoryLimiterStore, LimiterStore
from erpbridge.settings import ErpSettings


def limiter_store_for(settings: ErpSettings) -> LimiterStore:
    """DynamoDB in AWS (every container), a SQLite file for several local processes, else memory."""
    if settings.erp_limiter_table:
        from erpbridge.adapters.aws.dynamodb_limiter import DynamoDbLimiterStore

        return DynamoDbLimiterStore(settings.erp_limiter_table)
    if settings.erp_limiter_file is not None:
        from erpbridge.adapters.local.sqlite_limiter import SqliteLimiterStore

        return SqliteLimiterStore(settings.erp_limiter_file)
    return InMemoryLimiterStore()
