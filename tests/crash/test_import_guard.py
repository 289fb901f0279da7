"""The import transaction's guard, in process: which imports exclude each other, the server limits
it sets (and that they end with the import), the setting and the template agreeing, and the batch
importer retrying a locked import instead of failing its file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa
from crash_support import JOB, mappings_dir, product_rows, template_resources

from erpbridge.errors import ConfigurationError, ImportLockedError, ShopDatabaseError
from erpbridge.protocol.tables import build_tables
from erpbridge.settings import Settings, load_settings
from erpbridge.shopdb import dispose_engines, engine_for, upgrade
from erpbridge.shopdb.import_guard import GuardedShopDatabase, ImportScope
from erpbridge.wiring.batch import runtime_from_settings


@pytest.fixture
def shop_url(database_url: str) -> Iterator[str]:
    upgrade(database_url)
    yield database_url
    dispose_engines()


def _guarded(url: str, scope: ImportScope, timeout_s: float = 300.0) -> GuardedShopDatabase:
    return GuardedShopDatabase(engine_for(url), scope, statement_timeout_s=timeout_s)


def _can_start(url: str, scope: ImportScope) -> bool:
    try:
        with _guarded(url, scope).transaction():
            return True
    except ImportLockedError:
        return False


WHOLE = ImportScope(JOB, whole_export=True)
PAGE_1 = ImportScope(JOB, whole_export=False, source="staging/crash-products/r1/page-0001.xml")
PAGE_2 = ImportScope(JOB, whole_export=False, source="staging/crash-products/r1/page-0002.xml")
OTHER_JOB = ImportScope("fetch-stock-level", whole_export=True)


def test_postgres_pages_of_a_run_import_side_by_side_but_a_job_or_a_page_never_twice(
    postgres_url: str,
) -> None:
    upgrade(postgres_url)
    try:
        with ExitStack() as held:
            held.enter_context(_guarded(postgres_url, PAGE_1).transaction())
            assert _can_start(postgres_url, PAGE_2)  # another page of the run
            assert _can_start(postgres_url, OTHER_JOB)
            assert not _can_start(postgres_url, PAGE_1)  # the same page again
            assert not _can_start(postgres_url, WHOLE)  # a whole export would remove rows
        with _guarded(postgres_url, WHOLE).transaction():
            assert not _can_start(postgres_url, PAGE_2)
            with pytest.raises(
                ImportLockedError, match=rf"another import of {JOB} is running \(database session pid \d+\)"
            ) as raised:
                _guarded(postgres_url, WHOLE).transaction().__enter__()
            assert raised.value.job == JOB and raised.value.holder_pid
        assert _can_start(postgres_url, WHOLE)  # the lock ended with the transaction
    finally:
        dispose_engines()


def test_sqlite_one_import_at_a_time(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    try:
        with _guarded(sqlite_url, PAGE_1).transaction():
            assert not _can_start(sqlite_url, OTHER_JOB)  # SQLite has one write lock
        assert _can_start(sqlite_url, OTHER_JOB)
    finally:
        dispose_engines()


def test_postgres_limits_hold_inside_the_import_only(postgres_url: str) -> None:
    upgrade(postgres_url)
    names = (
        "statement_timeout",
        "idle_in_transaction_session_timeout",
        "client_connection_check_interval",
        "tcp_keepalives_idle",
        "application_name",
    )
    query = sa.text("SELECT " + ", ".join(f"current_setting('{name}')" for name in names))
    try:
        with _guarded(postgres_url, WHOLE, timeout_s=42.5).transaction() as writer:
            inside = writer.connection.execute(query).one()  # type: ignore[attr-defined]
        with engine_for(postgres_url).connect() as connection:  # the same pooled connection, later
            after = connection.execute(query).one()
        with (
            pytest.raises(ShopDatabaseError, match="statement timeout"),
            _guarded(postgres_url, WHOLE, timeout_s=0.2).transaction() as writer,
        ):
            writer.connection.execute(sa.text("SELECT pg_sleep(5)"))  # type: ignore[attr-defined]
    finally:
        dispose_engines()
    assert tuple(inside) == ("42500ms", "42500ms", "2s", "30", f"erpbridge import {JOB}")
    assert after[0] == "0" and after[2] == "0" and after[4] != f"erpbridge import {JOB}"


def test_the_statement_timeout_stays_below_the_import_functions_timeout() -> None:
    function = template_resources()["ImportStagedFunction"]["Properties"]
    env = function["Environment"]["Variables"]
    configured = float(
        env.get(
            "ERPBRIDGE_IMPORT_STATEMENT_TIMEOUT_S",
            Settings.model_fields["import_statement_timeout_s"].default,
        )
    )
    assert configured < function["Timeout"]
    assert (
        load_settings(
            {"ERPBRIDGE_IMPORT_STATEMENT_TIMEOUT_S": "120"}, erp_auth="none"
        ).import_statement_timeout_s
        == 120
    )
    for wrong in ("900", "0", "-5", "soon"):
        with pytest.raises(ConfigurationError, match="ERPBRIDGE_IMPORT_STATEMENT_TIMEOUT_S"):
            load_settings({"ERPBRIDGE_IMPORT_STATEMENT_TIMEOUT_S": wrong}, erp_auth="none")


def test_a_locked_import_is_retried_later_not_failed(shop_url: str, tmp_path: Path) -> None:
    """The batch importer (local runtime): the file stays in staging/, its claim is released, and the
    delivery that comes after the other import ended imports it."""
    settings = load_settings(
        {"ERPBRIDGE_DATABASE_URL": shop_url, "ERPBRIDGE_STATE_DIR": str(tmp_path / "state")}, erp_auth="none"
    )
    runtime = runtime_from_settings(settings, mappings_dir=mappings_dir(tmp_path))
    store = runtime.store()
    key = f"staging/{JOB}/manual-locked/page-0001.xml"
    store.put_bytes(key, build_tables({"EcomProducts": [row for _, row in product_rows(0, 20, "v1")]}))
    with _guarded(shop_url, WHOLE).transaction(), pytest.raises(ImportLockedError):  # another import runs
        runtime.import_object(runtime.staging_bucket, key)
    assert [info.key for info in store.list_objects("staging/")] == [key]
    assert store.list_objects("failed/") == []
    outcome = runtime.import_object(runtime.staging_bucket, key)  # the retry
    assert str(outcome.result) == "imported" and outcome.counts.inserted == 20
