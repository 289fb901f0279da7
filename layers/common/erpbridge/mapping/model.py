"""The job file model: what a `mappings/<job-id>.yaml` file may say, validated by pydantic.

A job file has two halves. ``fetch`` (what to ask Business Central and when) belongs to the batch
jobs and is validated there; this module leaves it as a free-form mapping. ``import`` (how the
staged tables land in the shop database) is the mapping definition the engine applies; every key
of it is checked here, so a typo is an error rather than a silently ignored setting.

The names follow Dynamicweb's Data Integration (table mapping, column mapping, key columns,
"apply on create only", null actions, conditionals, remove missing rows) so an integrator who knows
that tool recognises them; see batch-integration-anchor §5.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from erpbridge.errors import ConfigurationError
from erpbridge.mapping.fetch_spec import FetchSpec

JOB_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WriteMode(StrEnum):
    """What happens to a staged row depending on whether its key exists in the destination."""

    UPSERT = "upsert"  # update existing rows, insert new ones
    INSERT_ONLY = "insert-only"  # only new keys are inserted; existing rows are left alone
    UPDATE_ONLY = "update-only"  # only existing rows are updated; new keys are skipped (counted)


class NullAction(StrEnum):
    """What to do when a source value is NULL (isNull="true" or the column is absent) or empty."""

    NONE = "none"  # text keeps "" and NULL as they are; other types store NULL
    DEFAULT = "default"  # the destination type's default: "" / 0 / False / 1900-01-01T00:00:00
    CONSTANT = "constant"  # the column mapping's null_value
    SKIP_ROW = "skip-row"  # the whole row is skipped (counted as skipped)


class Operator(StrEnum):
    """Conditional operators, named as Dynamicweb's ``ConditionalOperator`` (anchor §5.5)."""

    EQUAL_TO = "EqualTo"
    DIFFERENT_FROM = "DifferentFrom"
    LESS_THAN = "LessThan"
    GREATER_THAN = "GreaterThan"
    CONTAINS = "Contains"
    NOT_CONTAINS = "NotContains"
    IN = "In"
    NOT_IN = "NotIn"
    STARTS_WITH = "StartsWith"
    NOT_STARTS_WITH = "NotStartsWith"
    ENDS_WITH = "EndsWith"
    NOT_ENDS_WITH = "NotEndsWith"
    IS_NULL = "IsNull"
    IS_NULL_OR_EMPTY = "IsNullOrEmpty"
    IS_NOT_NULL = "IsNotNull"


class RowErrorAction(StrEnum):
    """What a row that cannot be imported (a value that does not fit, an empty key) does."""

    REJECT_FILE = "reject_file"  # the whole file is rolled back (default)
    SKIP_ROW = "skip_row"  # the row is left out and listed in the failed-rows report


class DuplicateAction(StrEnum):
    """What a key that appears more than once in one file does."""

    REJECT_FILE = "reject_file"  # the whole file is rolled back (default)
    KEEP_FIRST = "keep_first"  # the first row with the key is imported, later ones discarded
    KEEP_LAST = "keep_last"  # the last row with the key wins


VALUELESS_OPERATORS = frozenset({Operator.IS_NULL, Operator.IS_NULL_OR_EMPTY, Operator.IS_NOT_NULL})
LIST_OPERATORS = frozenset({Operator.IN, Operator.NOT_IN})


class Condition(_Strict):
    """One row filter on a *source* column. ``In``/``NotIn`` take a list (or a comma list)."""

    column: str = Field(min_length=1)
    operator: Operator = Operator.EQUAL_TO
    value: str | list[str] | None = None

    @model_validator(mode="after")
    def _value_fits_operator(self) -> Self:
        if self.operator in VALUELESS_OPERATORS:
            if self.value is not None:
                raise ValueError(f"operator {self.operator} takes no value")
        elif self.value is None:
            raise ValueError(f"operator {self.operator} needs a value")
        elif isinstance(self.value, list) and self.operator not in LIST_OPERATORS:
            raise ValueError(f"operator {self.operator} takes one value, not a list")
        return self

    def values(self) -> list[str]:
        """The comparison values; ``In``/``NotIn`` split a comma list and trim it."""
        if self.value is None:
            return []
        if isinstance(self.value, list):
            return self.value
        if self.operator in LIST_OPERATORS:
            return [part.strip().strip("'\"") for part in self.value.split(",")]
        return [self.value]


