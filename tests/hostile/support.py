"""Running the importer on a hostile file in a child process, with its exit code, its output and
its peak RSS (``ru_maxrss`` of that child alone, from ``os.wait4``); the corpus's files; what
"the database is unchanged" compares."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from .corpus import CASES, JOB, Case, write

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120


@dataclass(frozen=True)
class ChildRun:
    exit_code: int
    output: str
    peak_rss_mb: float
    seconds: float


def child_env(database_url: str, state_dir: Path, *, code: Path = ROOT) -> dict[str, str]:
    """The child's environment: local mode, this database, the code of checkout ``code``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("ERPBRIDGE_") and not name.startswith("PYTEST")
    }
    env.update(
        ERPBRIDGE_DATABASE_URL=database_url,
        ERPBRIDGE_STATE_DIR=str(state_dir),
        ERPBRIDGE_MAPPINGS_DIR=str(ROOT / "mappings"),
        ERPBRIDGE_ERP_AUTH="none",  # the importer never calls the ERP
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_SERVICE_NAME="erpbridge",
        COLUMNS="250",
        PYTHONPATH=os.pathsep.join(str(code / part) for part in ("layers/common", "cli", "functions/batch")),
    )
    return env


# Runs ``-m module args…`` or ``-c code args…`` and, at exit, writes the process's own peak RSS
# (VmHWM, in KiB) to $HOSTILE_PEAK_FILE. ru_maxrss is no use on Linux: a child starts with the
# high-water mark of the parent it was forked from (a test runner of hundreds of MB).
_MEASURED = """
import atexit, os, runpy, sys
def _report():
    try:
        with open("/proc/self/status") as status:
            peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return
    with open(os.environ["HOSTILE_PEAK_FILE"], "w") as out:
        out.write(peak)
atexit.register(_report)
kind, target, *rest = sys.argv[1:]
if kind == "-m":
    sys.argv = [target, *rest]
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    sys.argv = ["-c", *rest]
    exec(compile(target, "<child>", "exec"), {"__name__": "__main__"})
"""


def run_child(args: list[str], env: dict[str, str], log: Path) -> ChildRun:
    """``python args…`` (``-m module …`` or ``-c code …``) to completion (killed after
    TIMEOUT_S), with the child's own peak RSS."""
    started = time.perf_counter()
    peak_file = log.with_suffix(".peak")
    peak_file.unlink(missing_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", _MEASURED, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**env, "HOSTILE_PEAK_FILE": str(peak_file)},
        )
        watchdog = threading.Timer(TIMEOUT_S, process.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
    if peak_file.exists():
        peak = int(peak_file.read_text()) / 1024
    else:  # no /proc (macOS) or killed: ru_maxrss, an upper bound (KiB on Linux, bytes on macOS)
        peak = usage.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else usage.ru_maxrss / 1024
    output = log.read_text(errors="replace")
    return ChildRun(process.returncode, output, peak, time.perf_counter() - started)


def import_with_cli(file: Path, database_url: str, work: Path, *, code: Path = ROOT) -> ChildRun:
    """``erpbridge import FILE --job fetch-customer-data`` in a child process running the code of
    checkout ``code`` (by default this one, whatever the virtual environment has installed)."""
    args = ["-m", "erpbridge_cli.main", "import", str(file), "--job", JOB]
    return run_child(args, child_env(database_url, work / "state", code=code), work / "cli.log")


def database_snapshot(url: str) -> dict[str, object]:
    """Every table's row count and the users themselves: what "unchanged" compares."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            names = sa.inspect(connection).get_table_names()
            counts = {
                name: connection.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()
                for name in names
            }
            users = connection.execute(
                sa.text('SELECT "AccessUserExternalID", "AccessUserName" FROM "AccessUser" ORDER BY 1')
            ).all()
    finally:
        engine.dispose()
    return {"counts": counts, "users": [tuple(row) for row in users]}


class Corpus:
    """Builds each case's file once per session, in one folder removed at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._built: dict[str, Path] = {}

    def file(self, case: Case) -> Path:
        path = self._built.get(case.id)
        if path is None:
            path = self._built[case.id] = write(self.folder / f"{case.id}.xml", case.build())
        return path

    def remove(self) -> None:
        for path in self._built.values():
            path.unlink(missing_ok=True)


def case_params() -> list[object]:
    """Every case on SQLite; those whose rows reach the database on PostgreSQL too."""
    params: list[object] = []
    for case in CASES:
        for database in ("sqlite", "postgres") if case.postgres else ("sqlite",):
            marks = [pytest.mark.hostile_large] if case.large else []
            params.append(pytest.param(case, database, id=f"{case.id}-{database}", marks=marks))
    return params
