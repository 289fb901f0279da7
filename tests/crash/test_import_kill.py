"""A killed import costs nothing: `erpbridge import` in a child process, SIGKILLed at several points
of its input, leaves every table as it was, leaves no server session behind on PostgreSQL, and
the re-run completes; a second import while one runs fails fast with a clear message."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from crash_support import (
    JOB,
    cli,
    digest,
    expected_products,
    import_command,
    kill_when_read,
    mappings_dir,
    products,
    wait_for,
    write_products,
)

from erpbridge.adapters.sql.shop_importer import ShopDbImporter
from erpbridge.shopdb import dispose_engines, upgrade
from erpbridge.shopdb.import_guard import application_name

ROWS = 4_000
SHIFT = ROWS // 4  # the second file drops the first quarter, updates the rest, adds a quarter


def _run(args: tuple[str, ...], database_url: str, cwd: Path, timeout_s: float = 60) -> tuple[int, str]:
    process = cli(*args, database_url=database_url, cwd=cwd)
    output, _ = process.communicate(timeout=timeout_s)
    return process.returncode, output


def _seed(database_url: str, mappings: Path, path: Path) -> None:
    """Migrate the shop database and import ``path`` in this process (quicker than a child)."""
    upgrade(database_url)
    with path.open("rb") as stream:
        ShopDbImporter(database_url, mappings_dir=mappings).import_file(JOB, stream, partial=False)
    dispose_engines()


def _backends(database_url: str) -> list[int]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(sa.text("SELECT pid FROM pg_stat_activity")).scalars())
    finally:
        engine.dispose()


def _sessions(database_url: str) -> list[int]:
    """Server sessions of an import of JOB (PostgreSQL), the test's own excluded."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            query = sa.text(
                "SELECT pid FROM pg_stat_activity WHERE application_name = :name AND pid <> pg_backend_pid()"
            )
            return list(connection.execute(query, {"name": application_name(JOB)}).scalars())
    finally:
        engine.dispose()


@pytest.fixture
def shop(database_url: str, tmp_path: Path) -> tuple[str, Path, Path, Path]:
    """A migrated shop database holding the first file; the second file, ready to import."""
    mappings = mappings_dir(tmp_path)
    _seed(database_url, mappings, write_products(tmp_path / "products-v1.xml", 0, ROWS, "v1"))
    second = write_products(tmp_path / "products-v2.xml", SHIFT, ROWS, "v2")
    return database_url, tmp_path, mappings, second


def test_an_import_killed_at_several_points_changes_nothing_and_the_rerun_completes(
    shop: tuple[str, Path, Path, Path],
) -> None:
    database_url, cwd, mappings, second = shop
    before = digest(database_url)
    assert products(database_url) == expected_products(0, ROWS, "v1")
    postgres = database_url.startswith("postgresql")
    for share in (0.2, 0.5, 0.75):
        process = cli(*import_command(second, mappings), database_url=database_url, cwd=cwd)
        kill_when_read(process, second, share)
        if postgres:  # the killed client's server session ends on its own, within seconds
            wait_for(lambda: not _sessions(database_url), timeout_s=10, what="the orphaned session to end")
        assert digest(database_url) == before, f"killed after {share:.0%}: the database changed"

    code, output = _run(import_command(second, mappings), database_url, cwd)
    assert code == 0, output
    assert products(database_url) == expected_products(SHIFT, ROWS, "v2")


def test_postgres_a_killed_import_stuck_on_a_lock_leaves_no_session_and_a_second_import_fails_fast(
    postgres_url: str, tmp_path: Path
) -> None:
    engine = sa.create_engine(postgres_url)
    with engine.connect() as connection:
        version = int(connection.execute(sa.text("SHOW server_version_num")).scalar_one())
    engine.dispose()
    if version < 140000:
        pytest.skip("a session notices its client is gone mid-statement from PostgreSQL 14 on")
    mappings = mappings_dir(tmp_path)
    _seed(postgres_url, mappings, write_products(tmp_path / "products-v1.xml", 0, ROWS, "v1"))
    second = write_products(tmp_path / "products-v2.xml", SHIFT, ROWS, "v2")
    before = digest(postgres_url)

    blocker_engine = sa.create_engine(postgres_url)
    blocker = blocker_engine.connect()
    try:
        # Someone holds a row the import must update: its statement waits on the server.
        blocker.execute(
            sa.text('SELECT 1 FROM "EcomProducts" WHERE "ProductID" = :id FOR UPDATE'),
            {"id": f"P{SHIFT:06d}"},
        )
        blocker_pid = blocker.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        process = cli(*import_command(second, mappings), database_url=postgres_url, cwd=tmp_path)

        def waiting_import() -> list[int]:
            assert process.poll() is None, process.communicate()[0]
            # Not on the blocker: pg_stat_activity is a snapshot per transaction.
            query = sa.text("SELECT pid FROM pg_stat_activity WHERE :blocker = ANY(pg_blocking_pids(pid))")
            with blocker_engine.connect() as monitor:
                return list(monitor.execute(query, {"blocker": blocker_pid}).scalars())

        stuck = wait_for(
            waiting_import, timeout_s=30, what="the import to wait on the row lock", every_s=0.05
        )
        assert isinstance(stuck, list)
        import_pid = stuck[0]

        # A second import of the job does not queue behind the first: it says who holds the job.
        started = time.monotonic()
        code, output = _run(import_command(second, mappings), postgres_url, tmp_path, timeout_s=20)
        assert code == 1, output
        assert f"another import of {JOB} is running (database session pid {import_pid})" in output
        assert "nothing was written" in output
        assert time.monotonic() - started < 10

        # Killed while its statement waits: the server session ends within seconds, although the
        # row it waits for is still locked (before, it waited for as long as the blocker held it).
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=10)
        wait_for(
            lambda: import_pid not in _backends(postgres_url),
            timeout_s=10,
            what="the orphaned session to end",
            every_s=0.1,
        )
        assert blocker.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() == blocker_pid  # still open
    finally:
        blocker.rollback()
        blocker.close()
        blocker_engine.dispose()

    assert digest(postgres_url) == before
    code, output = _run(import_command(second, mappings), postgres_url, tmp_path)
    assert code == 0, output
    assert products(postgres_url) == expected_products(SHIFT, ROWS, "v2")


def test_sqlite_an_import_while_another_writer_holds_the_database_fails_fast(
    sqlite_url: str, tmp_path: Path
) -> None:
    upgrade(sqlite_url)
    dispose_engines()
    mappings = mappings_dir(tmp_path)
    first = write_products(tmp_path / "products-v1.xml", 0, 2_000, "v1")
    path = sa.make_url(sqlite_url).database
    assert path
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another import (or any writer) in the middle of its work
        started = time.monotonic()
        try:
            code, output = _run(import_command(first, mappings), sqlite_url, tmp_path, timeout_s=20)
        except subprocess.TimeoutExpired:
            pytest.fail("the import queued behind the writer instead of failing fast")
        assert code == 1, output
        assert "ImportLockedError" in output and "write lock" in output
        assert time.monotonic() - started < 10
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    code, output = _run(import_command(first, mappings), sqlite_url, tmp_path)
    assert code == 0, output
    assert products(sqlite_url) == expected_products(0, 2_000, "v1")
