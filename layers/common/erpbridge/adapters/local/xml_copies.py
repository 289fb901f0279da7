"""Request/response XML copies in a local folder (``erpbridge serve`` without AWS settings)."""

from __future__ import annotations

from pathlib import Path

from erpbridge.errors import ConfigurationError


class FolderXmlCopyStore:
    def __init__(self, root: str | Path) -> None:
        self._root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root):
            raise ConfigurationError(f"object key {key!r} points outside {self._root}")
        return path

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "application/xml") -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + ".part")
        temporary.write_bytes(data)
        temporary.replace(path)  # atomic: a reader never sees half a file
        return str(path)

    def get_bytes(self, key: str) -> bytes:
        candidate = Path(key)
        path = candidate if candidate.is_absolute() else self._path(key)
        if not path.resolve().is_relative_to(self._root):
            raise ConfigurationError(f"object key {key!r} points outside {self._root}")
        return path.read_bytes()
