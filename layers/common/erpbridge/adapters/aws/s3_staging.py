"""The staging bucket on S3.

Uploads are multipart, fed chunk by chunk: the writer holds at most one part (5 MiB) in memory,
whatever the size of the ERP's response, and an exception aborts the upload so no half object
ever appears (and so no import is triggered for one). Small objects use one PUT.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from erpbridge.batch.ports import ObjectInfo, ObjectWriter

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last; the smallest buffer


def _s3_client() -> S3Client:
    import boto3

    return boto3.client("s3")


class MultipartWriter:
    """Collects chunks into one part buffer and uploads it as soon as it is full.

    The buffer is handed to botocore as the file it is (no copy), and replaced by a fresh one, so
    the writer holds one part at a time.
    """

    def __init__(self, client: S3Client, bucket: str, key: str, content_type: str, part_size: int) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._content_type = content_type
        self._part_size = part_size
        self._buffer = io.BytesIO()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self.bytes_written = 0

    def write(self, chunk: bytes) -> int:
        self._buffer.write(chunk)
        self.bytes_written += len(chunk)
        if self._buffer.tell() >= self._part_size:
            self._upload_part()
        return len(chunk)

    def _upload_part(self) -> None:
        if self._upload_id is None:
            created = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ContentType=self._content_type
            )
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        body, self._buffer = self._buffer, io.BytesIO()
        body.seek(0)
        answer = self._client.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=body
        )
        body.close()
        self._parts.append({"ETag": answer["ETag"], "PartNumber": number})

    def complete(self) -> None:
        if self._upload_id is None:
            self._buffer.seek(0)
            self._client.put_object(
                Bucket=self._bucket, Key=self._key, Body=self._buffer, ContentType=self._content_type
            )
        else:
            if self._buffer.tell():
                self._upload_part()
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload=cast(Any, {"Parts": self._parts}),
            )
        self._buffer = io.BytesIO()

    def abort(self) -> None:
        self._buffer = io.BytesIO()
        if self._upload_id is not None:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)


class S3StagingStore:
    def __init__(self, bucket: str, *, client: S3Client | None = None, part_size: int = PART_SIZE) -> None:
        self._bucket = bucket
        self._client = client or _s3_client()
        self._part_size = part_size

    @property
    def bucket(self) -> str:
        return self._bucket

    @contextmanager
    def open_writer(self, key: str, *, content_type: str = "application/xml") -> Iterator[ObjectWriter]:
        writer = MultipartWriter(self._client, self._bucket, key, content_type, self._part_size)
        try:
            yield writer
        except BaseException:
            writer.abort()
            raise
        writer.complete()

    @contextmanager
    def open_reader(self, key: str) -> Iterator[BinaryIO]:
        body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"]
        try:
            yield cast(BinaryIO, body)
        finally:
            body.close()

    def head(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            answer = self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return ObjectInfo(key=key, size=answer["ContentLength"], etag=answer["ETag"].strip('"'))

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "application/json") -> None:
        self._client.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType=content_type)

    def move(self, source: str, destination: str) -> None:
        # Managed copy: multipart for objects over 5 GB, where CopyObject alone would fail.
        self._client.copy({"Bucket": self._bucket, "Key": source}, self._bucket, destination)
        self._client.delete_object(Bucket=self._bucket, Key=source)

    def discard_incomplete(self, prefix: str) -> int:
        # A killed writer cannot abort its multipart upload; its parts are stored (and billed) until
        # aborted here or by the bucket's AbortIncompleteMultipartUpload lifecycle rule (1 day).
        paginator = self._client.get_paginator("list_multipart_uploads")
        aborted = 0
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            for upload in page.get("Uploads", []):
                self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
                aborted += 1
        return aborted

    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        found: list[ObjectInfo] = []
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found.append(ObjectInfo(key=item["Key"], size=item["Size"], etag=item["ETag"].strip('"')))
        return found
