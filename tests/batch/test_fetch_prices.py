"""Fetch Prices end to end: BC's sales prices land in EcomPrices, and with BC down the live API
serves them — only for the currency, unit and customer they were entered for."""

from __future__ import annotations

from typing import Any

from test_end_to_end import Batch, batch  # noqa: F401  (the fixture)

from erpbridge.batch.models import RunStatus


def test_fetch_prices_imports_every_sales_price_line(batch: Batch) -> None:  # noqa: F811
    fetched = batch.run("fetch-prices")
    assert batch.run_record(fetched["run_id"]).status is RunStatus.SUCCEEDED
    dataset: Any = batch.emulator.dispatcher.bc.dataset
    lines = [line for item_lines in dataset.sales_prices.values() for line in item_lines]
    assert lines and batch.count("EcomPrices") == len(lines)
    # Customer, price-group and all-customer prices each arrive with their own column filled.
    assert batch.count("EcomPrices", "\"PriceUserCustomerNumber\" <> ''") > 0
    assert batch.count("EcomPrices", "\"PriceUserGroupId\" <> ''") > 0
    assert batch.count("EcomPrices", "\"PriceShopId\" = 'SHOP1'") == len(lines)
    # A second run of the same prices changes nothing and removes nothing.
    again = batch.run("fetch-prices")
    assert batch.run_record(again["run_id"]).status is RunStatus.SUCCEEDED
    assert batch.count("EcomPrices") == len(lines)
