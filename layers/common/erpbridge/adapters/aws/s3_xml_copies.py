"""Order request/response XML copies on S3 (one small PUT each; server-side encrypted)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class S3XmlCopyStore:
    def __init__(self, bucket: str, *, prefix: str = "", client: S3Client | None = None) -> None:
        self._bucket = bucket
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client_instance = client

    @property
    def _client(self) -> S3Client:
        if self._client_instance is None:
            import boto3

            self._client_instance = boto3.client("s3")
        return self._client_instance

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "application/xml") -> str:
        full_key = self._prefix + key
        self._client.put_object(Bucket=self._bucket, Key=full_key, Body=data, ContentType=content_type)
        return f"s3://{self._bucket}/{full_key}"

    def get_bytes(self, key: str) -> bytes:
        if key.startswith("s3://"):
            bucket, _, full_key = key[len("s3://") :].partition("/")
        else:
            bucket, full_key = self._bucket, self._prefix + key
        return self._client.get_object(Bucket=bucket, Key=full_key)["Body"].read()
