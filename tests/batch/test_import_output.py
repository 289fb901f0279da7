"""`erpbridge import` says what it left out: warnings, rows skipped for errors, the shop scope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from test_cli import CUSTOMERS, app, local_env, runner  # noqa: F401 - fixtures

from erpbridge.protocol.tables import build_tables

STOCK_JOB = """
id: stock-list
fetch:
  request: <GetEcomData><tables><Stock type="all"/></tables></GetEcomData>
import:
  mappings:
    - {source: EcomProducts, destination: EcomProducts, on_row_error: skip_row}
"""


def test_import_prints_warnings_and_the_rows_it_left_out(app: Any, local_env: str, tmp_path: Path) -> None:  # noqa: F811
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "stock-list.yaml").write_text(STOCK_JOB)
    rows = [
        {"ProductID": "P1", "ProductLanguageID": "ENU", "ProductStock": "1", "ProductColour": "red"},
        {"ProductID": "P2", "ProductLanguageID": "ENU", "ProductStock": "lots", "ProductColour": "blue"},
    ]
    file = tmp_path / "stock.xml"
    file.write_bytes(build_tables({"EcomProducts": rows, "EcomGadgets": [{"GadgetID": "G1"}]}))
    result = runner.invoke(app, ["import", str(file), "--job", "stock-list", "--mappings", str(mappings)])
    assert result.exit_code == 0, result.output
    assert "warning: source table EcomGadgets: no mapping, 1 rows ignored" in result.output
    assert "source columns not mapped: ProductColour" in result.output
    assert "1 rows left out because of errors" in result.output
    assert "EcomProducts row 2 column ProductStock value 'lots': not a number" in result.output


def test_import_takes_the_shop_scope_from_a_param(app: Any, local_env: str, tmp_path: Path) -> None:  # noqa: F811
    file = tmp_path / "customers.xml"
    file.write_bytes(CUSTOMERS)
    result = runner.invoke(
        app, ["import", str(file), "--job", "fetch-customer-data", "--param", "shopID=SHOP2"]
    )
    assert result.exit_code == 0, result.output
    assert "(shop SHOP2)" in result.output
    engine = sa.create_engine(local_env)
    try:
        with engine.connect() as conn:
            shops = (
                conn.execute(sa.text('SELECT DISTINCT "AccessUserShopId" FROM "AccessUser"')).scalars().all()
            )
    finally:
        engine.dispose()
    assert shops == ["SHOP2"]
    unknown = runner.invoke(app, ["import", str(file), "--job", "fetch-customer-data", "--param", "shop=X"])
    assert unknown.exit_code == 1 and "unknown parameter 'shop'" in unknown.output
