"""The port between the mapping engine and the database: staged bulk writes, one adapter per dialect.

The engine stages each mapping's converted rows (in batches, so memory stays flat) and then asks
the stage to merge them into the destination table, find duplicate keys, and remove or deactivate
rows missing from the file — all inside one transaction per file. Adapters live in
:mod:`erpbridge.shopdb.dialects`. No SQL here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from erpbridge.shopdb.model import ShopSchema, TableSchema


class Comparison(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "<>"
    LESS = "<"
    GREATER = ">"
    IN = "in"
    NOT_IN = "not in"
    LIKE = "like"  # value is a LIKE pattern with \\ as escape
    NOT_LIKE = "not like"
    IS_NULL = "is null"
    IS_NOT_NULL = "is not null"
    IS_NULL_OR_EMPTY = "is null or empty"


@dataclass(frozen=True)
class Predicate:
    """``column <comparison> values`` on the destination table (values already typed)."""

    column: str
    comparison: Comparison
    values: tuple[Any, ...] = ()


@dataclass(frozen=True)
class InSelect:
    """``column [NOT] IN (SELECT select_column FROM table WHERE where…)``: membership in another
    table's rows, e.g. "the group is one of the shop's groups" (values already typed)."""

    column: str
    table: str
    select_column: str
    where: tuple[Predicate, ...] = ()
    negate: bool = False


@dataclass(frozen=True)
class PredicateGroup:
    predicates: tuple[Predicate | InSelect, ...]
    any_of: bool  # True: OR, False: AND


# A removal scope: every entry must hold (AND).
Scope = tuple[Predicate | PredicateGroup | InSelect, ...]


@dataclass(frozen=True)
class Members:
    """``table`` rows saying ``group`` holds a staged value: (``group_column`` = ``group``,
    ``member_column`` = the stage's ``staged_column``) — e.g. the products one shop's import holds."""

    table: str
    member_column: str
    group_column: str
    group: str
    staged_column: str


class KeepDuplicate(StrEnum):
    FIRST = "first"
    LAST = "last"


class MergeMode(StrEnum):
    UPSERT = "upsert"
    INSERT_ONLY = "insert-only"
    UPDATE_ONLY = "update-only"


@dataclass(frozen=True)
class StageSpec:
    """A stage for one mapping: which destination columns it carries and which identify a row."""

    table: TableSchema
    columns: tuple[str, ...]
    keys: tuple[str, ...]
    label: str = ""  # for messages: "Items → EcomProducts"
    # Besides the keys, columns kept for the whole file (e.g. the language column that scopes
    # removals); every other staged value is dropped once its batch is merged.
    remembered: tuple[str, ...] = ()
    # column → (table, match column, value column): the staged value is matched against
    # ``table.match`` at merge time and ``table.value`` is written; unmatched rows are skipped.
    lookups: Mapping[str, tuple[str, str, str]] = field(default_factory=dict)

    @property
    def kept(self) -> tuple[str, ...]:
        return (*self.keys, *(c for c in self.remembered if c not in self.keys))


@dataclass(frozen=True)
class MergeSpec:
    mode: MergeMode
    update_columns: tuple[str, ...]  # staged columns written on update (keys and insert-only excluded)
    created_column: str | None = None  # set to ``now`` on insert (e.g. ProductCreated)
    updated_column: str | None = None  # set to ``now`` on insert and on a real change
    now: datetime | None = None
    collapse_duplicates: bool = False  # derived relations: one row per key (min of the other columns)
    # Repeated keys: None = report them (the caller rejects the file); first/last = keep that row
    # (within the batch and against earlier batches) and count the others as ``discarded``.
    keep: KeepDuplicate | None = None


@dataclass(frozen=True)
class DuplicateKey:
    key: tuple[Any, ...]
    count: int
    rows: tuple[int, ...] = field(default=())  # source row numbers (first and last)


@dataclass
class MergeCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # update-only: new keys; insert-only: existing keys
    duplicates: list[DuplicateKey] = field(default_factory=list)  # nothing merged when not empty
    unresolved: int = 0  # rows skipped because a lookup found no match (also in ``skipped``)
    discarded: int = 0  # rows dropped as duplicates of another row with the key (``MergeSpec.keep``)

    def add(self, other: MergeCounts) -> None:
        self.discarded += other.discarded
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.skipped += other.skipped
        self.unresolved += other.unresolved
        self.duplicates.extend(other.duplicates)


class Stage(Protocol):
    spec: StageSpec

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        """Append rows; each is ``(source_row_number, *values in spec.columns order)``."""
        ...

    def merge(self, merge: MergeSpec) -> MergeCounts:
        """Merge the rows written since the last merge into the destination (called per batch,
        so the database works while the file is still being read). Keys repeated within those
        rows come back in ``duplicates`` and are not merged."""
        ...

    def keep_pending(self) -> None:
        """Keep the rows written since the last merge for the file-wide statements without
        merging them (lookups resolved): the finalise step of a paged run stages its keys."""
        ...

    def count(self) -> int: ...

    def duplicate_keys(self, limit: int) -> list[DuplicateKey]:
        """Keys staged more than once anywhere in the file (after the last merge)."""
        ...

    def distinct_values(self, column: str) -> list[Any]: ...

    def count_destination(self, scope: Scope) -> int:
        """Rows of the destination table in ``scope``."""
        ...

    def delete_missing(self, scope: Scope) -> int:
        """Delete destination rows in ``scope`` whose key is not staged."""
        ...

    def update_missing(self, scope: Scope, values: Mapping[str, Any], unless: Mapping[str, Any]) -> int:
        """Set ``values`` on destination rows in ``scope`` whose key is not staged (and that do not
        already have ``unless``) — deactivation."""
        ...

    def delete_replaced(self, owner_column: str, related_column: str, scope: Scope = ()) -> int:
        """Derived relations: delete destination rows (in ``scope``) whose owner is staged but
        whose (owner, related) pair is not (the owner's relations are replaced by the file's)."""
        ...

    def remember_keys(self, rows: Sequence[Sequence[Any]]) -> None:
        """Count these ``(source_row_number, *key values)`` as in the file without merging them
        (rows skipped for an error): removal of missing rows leaves their keys alone."""
        ...

    def add_members(self, members: Members) -> int:
        """Insert the (group, staged value) pairs ``members.table`` does not have yet."""
        ...

    def remove_missing_members(self, members: Members) -> int:
        """Delete the group's rows of ``members.table`` whose value is not staged."""
        ...


class BulkWriter(Protocol):
    """Bound to one open transaction."""

    dialect: str

    def read_schema(self, tables: Sequence[str] | None = None) -> ShopSchema:
        """The live schema of ``tables`` (all tables when None)."""
        ...

    def open_stage(self, spec: StageSpec) -> Stage: ...

    def default_shop(self) -> str | None: ...


class ShopDatabase(Protocol):
    def transaction(self) -> AbstractContextManager[BulkWriter]:
        """Commit when the block ends normally, roll back when it raises."""
        ...
