"""The documentation tells the truth about what it is generated from."""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from erpbridge_cli.settings_reference import PAGE, render


def test_the_settings_reference_matches_the_settings_models() -> None:
    assert PAGE.read_text() == render(), "docs/settings.md is stale: run `make docs`"


def test_every_setting_has_a_description() -> None:
    undescribed = [line.split("|")[1].strip() for line in render().splitlines() if line.endswith("|  |")]
    assert not undescribed, f"settings without a description: {undescribed}"


# --- every shell block of the docs is run here, or marked as illustrative ---------------------

ROOT = Path(__file__).resolve().parents[1]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
ILLUSTRATIVE = "<!-- illustrative -->"
# A block another test runs as written names that test: <!-- smoke-test: run by tests/x.py ... -->
RUN_ELSEWHERE = re.compile(r"^<!-- smoke-test: run by (tests/\S+\.py)\b")
SHELL_FENCE = re.compile(r"^\s*```(bash|sh|shell|console)\s*$")
COMMANDS = ("erpbridge", ".venv/bin/erpbridge")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    kind: str
    illustrative: bool
    text: str
    run_by: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    def commands(self) -> list[list[str]]:
        """The block's command lines (continuations joined, comments and prompts dropped)."""
        joined = self.text.replace("\\\n", " ")
        lines = []
        for raw in joined.splitlines():
            line = raw.strip()
            if self.kind == "console":
                if not line.startswith("$ "):
                    continue  # output
                line = line[2:]
            if line and not line.startswith("#"):
                lines.append(shlex.split(line, comments=True))
        return lines


def shell_blocks() -> list[Block]:
    blocks = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        number = 0
        while number < len(lines):
            fence = SHELL_FENCE.match(lines[number])
            if not fence:
                number += 1
                continue
            end = next(i for i in range(number + 1, len(lines)) if lines[i].strip().startswith("```"))
            before = lines[number - 1].strip() if number else ""
            run_by = RUN_ELSEWHERE.match(before)
            text = "\n".join(lines[number + 1 : end])
            blocks.append(
                Block(
                    page, number + 1, fence.group(1), before == ILLUSTRATIVE, text, run_by and run_by.group(1)
                )
            )
            number = end + 1
    return blocks


def _runnable(block: Block) -> bool:
    return all(command and command[0] in COMMANDS for command in block.commands())


def test_every_shell_block_is_run_or_marked_illustrative() -> None:
    blocks = shell_blocks()
    assert len(blocks) > 10  # the extraction finds the docs' blocks
    unmarked = [b.where for b in blocks if not (b.illustrative or b.run_by) and not _runnable(b)]
    missing = [f"{b.where}: {b.run_by}" for b in blocks if b.run_by and not (ROOT / b.run_by).exists()]
    assert not missing, f"blocks name tests that do not exist: {missing}"
    assert not unmarked, (
        f"shell blocks neither runnable (erpbridge commands only) nor marked {ILLUSTRATIVE} on the "
        f"line before: {unmarked}"
    )


RUNNABLE = [
    block for block in shell_blocks() if not (block.illustrative or block.run_by) and _runnable(block)
]


@pytest.mark.parametrize("block", RUNNABLE, ids=[block.where for block in RUNNABLE])
def test_the_runnable_shell_blocks_run(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each command of the block through the CLI, against a new project (the repository's job
    files, an empty state folder) and without ERP settings: exit code 0."""
    from typer.testing import CliRunner

    from erpbridge.settings import get_settings
    from erpbridge.shopdb import dispose_engines
    from erpbridge_cli.main import app

    project = tmp_path / "project"
    (project / "mappings").mkdir(parents=True)
    for job_file in (ROOT / "mappings").iterdir():
        (project / "mappings" / job_file.name).symlink_to(job_file)
    for name in list(os.environ):
        if name.startswith("ERPBRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ERPBRIDGE_HOME", str(project))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        for command in block.commands():
            result = runner.invoke(app, command[1:], env={"COLUMNS": "80"})
            assert result.exit_code == 0, f"{block.where}: {shlex.join(command)}\n{result.output}"
    finally:
        dispose_engines()
        get_settings.cache_clear()
