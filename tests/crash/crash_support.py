"""Helpers of the kill tests: a generated products file, the real CLI in a child process, where that
child has got to in its input (read from /proc, so the code under test carries no test hook), and a
digest of every table of the shop database.

A module of its own, not conftest.py (see tests/batch/batch_support.py)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from erpbridge.protocol.tables import iter_tables_xml

ROOT = Path(__file__).resolve().parents[2]
JOB = "crash-products"
JOB_FILE = f"""
id: {JOB}
fetch:
  request: <GetEcomData><tables><Products type="all"/></tables></GetEcomData>
import:
  mappings:
    - source: EcomProducts
      destination: EcomProducts
      remove_missing: true
"""
PADDING = "Fjord-blue ceramic mug, hand glazed, dishwasher safe. " * 6


def template_resources() -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    return dict(yaml_parse((ROOT / "template.yaml").read_text())["Resources"])


def product_rows(first: int, count: int, edition: str) -> Iterator[tuple[str, dict[str, str | None]]]:
    for n in range(first, first + count):
        yield (
            "EcomProducts",
            {
                "ProductID": f"P{n:06d}",
                "ProductVariantID": "",
                "ProductLanguageID": "ENU",
                "ProductNumber": f"N{n:06d}",
                "ProductName": f"Product {n} {edition}",
                "ProductShortDescription": PADDING[: 80 + n % 200],
                "ProductPrice": f"{n % 500}.{len(edition):02d}",
                "ProductStock": str(n % 97),
            },
        )


def write_products(path: Path, first: int, count: int, edition: str) -> Path:
    with path.open("wb") as out:
        for chunk in iter_tables_xml(
            product_rows(first, count, edition), root_attributes={"ExportIsDone": "true"}, cdata=True
        ):
            out.write(chunk)
    return path


def mappings_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "mappings"
    folder.mkdir(exist_ok=True)
    (folder / f"{JOB}.yaml").write_text(JOB_FILE)
    return folder


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a CLI child: no AWS names (the local runtime), the repo on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ERPBRIDGE_")}
    paths = [str(ROOT / p) for p in ("layers/common", "functions/batch", "cli", "emulator")]
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["COLUMNS"] = "200"  # one line per message
    env.update(extra or {})
    return env


def cli(*args: str, database_url: str, cwd: Path, **options: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "erpbridge_cli.main", *args],
        env=child_env({"ERPBRIDGE_DATABASE_URL": database_url}),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **options,  # type: ignore[call-overload]
    )


def import_command(path: Path, mappings: Path) -> tuple[str, ...]:
    return ("import", str(path), "--job", JOB, "--mappings", str(mappings))


def read_position(pid: int, path: Path) -> int | None:
    """How far process ``pid`` has read ``path`` (its file offset), or None while it has not opened it."""
    target = str(path.resolve())
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    for line in Path(f"/proc/{pid}/fdinfo/{fd}").read_text().splitlines():
                        if line.startswith("pos:"):
                            return int(line.split()[1])
            except OSError:
                continue
    except OSError:
        return None
    return None


def wait_for(
    condition: Callable[[], object], *, timeout_s: float, what: str, every_s: float = 0.005
) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def kill_when_read(process: subprocess.Popen[str], path: Path, share: float) -> int:
    """SIGKILL ``process`` once it has read ``share`` of ``path``; returns the offset it had reached."""
    size = path.stat().st_size

    def reached() -> int | None:
        if process.poll() is not None:
            raise AssertionError(f"the import ended before {share:.0%} was read: {process.communicate()[0]}")
        position = read_position(process.pid, path)
        return position if position is not None and position >= size * share else None

    position = int(str(wait_for(reached, timeout_s=60, what=f"{share:.0%} of {path.name} read")))
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL
    return position


def digest(database_url: str) -> dict[str, str]:
    """A hash of every row of every table (the schema the URL points at)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            metadata = sa.MetaData()
            metadata.reflect(connection)  # every table at once (one query per kind on PostgreSQL)
            hashes = {}
            for name, table in sorted(metadata.tables.items()):
                rows = sorted(repr(tuple(row)) for row in connection.execute(sa.select(table)))
                hashes[name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
            return hashes
    finally:
        engine.dispose()


def products(database_url: str) -> set[tuple[str, str]]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            query = sa.text('SELECT "ProductID", "ProductName" FROM "EcomProducts"')
            return {(str(a), str(b)) for a, b in connection.execute(query)}
    finally:
        engine.dispose()


def expected_products(first: int, count: int, edition: str) -> set[tuple[str, str]]:
    return {
        (str(row["ProductID"]), str(row["ProductName"])) for _, row in product_rows(first, count, edition)
    }