class ConditionGroup(_Strict):
    """Conditions joined by OR (``any``) or by AND (``all``). Groups and plain conditions in a
    mapping's ``conditions`` list are ANDed together, as Dynamicweb does since 2025."""

    any: list[Condition] | None = Field(default=None, min_length=1)
    all: list[Condition] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _exactly_one_joiner(self) -> Self:
        if (self.any is None) == (self.all is None):
            raise ValueError("a condition group has exactly one of 'any' (OR) or 'all' (AND)")
        return self

    @property
    def conditions(self) -> list[Condition]:
        return self.any if self.any is not None else (self.all or [])

    @property
    def is_or(self) -> bool:
        return self.any is not None


class Substring(_Strict):
    """Keep ``length`` characters from ``start`` (0-based); no length = to the end."""

    start: int = Field(default=0, ge=0)
    length: int | None = Field(default=None, ge=0)


class Lookup(_Strict):
    """Write another table's value instead of the source value: the row of ``table`` whose
    ``match`` column equals the source value gives ``value`` (e.g. the customer number BC sends
    → the user's ``AccessUserID``). Rows whose value finds no match are skipped and counted."""

    table: str = Field(min_length=1)
    match: str = Field(min_length=1)
    value: str = Field(min_length=1)


class ColumnMapping(_Strict):
    """One destination column and where its value comes from.

    ``source`` may be one column or a list (values are concatenated in order, as Dynamicweb does
    when several source columns map to one destination). With neither ``source`` nor ``constant``
    the source column has the destination's name — handy to mark an auto-matched column
    ``insert_only`` or give it a null action.
    """

    destination: str = Field(min_length=1)
    source: str | list[str] | None = None
    constant: str | None = Field(default=None, description="a fixed text value, converted like a source")
    prepend: str = ""
    append: str = ""
    substring: Substring | None = None
    insert_only: bool = Field(default=False, description="written when the row is inserted, never on update")
    on_null: NullAction = NullAction.NONE
    null_value: str | None = Field(default=None, description="the value used by on_null: constant")
    lookup: Lookup | None = Field(default=None, description="resolve the value through another table")
    active: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.constant is not None and self.source is not None:
            raise ValueError(f"column {self.destination}: give either 'source' or 'constant', not both")
        if (self.on_null == NullAction.CONSTANT) != (self.null_value is not None):
            raise ValueError(f"column {self.destination}: 'null_value' goes with on_null: constant (only)")
        if isinstance(self.source, list) and not self.source:
            raise ValueError(f"column {self.destination}: 'source' list is empty")
        return self

    @property
    def sources(self) -> list[str]:
        if self.constant is not None:
            return []
        if self.source is None:
            return [self.destination]
        return [self.source] if isinstance(self.source, str) else list(self.source)


