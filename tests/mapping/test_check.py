"""``check_mapping`` and the ``erpbridge mappings`` / ``erpbridge db`` commands."""

from __future__ import annotations

from pathlib import Path

from mapping_support import Shop
from typer.testing import CliRunner

from erpbridge.mapping.check import check_mapping
from erpbridge.mapping.jobfile import parse_job
from erpbridge.protocol.tables import build_tables
from erpbridge.shopdb.introspect import read_schema
from erpbridge_cli.main import app

JOB = """
id: demo
import:
  mappings:
    - source: Items
      destination: EcomProducts
      keys: [ProductNumber]
      columns:
        - {destination: ProductID, source: Id}
        - {destination: ProductLanguageID, constant: LANG1}
        - {destination: ProductColour, source: Colour}
        - {destination: ProductStock, constant: "lots"}
    - source: Items
      destination: EcomNoSuchTable
"""


def _sample(path: Path) -> Path:
    rows = [
        {"Id": "P1", "ProductNumber": "N1", "ProductPrice": "1.5", "Extra": "x"},
        {"Id": "P2", "ProductNumber": "N2", "ProductPrice": "cheap", "Extra": "y"},
    ]
    path.write_bytes(build_tables({"Items": rows, "Unmapped": [{"A": "1"}]}))
    return path


def test_check_lists_every_problem_at_once(shop: Shop, tmp_path: Path) -> None:
    problems = check_mapping(parse_job(JOB), read_schema(shop.engine), _sample(tmp_path / "sample.xml"))
    text = "\n".join(str(p) for p in problems)
    assert "ProductColour does not exist" in text  # unknown destination column
    assert "'lots'" in text  # a constant that is not a number
    assert "EcomNoSuchTable does not exist" in text  # unknown destination table
    assert "row 2 column ProductPrice value 'cheap'" in text  # a sample value that would not convert
    assert "Extra" in text  # a sample column nobody maps
    assert "Unmapped" in text  # a sample table nobody maps


def test_check_without_a_sample_trusts_automatic_mapping(shop: Shop) -> None:
    job = parse_job("id: ok\nimport:\n  mappings:\n    - {source: EcomProducts, destination: EcomProducts}\n")
    assert check_mapping(job, read_schema(shop.engine)) == []


def test_cli_db_upgrade_and_mappings_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"sqlite:///{tmp_path}/cli.db"
    result = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "applied m0001_shop_schema" in result.output
    again = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert again.exit_code == 0 and "already up to date" in again.output

    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "demo.yaml").write_text(JOB, encoding="utf-8")
    sample = _sample(tmp_path / "sample.xml")
    check = runner.invoke(
        app,
        [
            "mappings",
            "check",
            "demo",
            "--sample",
            str(sample),
            "--database-url",
            url,
            "--mappings",
            str(jobs),
        ],
    )
    assert check.exit_code == 1
    assert "EcomNoSuchTable" in check.output

    (jobs / "good.yaml").write_text(
        "id: good\nimport:\n  mappings:\n    - source: Items\n      destination: EcomProducts\n"
        "      columns:\n        - {destination: ProductID, source: Id}\n"
        "        - {destination: ProductLanguageID, constant: LANG1}\n",
        encoding="utf-8",
    )
    show = runner.invoke(
        app,
        ["mappings", "show", "good", "--sample", str(sample), "--database-url", url, "--mappings", str(jobs)],
        env={"COLUMNS": "200"},
    )
    assert show.exit_code == 0, show.output
    assert "matched by name" in show.output and "ProductPrice" in show.output
    assert "explicit" in show.output and "constant" in show.output
