"""Job files: the YAML format, its validation messages and the committed JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from erpbridge.errors import ConfigurationError
from erpbridge.mapping.jobfile import job_schema_json, list_job_ids, load_job, parse_job
from erpbridge.mapping.model import NullAction, Operator, WriteMode

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "mappings"


def test_committed_json_schema_matches_the_model() -> None:
    committed = (MAPPINGS / "job.schema.json").read_text(encoding="utf-8")
    assert committed == job_schema_json(), "regenerate mappings/job.schema.json from the model"


def test_every_committed_job_file_is_valid() -> None:
    ids = list_job_ids(MAPPINGS)
    assert "fetch-stock-level" in ids
    for job_id in ids:
        assert load_job(job_id, MAPPINGS).id == job_id


def test_a_job_file_reads_into_the_model() -> None:
    job = parse_job(
        """
id: demo
import:
  shop: SHOP1
  mappings:
    - source: Items
      destination: EcomProducts
      mode: update-only
      conditions:
        - {column: Kind, operator: In, value: "a, 'b'"}
        - any:
            - {column: Stock, operator: GreaterThan, value: "0"}
            - {column: Name, operator: IsNullOrEmpty}
      columns:
        - {destination: ProductName, source: [First, Last], on_null: constant, null_value: "?"}
"""
    )
    assert job.import_ is not None
    mapping = job.import_.mappings[0]
    assert mapping.mode is WriteMode.UPDATE_ONLY
    assert mapping.columns[0].sources == ["First", "Last"]
    assert mapping.columns[0].on_null is NullAction.CONSTANT
    first = mapping.conditions[0]
    assert not hasattr(first, "any") and first.operator is Operator.IN  # type: ignore[union-attr]
    assert first.values() == ["a", "b"]  # type: ignore[union-attr]


def test_every_problem_in_a_job_file_is_named_at_once() -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_job(
            """
id: Bad Id
import:
  mappings:
    - source: A
      destination: B
      moed: upsert
      columns:
        - {destination: X, source: Y, constant: "1"}
""",
            where="bad.yaml",
        )
    message = str(caught.value)
    assert message.startswith("bad.yaml:")
    assert "id:" in message  # the bad id
    assert "moed" in message  # the typo is not ignored
    assert "either 'source' or 'constant'" in message


def test_a_job_file_must_be_named_after_its_id(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text("id: two\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="must equal the file name"):
        load_job("one", tmp_path)
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_job("missing", tmp_path)


BAD_FETCH = """
id: demo
fetch:
  request: <GetEcomData shopID="{shopID}"/>
  parameters: {shopID: SHOP1}
  max_pages: 0
  erp: {auth: kerberos}
"""


def test_a_bad_fetch_section_is_refused_when_the_job_file_is_read() -> None:
    # GIVEN a job file whose fetch section has a page limit below 1 and an unknown ERP auth
    # WHEN it is read THEN both problems are named, before anything runs
    with pytest.raises(ConfigurationError) as caught:
        parse_job(BAD_FETCH, where="demo.yaml")
    assert "fetch.max_pages" in str(caught.value)
    assert "fetch.erp.auth" in str(caught.value)


def test_the_json_schema_refuses_a_bad_fetch_section_when_an_editor_checks_it() -> None:
    import json

    import jsonschema
    import yaml

    # GIVEN the committed schema WHEN an editor (or CI) checks a job file with a bad fetch section
    validator = jsonschema.Draft202012Validator(
        json.loads((MAPPINGS / "job.schema.json").read_text(encoding="utf-8"))
    )

    def paths(errors: Any) -> set[str]:  # `fetch` may be null: its problems sit under anyOf
        return {
            found
            for error in errors
            for found in {".".join(map(str, error.absolute_path))} | paths(error.context or [])
        }

    problems = paths(validator.iter_errors(yaml.safe_load(BAD_FETCH)))
    # THEN it finds what the model finds; the committed job files pass
    assert {"fetch.max_pages", "fetch.erp.auth"} <= problems
    for path in MAPPINGS.glob("*.yaml"):
        assert list(validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))) == [], path