class TableMapping(_Strict):
    """One source table (``item/@table`` in the staged XML) written to one destination table."""

    source: str = Field(min_length=1)
    destination: str = Field(min_length=1)
    active: bool = True
    auto_map: bool = Field(
        default=True,
        description="map every source column whose name matches a destination column (case-insensitive)",
    )
    ignore: list[str] = Field(default_factory=list, description="source columns never auto-mapped")
    columns: list[ColumnMapping] = Field(default_factory=list)
    keys: list[str] = Field(
        default_factory=list,
        description="destination columns that identify a row; empty = the table's primary key",
    )
    mode: WriteMode = WriteMode.UPSERT
    conditions: list[Condition | ConditionGroup] = Field(
        default_factory=list, description="source rows failing these are skipped; they also scope removals"
    )
    remove_missing: bool = Field(
        default=False, description="delete destination rows (in scope) whose key was not in the file"
    )
    deactivate_missing: bool = Field(
        default=False, description="EcomProducts: set ProductActive=False on products missing from the file"
    )
    hide_deactivated: bool = Field(default=False, description="with deactivate_missing: ProductHidden=True")
    min_share_for_removal: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="remove/deactivate only if the file staged at least this share of the rows in scope",
    )

    on_row_error: RowErrorAction = Field(
        default=RowErrorAction.REJECT_FILE,
        description="reject_file: a bad row rolls the file back; skip_row: bad rows are left out, reported",
    )
    max_skipped_share: float = Field(
        default=0.01,
        ge=0.0,
        le=1.0,
        description="with skip_row: no remove/deactivate when more than this share of the rows was skipped",
    )
    on_duplicate: DuplicateAction = Field(
        default=DuplicateAction.REJECT_FILE,
        description="reject_file, or keep_first / keep_last: discard the other rows with the key (counted)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        seen: set[str] = set()
        for column in self.columns:
            name = column.destination.lower()
            if name in seen and column.active:
                raise ValueError(f"{self.destination}: column {column.destination} is mapped twice")
            seen.add(name)
        if self.deactivate_missing and self.remove_missing:
            raise ValueError("choose remove_missing or deactivate_missing, not both")
        if self.hide_deactivated and not self.deactivate_missing:
            raise ValueError("hide_deactivated needs deactivate_missing")
        return self


class ImportDefinition(_Strict):
    """How a job's staged file is written to the shop database."""

    shop: str | None = Field(
        default=None,
        description="the import's shop scope: fills the shop column, confines relations and removals; "
        "'{shopID}' takes the run's parameter",
    )
    language: str | None = Field(
        default=None, description="fills empty language columns; '{language}' takes the run's parameter"
    )
    mappings: list[TableMapping] = Field(min_length=1)
    max_errors: int = Field(default=100, ge=1, description="stop collecting row errors after this many")
    batch_rows: int = Field(default=10_000, ge=1, le=1_000_000, description="rows per write batch")
    strict: bool = Field(
        default=False,
        description="a source table or column no mapping knows rejects the file (default: a warning)",
    )

    def placeholders(self) -> set[str]:
        """The run parameters ``shop``/``language`` name as ``{name}``."""
        return {name for text in (self.shop, self.language) if text for name in _PLACEHOLDER.findall(text)}

    def for_parameters(self, parameters: Mapping[str, str]) -> ImportDefinition:
        """This definition with ``{name}`` in ``shop``/``language`` replaced by the run's
        parameters: the scope of one run (``erpbridge jobs run … --param shopID=SHOP2``)."""
        if not self.placeholders():
            return self

        def fill(text: str | None) -> str | None:
            if text is None:
                return None

            def value(match: re.Match[str]) -> str:
                name = match.group(1)
                if name not in parameters:
                    raise ConfigurationError(f"import scope {text!r}: the run has no parameter {name!r}")
                return str(parameters[name])

            return _PLACEHOLDER.sub(value, text) or None

        return self.model_copy(update={"shop": fill(self.shop), "language": fill(self.language)})


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class JobDefinition(_Strict):
    """A whole job file, both halves validated here: ``fetch`` (request template, parameters,
    schedules, ERP override) and ``import``. A job without ``fetch`` is import-only; a job without
    ``import`` only talks to the ERP."""

    schema_: str | None = Field(default=None, alias="$schema", description="JSON Schema path (for editors)")
    id: str = Field(pattern=JOB_ID_PATTERN)
    description: str = ""
    long_running: bool = Field(
        default=False,
        description="runs longer than one Lambda: in AWS the schedule starts the Step Functions "
        "workflow (fetch page by page, import the pages, finalise) instead of the fetch function "
        "(docs/paged-runs.md)",
    )
    fetch: FetchSpec | None = None
    import_: ImportDefinition | None = Field(default=None, alias="import")

    @model_validator(mode="after")
    def _scope_names_parameters(self) -> Self:
        if self.import_ is None:
            return self
        known = self.default_parameters()
        unknown = sorted(self.import_.placeholders() - set(known))
        if unknown:
            raise ValueError(
                f"import shop/language name {', '.join(unknown)}, which fetch.parameters does not define"
            )
        return self

    def default_parameters(self) -> dict[str, str]:
        return dict(self.fetch.parameters) if self.fetch is not None else {}

    def import_for(self, parameters: Mapping[str, str] | None = None) -> ImportDefinition:
        """The import definition of one run: the job's default parameters overridden by the run's,
        filling ``{name}`` in ``import.shop``/``import.language``. Raises ConfigurationError when
        the job has no import section."""
        if self.import_ is None:
            raise ConfigurationError(f"job {self.id} has no import section: its files cannot be imported")
        return self.import_.for_parameters({**self.default_parameters(), **(parameters or {})})


def job_json_schema() -> dict[str, Any]:
    """The JSON Schema of a job file (committed as ``mappings/job.schema.json`` for editors/CI)."""
    schema = JobDefinition.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "erpbridge job"
    return schema
