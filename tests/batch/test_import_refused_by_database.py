"""A staged file whose values the shop database refuses (here: a price beyond NUMERIC(19, 4),
caught by PostgreSQL while COPYing into the stage) is bad input: it goes to ``failed/`` with its
report, instead of being retried until it is dead-lettered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from erpbridge.adapters.local.sqlite_batch_state import LocalBatchState
from erpbridge.adapters.local.staging import FolderStagingStore
from erpbridge.adapters.sql.shop_importer import ShopDbImporter
from erpbridge.batch.importer import ImportResult, import_staged_object
from erpbridge.protocol.tables import build_tables
from erpbridge.shopdb import dispose_engines, engine_for, upgrade


@pytest.fixture
def url(postgres_url: str) -> Iterator[str]:
    upgrade(postgres_url)
    yield postgres_url
    dispose_engines()


JOB = """\
id: price-list
import:
  mappings:
    - source: EcomPrices
      destination: EcomPrices
"""


def test_a_value_the_database_refuses_sends_the_file_to_failed_with_its_report(
    url: str, tmp_path: Path
) -> None:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "price-list.yaml").write_text(JOB)
    store = FolderStagingStore(tmp_path / "bucket")
    state = LocalBatchState.open(tmp_path / "state")
    key = "staging/price-list/manual-overflow/page-0001.xml"
    prices = [
        {"PriceID": "P1", "PriceAmount": "9.5"},
        {"PriceID": "P2", "PriceAmount": "1" + "0" * 20},  # 10^20
    ]
    store.put_bytes(key, build_tables({"EcomPrices": prices}))

    outcome = import_staged_object(
        store.bucket,
        key,
        store=store,
        runs=state.runs,
        claims=state.claims,
        importer=ShopDbImporter(url, mappings_dir=mappings),
    )

    assert outcome.result is ImportResult.FAILED, outcome
    assert (
        outcome.error and "ShopDatabaseError" in outcome.error and "numeric field overflow" in outcome.error
    )
    failed_key = "failed/price-list/manual-overflow/page-0001.xml"
    assert store.head(key) is None and store.head(failed_key) is not None
    with store.open_reader(failed_key + ".error.json") as report_file:
        assert json.load(report_file)["error_type"] == "ShopDatabaseError"
    with engine_for(url).connect() as connection:
        assert connection.execute(sa.text('SELECT count(*) FROM "EcomPrices"')).scalar_one() == 0
    record = state.runs.get("manual-overflow")
    assert record is not None and record.files_failed == 1
