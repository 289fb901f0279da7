"""The S3 object store streams uploads in parts and never leaves half an object behind."""

from __future__ import annotations

import boto3
import pytest
from batch_support import AwsBatch

from erpbridge.adapters.aws.s3_staging import S3StagingStore

MIB = 1024 * 1024


def test_a_large_object_is_uploaded_in_parts_and_reads_back_whole(aws_batch: AwsBatch) -> None:
    store = S3StagingStore(aws_batch.bucket, part_size=5 * MIB)
    chunk = bytes(range(256)) * 256  # 64 KiB
    with store.open_writer("staging/job/run/page-0001.xml") as writer:
        for _ in range(180):  # 11.25 MiB → three parts
            writer.write(chunk)
    info = store.head("staging/job/run/page-0001.xml")
    assert info is not None and info.size == 180 * len(chunk)
    assert info.etag.endswith("-3")  # a multipart upload of three parts
    with store.open_reader("staging/job/run/page-0001.xml") as stream:
        assert stream.read() == chunk * 180


def test_a_small_object_is_one_put(aws_batch: AwsBatch) -> None:
    store = S3StagingStore(aws_batch.bucket)
    with store.open_writer("staging/job/run/page-0001.xml") as writer:
        writer.write(b"<tables/>")
    info = store.head("staging/job/run/page-0001.xml")
    assert info is not None and info.size == 9 and "-" not in info.etag


def test_a_failed_upload_leaves_no_object_and_no_open_upload(aws_batch: AwsBatch) -> None:
    store = S3StagingStore(aws_batch.bucket, part_size=5 * MIB)
    with pytest.raises(TimeoutError), store.open_writer("staging/job/run/page-0002.xml") as writer:
        writer.write(b"x" * (6 * MIB))  # one part already uploaded
        raise TimeoutError("the ERP stopped answering")
    assert store.head("staging/job/run/page-0002.xml") is None
    uploads = boto3.client("s3").list_multipart_uploads(Bucket=aws_batch.bucket)
    assert uploads.get("Uploads", []) == []


def test_move_and_list(aws_batch: AwsBatch) -> None:
    store = S3StagingStore(aws_batch.bucket)
    store.put_bytes("staging/a/r/page-0001.xml", b"<tables/>")
    store.move("staging/a/r/page-0001.xml", "archive/a/r/page-0001.xml")
    assert store.head("staging/a/r/page-0001.xml") is None
    assert [o.key for o in store.list_objects("archive/")] == ["archive/a/r/page-0001.xml"]
