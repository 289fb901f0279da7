"""`make run`: the local stack's steps (emulator, moto server, database, the three jobs through
the real handlers and the S3-event path) leave every job's tables filled."""

from __future__ import annotations

import os
from pathlib import Path

import requests

from erpbridge_cli.local_stack import (
    FETCH_JOBS,
    local_stack,
    print_landed,
    rows_per_table,
    run_fetch_jobs,
    serve_console,
)


def test_the_local_stack_runs_the_three_jobs_through_the_handlers(tmp_path: Path) -> None:
    from erpbridge.settings import get_settings
    from erpbridge.shopdb import dispose_engines
    from erpbridge.wiring import batch as batch_wiring

    saved = dict(os.environ)
    try:
        with local_stack(state_dir=tmp_path, products=60, customers=6) as local:
            outcomes = run_fetch_jobs(local)
            counts = rows_per_table(local.database_url)
            print_landed(local)
            console = serve_console(local, port=0)  # it sees the runs in the (moto) runs table
            token = os.environ["ERPBRIDGE_ADMIN_TOKEN"]
            runs = requests.get(
                f"{console}/api/runs",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            ).json()["runs"]
    finally:
        import admin_routes

        admin_routes.use_admin(None)
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
        batch_wiring.batch_runtime.cache_clear()
        dispose_engines()
    assert [outcome["job"] for outcome in outcomes] == [
        "fetch-shop-data",
        "fetch-customer-data",
        "fetch-stock-level",
        "fetch-prices",
    ]
    assert {outcome["result"] for outcome in outcomes} == {"imported"}
    for table in (
        "EcomProducts",
        "EcomGroups",
        "EcomGroupProductRelation",
        "AccessUser",
        "EcomStockUnit",
        "EcomPrices",
    ):
        assert counts[table] > 0, table
    assert (tmp_path / "shop.db").exists()
    assert {run["job"] for run in runs} == set(FETCH_JOBS) and {r["status"] for r in runs} == {"succeeded"}
