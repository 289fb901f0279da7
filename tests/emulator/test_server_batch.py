"""Batch requests over HTTP: paging with ExportIsDone, checkpoints per caller, shopID, streaming."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from bc_emulator.business_central import BATCH_FAMILIES
from bc_emulator.server import Emulator
from bc_emulator.soap import read_response
from erpbridge.protocol.tables import TablesDocument, parse_tables


@pytest.fixture
def small(emulator_factory: Callable[..., Emulator]) -> Emulator:
    return emulator_factory(auth="key", products=120, customers=8)


def fetch(emulator: Emulator, families: str = '<Products type="all"/>', **attributes: str) -> TablesDocument:
    attrs = "".join(f' {name}="{value}"' for name, value in attributes.items())
    response = emulator.call(f"<GetEcomData{attrs}><tables>{families}</tables></GetEcomData>")
    assert response.status_code == 200, response.text[:300]
    return parse_tables(read_response(response.content))


def test_without_page_size_everything_comes_at_once(small: Emulator) -> None:
    document = fetch(small)
    assert document.attributes["ExportIsDone"] == "true"
    assert len(document.items) == int(document.attributes["totalRows"])
    assert len(document.rows("EcomProducts")) >= 120


def test_pages_until_export_is_done_and_together_they_are_the_whole_export(small: Emulator) -> None:
    whole = fetch(small).items
    pages: list[TablesDocument] = []
    while True:
        page = fetch(small, customModifier="site-a", pageSize="100")
        pages.append(page)
        if page.export_is_done:
            break
        assert len(pages) < 100, "paging never ended"
    assert len(pages) == -(-len(whole) // 100)
    assert all(page.attributes["ExportIsDone"] == "false" for page in pages[:-1])
    assert [page.attributes["pageNumber"] for page in pages] == [str(n) for n in range(1, len(pages) + 1)]
    assert [item for page in pages for item in page.items] == whole


def test_each_caller_has_its_own_checkpoint(small: Emulator) -> None:
    first_a = fetch(small, customModifier="site-a", pageSize="50")
    second_a = fetch(small, customModifier="site-a", pageSize="50")
    first_b = fetch(small, customModifier="site-b", pageSize="50")
    assert first_b.items == first_a.items
    assert second_a.items != first_a.items
    checkpoints = small.control.checkpoints()
    assert {key.split("|")[0] for key in checkpoints} == {"site-a", "site-b"}


def test_a_finished_export_starts_again_unless_reimport_is_false(small: Emulator) -> None:
    total = int(fetch(small).attributes["totalRows"])
    first = fetch(small, customModifier="x", pageSize=str(total))
    assert first.export_is_done
    again = fetch(small, customModifier="x", pageSize=str(total))
    assert again.items == first.items
    fetch(small, customModifier="y", pageSize=str(total))
    nothing_new = fetch(small, customModifier="y", pageSize=str(total), reimport="false")
    assert nothing_new.export_is_done
    assert nothing_new.items == []


def test_a_lost_page_can_be_fetched_again_by_number_without_moving_the_checkpoint(small: Emulator) -> None:
    fetch(small, customModifier="c", pageSize="40")
    second = fetch(small, customModifier="c", pageSize="40")
    again = fetch(small, customModifier="c", pageSize="40", page="2")
    assert again.items == second.items
    third = fetch(small, customModifier="c", pageSize="40")
    assert third.attributes["pageNumber"] == "3"


def test_reset_forgets_checkpoints(small: Emulator) -> None:
    first = fetch(small, customModifier="r", pageSize="30")
    small.control.reset()
    assert fetch(small, customModifier="r", pageSize="30").items == first.items


def test_shop_id_is_reflected_in_the_shop_relations(small: Emulator) -> None:
    products = fetch(small, shopID="SHOP42").rows("EcomProducts")
    groups = fetch(small, '<ProductGroups type="all"/>', shopID="SHOP42").rows("EcomGroups")
    assert {row.get("ProductDefaultShopId") for row in products} == {"SHOP42"}
    assert any(row.get("Shops") == "SHOP42" for row in groups)


def test_set_language_limits_the_languages(small: Emulator) -> None:
    every = fetch(small, '<ProductGroups type="all"/>').rows("EcomGroups")
    one = fetch(small, '<ProductGroups type="all" setLanguage="ENU"/>').rows("EcomGroups")
    assert 0 < len(one) < len(every)


@pytest.mark.parametrize("families", [f for f in BATCH_FAMILIES if f != "Products"])  # Products: tests above
def test_each_family_can_be_fetched_alone_and_paged(small: Emulator, families: str) -> None:
    whole = fetch(small, f'<{families} type="all"/>')
    assert whole.items, families
    paged = []
    for _ in range(1000):
        page = fetch(small, f'<{families} type="all"/>', customModifier=families, pageSize="25")
        paged.extend(page.items)
        if page.export_is_done:
            break
    assert paged == whole.items


def test_erpbridge_client_streams_a_batch_answer(small: Emulator) -> None:
    from erpbridge.erp.client import SoapErpClient
    from erpbridge.settings import load_settings

    client = SoapErpClient(load_settings(env=small.settings_env()))
    sink = io.BytesIO()
    request = (
        b'<GetEcomData customModifier="stream" pageSize="100">'
        b'<tables><Products type="all"/></tables></GetEcomData>'
    )
    streamed = client.stream(request, sink)
    assert streamed.export_is_done is False
    document = parse_tables(sink.getvalue())
    assert len(document.items) == 100
