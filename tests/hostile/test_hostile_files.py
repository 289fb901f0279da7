"""Hostile staged files: every one gets a clear answer from ``erpbridge import`` (exit code and
message), the importer's peak RSS stays bounded whatever the file holds (measured in the child
process), and the shop database is left as it was (on SQLite, and on PostgreSQL where rows reach
the database before the verdict). The same holds for the importer Lambda's handler, which moves
the file to ``failed/`` with its report."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest

from erpbridge.adapters.sql.shop_importer import ShopDbImporter
from erpbridge.protocol.tables import build_tables
from erpbridge.shopdb import dispose_engines, upgrade

from .corpus import CASES, JOB, Case
from .support import ROOT, Corpus, case_params, child_env, database_snapshot, import_with_cli, run_child

# The importer's own footprint (interpreter, SQLAlchemy, lxml, the driver) is some 65 MB; what a
# file may add on top is bounded by the reader's limits (16 MiB or 100,000 elements per item).
RSS_LIMIT_MB = 150
# An answer is a few lines, whatever the file: a hostile value or name is never echoed whole.
OUTPUT_LIMIT = 8_000

SEED = [
    {"AccessUserExternalID": "S1", "AccessUserName": "Seeded one", "AccessUserCustomerNumber": "1"},
    {"AccessUserExternalID": "S2", "AccessUserName": "Seeded two", "AccessUserCustomerNumber": "2"},
]


def _seed(url: str) -> str:
    upgrade(url)
    importer = ShopDbImporter(url, mappings_dir=ROOT / "mappings")
    importer.import_file(JOB, io.BytesIO(build_tables({"AccessUser": SEED})), partial=True)
    dispose_engines()
    return url


@pytest.fixture(scope="session")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite shop database holding the two seeded users, copied by each test."""
    path = tmp_path_factory.mktemp("seeded") / "shop.db"
    _seed(f"sqlite:///{path}")
    return path


def _database(database: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if database == "sqlite":
        copy = tmp_path / "shop.db"
        shutil.copyfile(request.getfixturevalue("seeded_sqlite"), copy)
        return f"sqlite:///{copy}"
    return _seed(str(request.getfixturevalue("postgres_url")))


@pytest.mark.parametrize(("case", "database"), case_params())
def test_a_hostile_file_gets_a_clear_answer_in_bounded_memory_and_leaves_the_database_as_it_was(
    case: Case, database: str, corpus: Corpus, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = _database(database, request, tmp_path)
    before = database_snapshot(url)

    run = import_with_cli(corpus.file(case), url, tmp_path)

    assert run.exit_code == case.exit_code, run.output[-3000:]
    assert case.matches(run.output), run.output[-3000:]
    if case.exit_code:
        assert "nothing was written" in run.output
    assert len(run.output) < OUTPUT_LIMIT, run.output[:3000]
    assert run.peak_rss_mb < RSS_LIMIT_MB, f"peak RSS {run.peak_rss_mb:.0f} MB"
    after = database_snapshot(url)
    if case.imported:
        assert set(before["users"]) <= set(after["users"])  # type: ignore[call-overload]
        assert len(after["users"]) == len(SEED) + case.imported  # type: ignore[arg-type]
    else:
        assert after == before


HANDLER = """
import json, sys
from import_staged import lambda_handler

class Context:
    function_name = "erpbridge-import"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:erpbridge-import"
    aws_request_id = "hostile"

event = {
    "version": "0", "id": "hostile", "detail-type": "Object Created", "source": "aws.s3",
    "account": "123456789012", "time": "2026-11-26T02:03:10Z", "region": "eu-west-1", "resources": [],
    "detail": {"bucket": {"name": "local-staging"},
               "object": {"key": sys.argv[1], "size": 1, "etag": "hostile"}},
}
print("OUTCOME " + json.dumps(lambda_handler(event, Context())))
"""

HANDLER_CASES = [
    case for case in CASES if case.id in ("huge-attribute-400MB", "million-elements-in-one-item")
]


@pytest.mark.hostile_large
@pytest.mark.parametrize("database", ["sqlite", "postgres"])
@pytest.mark.parametrize("case", HANDLER_CASES, ids=[case.id for case in HANDLER_CASES])
def test_the_importer_lambda_moves_a_hostile_file_to_failed_with_its_report_in_bounded_memory(
    case: Case, database: str, corpus: Corpus, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = _database(database, request, tmp_path)
    before = database_snapshot(url)
    state = tmp_path / "state"
    key = f"staging/{JOB}/manual-hostile/page-0001.xml"
    staged = state / "objects" / "local-staging" / key
    staged.parent.mkdir(parents=True)
    os.link(corpus.file(case), staged)  # the object store refuses links that leave its folder

    run = run_child(["-c", HANDLER, key], child_env(url, state), tmp_path / "handler.log")

    assert run.exit_code == 0, run.output[-3000:]
    outcome = json.loads(run.output.split("OUTCOME ", 1)[1])
    assert outcome["result"] == "failed" and case.matches(outcome["error"]), outcome
    failed = state / "objects" / "local-staging" / f"failed/{JOB}/manual-hostile/page-0001.xml"
    assert failed.exists() and not staged.exists()
    report = json.loads(failed.with_name("page-0001.xml.error.json").read_text())
    assert report["error_type"] == "XmlSecurityError" and case.matches(report["message"])
    assert run.peak_rss_mb < RSS_LIMIT_MB, f"peak RSS {run.peak_rss_mb:.0f} MB"
    assert database_snapshot(url) == before
    failed.unlink()
