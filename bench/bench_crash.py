"""Benchmark: what a killed import costs on PostgreSQL.

Imports a generated products file (``--rows``) with ``erpbridge import`` in a child process while
another session holds one of the rows the import must update, so the import's statement waits on
the server; then, like a Lambda timeout or an OOM kill:

* a second ``erpbridge import`` of the same file is started: how long until it gives up (with the
  import guard: at once, naming the first import's session; without: it queues, cut at --hold-s);
* the first import is SIGKILLed: how long its server session (and its locks) outlives it while the
  row stays locked (with the guard: ~client_connection_check_interval; without: until the row is
  released — cut at --hold-s).

    .venv/bin/python bench/bench_crash.py                  # 20,000 rows, hold 20 s
    .venv/bin/python bench/bench_crash.py --rows 5000 --hold-s 10

PostgreSQL: ``$ERPBRIDGE_BENCH_DATABASE_URL`` (default the test server on 127.0.0.1:5432); works in
its own schema ``erpbridge_bench_crash`` and drops it afterwards.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "common"))

import sqlalchemy as sa  # noqa: E402

SCHEMA = "erpbridge_bench_crash"
SERVER = os.environ.get("ERPBRIDGE_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
JOB = "bench-crash"
JOB_FILE = f"""
id: {JOB}
fetch:
  request: <GetEcomData><tables><Products type="all"/></tables></GetEcomData>
import:
  mappings:
    - source: EcomProducts
      destination: EcomProducts
"""


def _write(path: Path, rows: int, edition: str) -> None:
    from erpbridge.protocol.tables import iter_tables_xml

    def items():  # type: ignore[no-untyped-def]
        for n in range(rows):
            yield (
                "EcomProducts",
                {
                    "ProductID": f"P{n:07d}",
                    "ProductLanguageID": "ENU",
                    "ProductName": f"Product {n} {edition}",
                    "ProductShortDescription": "A mug. " * (10 + n % 30),
                },
            )

    with path.open("wb") as out:
        for chunk in iter_tables_xml(items(), root_attributes={"ExportIsDone": "true"}, cdata=True):
            out.write(chunk)


def _cli(path: Path, mappings: Path, url: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ERPBRIDGE_")}
    env["PYTHONPATH"] = os.pathsep.join(str(ROOT / p) for p in ("layers/common", "cli"))
    env["ERPBRIDGE_DATABASE_URL"] = url
    env["COLUMNS"] = "200"
    command = [sys.executable, "-m", "erpbridge_cli.main", "import", str(path), "--job", JOB]
    return subprocess.Popen(
        [*command, "--mappings", str(mappings)],
        env=env,
        cwd=path.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--hold-s", type=float, default=20.0, help="how long the row stays locked at most")
    args = parser.parse_args()

    from erpbridge.shopdb import dispose_engines, upgrade

    admin = sa.create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
    url = f"{SERVER}{'&' if '?' in SERVER else '?'}options=-csearch_path%3D{SCHEMA}"
    try:
        upgrade(url)
        dispose_engines()
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            (tmp / f"{JOB}.yaml").write_text(JOB_FILE)
            first, second = tmp / "v1.xml", tmp / "v2.xml"
            _write(first, args.rows, "v1")
            _write(second, args.rows, "v2")
            seeded = _cli(first, tmp, url)
            assert seeded.wait(timeout=600) == 0, seeded.communicate()[0]
            _measure(url, second, tmp, args.hold_s)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        admin.dispose()


def _measure(url: str, path: Path, mappings: Path, hold_s: float) -> None:
    engine = sa.create_engine(url)
    blocker = engine.connect()
    blocker.execute(sa.text('SELECT 1 FROM "EcomProducts" WHERE "ProductID" = \'P0000000\' FOR UPDATE'))
    blocker_pid = blocker.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    query = sa.text("SELECT pid FROM pg_stat_activity WHERE :blocker = ANY(pg_blocking_pids(pid))")
    first = _cli(path, mappings, url)
    deadline = time.monotonic() + 120
    waiting: list[int] = []
    while not waiting and time.monotonic() < deadline:
        with engine.connect() as monitor:
            waiting = list(monitor.execute(query, {"blocker": blocker_pid}).scalars())
        time.sleep(0.05)
    assert waiting, "the import never waited on the locked row"
    import_pid = waiting[0]

    started = time.monotonic()
    second = _cli(path, mappings, url)
    try:
        output, _ = second.communicate(timeout=hold_s)
        second_s = f"{time.monotonic() - started:.2f} s (exit {second.returncode})"
        text = " ".join(output.split())
        message = text[text.find("error:") :] if "error:" in text else text[-200:]
    except subprocess.TimeoutExpired:
        second.kill()
        second.communicate()
        second_s, message = f"> {hold_s:.0f} s (still queued, killed)", ""

    first.send_signal(signal.SIGKILL)
    first.communicate()
    killed = time.monotonic()
    alive = True
    while alive and time.monotonic() - killed < hold_s:
        with engine.connect() as monitor:
            alive = import_pid in monitor.execute(sa.text("SELECT pid FROM pg_stat_activity")).scalars().all()
        time.sleep(0.05)
    orphan_s = f"{time.monotonic() - killed:.2f} s" if not alive else f"> {hold_s:.0f} s (still there)"
    blocker.rollback()
    blocker.close()
    engine.dispose()
    print(f"second import of the same file gave up after: {second_s}")
    if message:
        print(f"  its message: {message}")
    print(f"killed import's server session outlived it by: {orphan_s}")


if __name__ == "__main__":
    main()
