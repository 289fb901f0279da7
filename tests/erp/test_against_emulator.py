"""The client against the BC emulator (the other implementation of the same SOAP contract)."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from bc_emulator.server import Emulator
from erpbridge.erp.client import SoapErpClient
from erpbridge.erp.ports import RequestKind
from erpbridge.protocol.request_builders import ProductQuery, build_ping, build_product_info_request
from erpbridge.protocol.response_parsers import parse_product_info
from erpbridge.protocol.tables import parse_tables
from erpbridge.settings import load_settings


@pytest.mark.parametrize("auth", ["key", "basic", "oauth2"])
def test_each_auth_mode_gets_prices_from_the_emulator(
    emulator_factory: Callable[..., Emulator], auth: str
) -> None:
    emulator = emulator_factory(auth=auth)
    client = SoapErpClient(load_settings(env=emulator.settings_env()))
    assert client.ping() is True

    item = emulator.dispatcher.bc.dataset.items[0]
    request = build_product_info_request(
        [ProductQuery(product_id=item.no)], customer_number=None, anonymous_user_key="Anonymous"
    )
    answer = parse_product_info(
        client.call(request, kind=RequestKind.PRODUCT_INFO), anonymous_user_key="Anonymous"
    )
    assert [info.product_id for info in answer.values()] == [item.no]

    wrong = {**emulator.settings_env(), "ERPBRIDGE_ERP_SECURITY_KEY": "x", "ERPBRIDGE_ERP_PASSWORD": "x"}
    wrong["ERPBRIDGE_ERP_CLIENT_SECRET"] = "x"
    assert SoapErpClient(load_settings(env=wrong)).ping() is False


def test_wsdl_discovery_against_the_emulator(emulator: Emulator) -> None:
    env = {**emulator.settings_env(), "ERPBRIDGE_ERP_SOAP_DISCOVER_WSDL": "true"}
    client = SoapErpClient(load_settings(env=env))
    assert client.call(build_ping(), kind=RequestKind.PING) is not None


def test_stream_a_batch_page_from_the_emulator(emulator: Emulator) -> None:
    client = SoapErpClient(load_settings(env=emulator.settings_env()))
    sink = io.BytesIO()
    request = b'<GetEcomData pageSize="50"><tables><Products type="all"/></tables></GetEcomData>'
    streamed = client.stream(request, sink)
    document = parse_tables(sink.getvalue())
    assert streamed.bytes_written == len(sink.getvalue())
    assert streamed.export_is_done is document.export_is_done
    assert document.rows("EcomProducts")
