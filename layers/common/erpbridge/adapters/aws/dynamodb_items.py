"""A DynamoDB table, its attribute values, times and conditional-write failures: shared by the stores."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def dynamodb_client() -> DynamoDBClient:
    import boto3

    return boto3.client("dynamodb")


class DynamoDbTable:
    """One table and the client that reaches it (boto3's default client when none is given)."""

    def __init__(self, table: str, *, client: DynamoDBClient | None = None) -> None:
        self._table = table
        self._client = client or dynamodb_client()


def attr_s(value: str) -> dict[str, Any]:
    return {"S": str(value)}  # a StrEnum is stored as its value


def attr_n(value: int | float) -> dict[str, Any]:
    return {"N": str(value)}


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def epoch(value: datetime) -> int:
    return int(value.timestamp())


def conditional_failed(error: Exception) -> bool:
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code == "ConditionalCheckFailedException"


def read_num(item: Mapping[str, Any], name: str) -> int:
    value = item.get(name)
    return int(value["N"]) if value else 0


def read_str(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    return str(value["S"]) if value else None
