"""Fixtures of the batch tests: moto-backed AWS resources built from template.yaml's own table
definitions (so the tests and the stack cannot drift), local state folders, settings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "erpbridge-staging-test"


def template_resources() -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    return dict(yaml_parse((ROOT / "template.yaml").read_text())["Resources"])


def create_table_from_template(client: Any, logical_id: str, name: str) -> None:
    properties = template_resources()[logical_id]["Properties"]
    arguments: dict[str, Any] = {
        "TableName": name,
        "BillingMode": properties["BillingMode"],
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
    }
    if "GlobalSecondaryIndexes" in properties:
        arguments["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    client.create_table(**arguments)


@dataclass(frozen=True)
class AwsBatch:
    bucket: str
    runs_table: str
    locks_table: str
    idempotency_table: str

    def env(self) -> dict[str, str]:
        return {
            "ERPBRIDGE_STAGING_BUCKET": self.bucket,
            "ERPBRIDGE_RUNS_TABLE": self.runs_table,
            "ERPBRIDGE_LOCKS_TABLE": self.locks_table,
            "ERPBRIDGE_IDEMPOTENCY_TABLE": self.idempotency_table,
        }


def create_batch_resources() -> AwsBatch:
    resources = AwsBatch(BUCKET, "runs", "locks", "idempotency")
    boto3.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    dynamodb = boto3.client("dynamodb")
    create_table_from_template(dynamodb, "RunsTable", resources.runs_table)
    create_table_from_template(dynamodb, "LocksTable", resources.locks_table)
    create_table_from_template(dynamodb, "IdempotencyTable", resources.idempotency_table)
    return resources


@pytest.fixture
def aws_batch() -> Iterator[AwsBatch]:
    """The staging bucket and the batch tables, on moto (in-process)."""
    with mock_aws():
        yield create_batch_resources()
