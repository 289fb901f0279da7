"""No step of an import grows with the square of the file.

The shipped jobs import emulator exports of 1,000 and of 10,000 products (variants, two languages,
groups, customers with addresses, stock per location) into fresh databases: first import,
re-import with 5 % of the products gone (deactivation), customers twice, stock. Every statement's
work is *counted*, not timed, so the test is steady on a busy machine:

* SQLite: virtual-machine instructions (``sqlite3`` progress handler) while the statement runs;
* PostgreSQL: rows produced and rows filtered out by every node of the statement's plan
  (``EXPLAIN ANALYZE`` of the same statement with the same parameters, in a savepoint rolled
  back before the statement itself runs).

10x the rows may cost ~10-13x the work (a B-tree adds a log factor); a step that scans the stage
or the destination once per row (a nested loop over an unindexed stage, a lookup that walks the
table) costs ~100x and more and fails here, named. Small write batches (500 rows) put 20 batches
into the larger file, so a statement that goes wrong only once the destination has grown shows.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bc_emulator.exports import FILE_NAMES, JOBS, write_exports
from erpbridge.batch.staged_file import import_staged_file
from erpbridge.mapping.jobfile import load_job
from erpbridge.mapping.model import JobDefinition
from erpbridge.shopdb import dispose_engines, engine_for, upgrade

ROOT = Path(__file__).resolve().parents[2]
SMALL, LARGE = 1_000, 10_000
BATCH_ROWS = 500
STEPS = ("shop", "shop_gone", "customers", "customers", "stock")
TOTAL_BOUND = 20.0  # linear: ~10x
# Per statement. Linear: ~10-18x (the generated data is not exactly 10x in every table); a batch
# that scans the destination because the planner finds that cheaper while it is small: up to
# ~45x; a scan per row: ~100x and more (4,000x for the lookup that walked the user table).
STEP_BOUND = 50.0
STEP_SHARE = 0.05  # statements below 5 % of the large run's work are judged only in the total


def _shape(statement: str) -> str:
    text = re.sub(r"erpbridge_(stage|pending)_\d+", r"<\1>", " ".join(statement.split()))
    return text[:160]


def _plan_work(node: dict[str, Any]) -> float:
    loops = float(node.get("Actual Loops", 1))
    rows = float(node.get("Actual Rows", 0))
    removed = sum(float(node.get(k, 0)) for k in ("Rows Removed by Filter", "Rows Removed by Join Filter"))
    return (rows + removed) * loops + sum(_plan_work(child) for child in node.get("Plans", ()))


class WorkMeter:
    """Work per statement shape while installed on an engine (see the module docstring)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.work: Counter[str] = Counter()
        self._ticks = 0
        self._hooked: set[int] = set()

    def _tick(self) -> int:
        self._ticks += 1
        return 0  # 0: go on

    def _before(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if self.engine.dialect.name == "sqlite":
            raw = cursor.connection
            if id(raw) not in self._hooked:
                raw.set_progress_handler(self._tick, 100)
                self._hooked.add(id(raw))
            conn.info["meter_ticks"] = self._ticks
            return
        if (
            many
            or not re.match(r"\s*(INSERT|UPDATE|DELETE|SELECT|WITH)\b", statement)
            or "pg_catalog" in statement
        ):
            return
        explain = cursor.connection.cursor()
        try:
            explain.execute("SAVEPOINT erpbridge_meter")
            explain.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters or None)
            plan = explain.fetchone()[0]
            explain.execute("ROLLBACK TO SAVEPOINT erpbridge_meter")
            explain.execute("RELEASE SAVEPOINT erpbridge_meter")
        finally:
            explain.close()
        if isinstance(plan, str):
            plan = json.loads(plan)
        self.work[_shape(statement)] += _plan_work(plan[0]["Plan"])

    def _after(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if self.engine.dialect.name == "sqlite" and "meter_ticks" in conn.info:
            self.work[_shape(statement)] += (self._ticks - conn.info.pop("meter_ticks")) * 100

    def __enter__(self) -> WorkMeter:
        sa.event.listen(self.engine, "before_cursor_execute", self._before)
        sa.event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        sa.event.remove(self.engine, "after_cursor_execute", self._after)


def _job(kind: str) -> JobDefinition:
    job = load_job(JOBS[kind], ROOT / "mappings")
    assert job.import_ is not None
    return job.model_copy(update={"import_": job.import_.model_copy(update={"batch_rows": BATCH_ROWS})})


def _import_all(url: str, exports: Path) -> tuple[Counter[str], dict[str, int]]:
    upgrade(url)
    deactivated: dict[str, int] = {}
    with WorkMeter(engine_for(url)) as meter:
        for kind in STEPS:
            with (exports / FILE_NAMES[kind]).open("rb") as stream:
                report = import_staged_file(_job(kind), stream, url)
            report.raise_for_errors()
            deactivated[kind] = report.totals().deactivated
    dispose_engines()
    return meter.work, deactivated


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes empty databases of one kind (a file each, or a schema each)."""
    schemas: list[str] = []
    server = "" if request.param == "sqlite" else str(request.getfixturevalue("postgres_server_url"))

    def make() -> str:
        if not server:
            return f"sqlite:///{tmp_path}/shop-{len(list(tmp_path.glob('shop-*.db')))}.db"
        schema = f"t_{uuid.uuid4().hex[:12]}"
        schemas.append(schema)
        with sa.create_engine(server, isolation_level="AUTOCOMMIT").connect() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in server else "?"
        return f"{server}{separator}options=-csearch_path%3D{schema}"

    yield make
    if schemas:
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for schema in schemas:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folders = {}
    for size in (SMALL, LARGE):
        folders[size] = tmp_path_factory.mktemp(f"exports-{size}")
        write_exports(folders[size], size)
    return folders


def test_every_statement_of_the_shipped_jobs_grows_linearly(
    fresh_database: Callable[[], str], exports: dict[int, Path]
) -> None:
    small, small_deactivated = _import_all(fresh_database(), exports[SMALL])
    large, large_deactivated = _import_all(fresh_database(), exports[LARGE])

    # The runs did the work users see: 5 % of the products were deactivated.
    assert large_deactivated["shop_gone"] > 9 * small_deactivated["shop_gone"] > 0

    total_small, total_large = sum(small.values()), sum(large.values())
    ratios = sorted(
        ((large[shape] / max(small.get(shape, 0), 1.0), shape) for shape in large),
        reverse=True,
    )
    judged = [(ratio, shape) for ratio, shape in ratios if large[shape] >= STEP_SHARE * total_large]
    worst = "\n".join(f"  {ratio:8.1f}x  {large[shape]:>14,.0f}  {shape}" for ratio, shape in judged[:8])
    assert total_large / total_small <= TOTAL_BOUND, (
        f"10x the rows cost {total_large / total_small:.1f}x the work; steepest statements:\n{worst}"
    )
    too_steep = [(ratio, shape) for ratio, shape in judged if ratio > STEP_BOUND]
    assert not too_steep, f"statements whose work grows faster than the file (10x rows):\n{worst}"
