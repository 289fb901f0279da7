"""A folder standing in for the staging bucket (``.erpbridge/objects/<bucket>/<key>``).

Writes go to a temporary file renamed into place on success, so a reader never sees half an
object — the same promise an S3 multipart upload gives.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from erpbridge.batch.ports import ObjectInfo, ObjectWriter


class FolderStagingStore:
    def __init__(self, root: str | os.PathLike[str], bucket: str = "local-staging") -> None:
        self._bucket = bucket
        self._root = Path(root) / bucket
        self._root.mkdir(parents=True, exist_ok=True)

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def root(self) -> Path:
        return self._root

    def _path(self, key: str) -> Path:
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root.resolve()) or key.startswith("/"):
            raise ValueError(f"object key {key!r} leaves the store")
        return path

    @contextmanager
    def open_writer(self, key: str, *, content_type: str = "application/xml") -> Iterator[ObjectWriter]:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise

    @contextmanager
    def open_reader(self, key: str) -> Iterator[BinaryIO]:
        with self._path(key).open("rb") as handle:
            yield handle

    def head(self, key: str) -> ObjectInfo | None:
        try:
            stat = self._path(key).stat()
        except FileNotFoundError:
            return None
        # Size and modification time change whenever the content is replaced: enough for a version tag.
        return ObjectInfo(key=key, size=stat.st_size, etag=f"{stat.st_size:x}-{stat.st_mtime_ns:x}")

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "application/json") -> None:
        with self.open_writer(key, content_type=content_type) as writer:
            writer.write(data)

    def move(self, source: str, destination: str) -> None:
        target = self._path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(self._path(source), target)

    def discard_incomplete(self, prefix: str) -> int:
        # A killed writer leaves its temporary file (never renamed into place) behind.
        removed = 0
        for path in sorted(self._root.rglob(".upload-*")):
            key = path.relative_to(self._root).as_posix()
            if path.is_file() and key.startswith(prefix):
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        found: list[ObjectInfo] = []
        for path in sorted(self._root.rglob("*")):
            if not path.is_file() or path.name.startswith(".upload-"):
                continue
            key = path.relative_to(self._root).as_posix()
            if key.startswith(prefix):
                info = self.head(key)
                if info is not None:
                    found.append(info)
        return found
