"""The emulator without duplicate protection: every create commits a new sales order, GetList finds
them by the shop's order id, and the commit-then-hang fault creates the order, then never answers."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable

import pytest
import requests

from bc_emulator.faults import FaultSpec
from bc_emulator.server import Emulator
from bc_emulator.soap import read_response
from erpbridge.protocol.order_request import (
    OrderDocument,
    OrderHeader,
    OrderLine,
    build_order_request,
)
from erpbridge.protocol.request_builders import build_get_list
from erpbridge.protocol.response_parsers import parse_document_list, parse_order_response


def create(emulator: Emulator, order_id: str, *, timeout: float = 30.0) -> requests.Response:
    dataset = emulator.dispatcher.bc.dataset
    item = dataset.items[1]
    document = OrderDocument(
        header=OrderHeader(order_id=order_id, customer_number=dataset.customers[1].no),
        lines=[
            OrderLine(line_id="1", order_id=order_id, product_id=item.no, product_number=item.no, quantity=1)
        ],
    )
    return emulator.call(build_order_request(document, create=True), timeout=timeout)


def shop_ids(emulator: Emulator) -> list[str]:
    return sorted(o["shop_order_id"] for o in emulator.control.sales_orders())


def test_without_dedup_every_create_commits_a_new_sales_order(
    emulator_factory: Callable[..., Emulator],
) -> None:
    emulator = emulator_factory(auth="key", dedup=False)
    answers = [
        parse_order_response(read_response(create(emulator, "ND-1").content), create=True) for _ in "ab"
    ]
    assert answers[0].erp_order_id != answers[1].erp_order_id
    assert shop_ids(emulator) == ["ND-1", "ND-1"]
    assert emulator.control.counters()["erp.orders_duplicated"] == 1
    assert emulator.control.info()["dedup"] is False

    customer = emulator.dispatcher.bc.dataset.customers[1].no
    listing = parse_document_list(
        read_response(
            emulator.call(
                build_get_list(
                    "OpenOrder",
                    customer,
                    request_amount=10,
                    first_item=1,
                    search_field="ExternalDocumentNo",
                    search_value="ND-1",
                )
            ).content
        )
    )
    assert sorted(row["No"] or "" for row in listing.items) == sorted(a.erp_order_id or "" for a in answers)


def test_the_control_api_switches_dedup_and_reset_restores_the_start_mode(emulator: Emulator) -> None:
    assert emulator.control.mode() == {"dedup": True}
    create(emulator, "SW-1")
    create(emulator, "SW-1")
    assert shop_ids(emulator) == ["SW-1"]  # protected: the repeat answered the first order
    emulator.control.set_dedup(False)
    create(emulator, "SW-1")
    assert shop_ids(emulator) == ["SW-1", "SW-1"]
    emulator.control.reset()
    assert emulator.control.mode() == {"dedup": True}
    with pytest.raises(Exception, match="dedup"):
        emulator.control._call("PUT", "/mode", {"dedup": "no"})


def test_commit_then_hang_creates_the_order_and_the_client_times_out(emulator: Emulator) -> None:
    emulator.control.set_faults(commit_then_hang_rate=1.0, hang_s=5.0, kinds=["create_order"], times=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        create(emulator, "HANG-1", timeout=0.5)
    emulator.release_hanging()
    assert shop_ids(emulator) == ["HANG-1"]
    assert emulator.control.counters()["faults.commit_then_hang"] == 1


def test_commit_faults_share_one_draw_and_cannot_exceed_certainty() -> None:
    with pytest.raises(ValueError, match="must not exceed 1"):
        FaultSpec(commit_then_drop_rate=0.6, commit_then_hang_rate=0.5)
    from bc_emulator.faults import FaultInjector

    injector = FaultInjector(FaultSpec(seed=7, commit_then_drop_rate=0.3, commit_then_hang_rate=0.3))
    decisions = [injector.decide("create_order") for _ in range(400)]
    drops = sum(d.commit_then_drop for d in decisions)
    hangs = sum(d.commit_then_hang for d in decisions)
    assert not any(d.commit_then_drop and d.commit_then_hang for d in decisions)
    assert 80 < drops < 160 and 80 < hangs < 160
    # Adding the hang fault left the drop decisions of the same seed as they were.
    alone = FaultInjector(FaultSpec(seed=7, commit_then_drop_rate=0.3))
    assert [alone.decide("create_order").commit_then_drop for _ in range(400)] == [
        d.commit_then_drop for d in decisions
    ]


def test_the_cli_starts_an_emulator_without_dedup() -> None:
    command = [sys.executable, "-m", "erpbridge_cli.main", "emulator", "--port", "0", "--no-dedup"]
    command += ["--products", "30", "--customers", "3"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        printed = []
        for line in process.stdout:
            printed.append(line)
            if line.startswith("Ctrl+C"):
                break
        output = "".join(printed)
        control = re.search(r"control API\s+(\S+)", output)
        assert control and "no duplicate protection" in output, output
        assert requests.get(control.group(1) + "/mode", timeout=10).json() == {"dedup": False}
    finally:
        process.terminate()
        process.communicate(timeout=10)
