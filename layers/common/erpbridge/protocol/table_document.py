"""A read ``tables`` document: its root attributes and rows, whichever reader made it (the
element-tree reader in :mod:`.tables` or the plain-text one in :mod:`.plain_tables`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from erpbridge.errors import ProtocolError
from erpbridge.protocol.formats import parse_bool

Row = dict[str, str | None]
"""One ``item``: column name → text, ``None`` for ``isNull="true"``; a missing column is absent."""


@dataclass
class TablesDocument:
    """A parsed ``tables`` document: root attributes and the rows in document order."""

    root_tag: str
    attributes: dict[str, str]
    items: list[tuple[str, Row]] = field(default_factory=list)

    def rows(self, table: str) -> list[Row]:
        """The rows whose ``item/@table`` (or enclosing ``tableName``) is ``table``; case-sensitive."""
        return [row for name, row in self.items if name == table]

    @property
    def table_names(self) -> list[str]:
        return list(dict.fromkeys(name for name, _ in self.items))

    @property
    def export_is_done(self) -> bool:
        """The paging marker on the root; a missing attribute means the export is complete."""
        return export_is_done(self.attributes)


def export_is_done(attributes: Mapping[str, str]) -> bool:
    value = attributes.get("ExportIsDone")
    if value is None or not value.strip():
        return True
    try:
        return parse_bool(value)
    except ProtocolError:
        raise ProtocolError(f"root attribute ExportIsDone is not True/False: {value!r}") from None
